// The Snapshot API through the real API server (aggregation layer), over real restic repositories:
// kubectl and client-node see exactly what `restic snapshots --json` says.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "node:https";
import { load } from "js-yaml";
import { ApiError, type Kube, type KubeList, type KubeObject } from "../lib/kube/client.ts";
import type { Snapshot } from "./snapshot-object.ts";
import { testOperator, stopTestOperator, type TestOperator } from "../testing/operator-server.ts";
import { stopControlPlane } from "../testing/cluster.ts";
import { eventually } from "../testing/eventually.ts";
import { freshBucket, sharedRestServer, stopSharedServices } from "../testing/services.ts";

const PASSWORD = "correct horse battery staple";
const BASE = "/apis/repositories.stash.appscode.com/v1alpha1";
const work = mkdtempSync(join(tmpdir(), "restash-snapapi-"));

after(async () => {
  await stopTestOperator();
  await stopControlPlane();
  await stopSharedServices();
  rmSync(work, { recursive: true, force: true });
});

// Child processes run asynchronously: the operator server answers in this same process, so a
// synchronous spawn would block it while kubectl waits for it.
function run(bin: string, args: string[], env?: Record<string, string | undefined>): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { env: env ?? process.env, encoding: "utf8", maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ status: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

async function restic(repoDir: string, args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
  const out = await run("restic", args, { PATH: process.env.PATH, HOME: process.env.HOME, RESTIC_REPOSITORY: repoDir, RESTIC_PASSWORD: PASSWORD, ...extraEnv });
  if (out.status !== 0) throw new Error(`restic ${args.join(" ")}: ${out.stderr}`);
  return out.stdout;
}

async function backup(repoDir: string, host: string, content: string, env: Record<string, string> = {}): Promise<void> {
  const data = join(work, `data-${host}`);
  mkdirSync(data, { recursive: true });
  writeFileSync(join(data, "file.txt"), content);
  await restic(repoDir, ["backup", "--host", host, "--no-cache", "--quiet", data], env);
}

const resticSnapshots = async (repoDir: string, env: Record<string, string> = {}) =>
  JSON.parse(await restic(repoDir, ["snapshots", "--json", "--no-lock", "--no-cache"], env)) as any[];

async function localRepository(kube: Kube, ns: string, name: string, labels: Record<string, string> = {}): Promise<string> {
  const dir = join(work, `${ns}-${name}`);
  await restic(dir, ["init"]);
  await kube.apply({ apiVersion: "v1", kind: "Secret", metadata: { name: `${name}-secret`, namespace: ns }, stringData: { RESTIC_PASSWORD: PASSWORD } });
  await kube.create({
    apiVersion: "stash.appscode.com/v1alpha1",
    kind: "Repository",
    metadata: { name, namespace: ns, labels },
    spec: { backend: { storageSecretName: `${name}-secret`, local: { mountPath: dir, hostPath: { path: dir } } } },
  });
  return dir;
}

const kubectl = (kubeconfig: string, args: string[]) => run("kubectl", ["--kubeconfig", kubeconfig, ...args]);

let op: TestOperator;
let ns: string;
let repoA: string;
let repoB: string;

before(async () => {
  op = await testOperator();
  ns = await op.namespace("snap");
  repoA = await localRepository(op.kube, ns, "repo-a", { team: "blue" });
  repoB = await localRepository(op.kube, ns, "repo-b");
  await backup(repoA, "host-0", "one");
  await backup(repoA, "host-0", "two");
  await backup(repoA, "host-1", "three");
  await backup(repoB, "host-0", "four");
});

const expectedNames = async (repo: string, dir: string, env: Record<string, string> = {}) =>
  (await resticSnapshots(dir, env)).map((s) => `${repo}-${s.id.slice(0, 8)}`);

test("kubectl lists exactly the snapshots restic has, named <repository>-<short id>", async () => {
  const r = await kubectl(op.cp.kubeconfig, ["get", "snapshots", "-n", ns, "-o", "json"]);
  assert.equal(r.status, 0, r.stderr);
  const items = JSON.parse(r.stdout).items as Snapshot[];
  const want = [...(await expectedNames("repo-a", repoA)), ...(await expectedNames("repo-b", repoB))].sort();
  assert.deepEqual(items.map((i) => i.metadata.name).sort(), want);
  const byId = new Map((await resticSnapshots(repoA)).map((s) => [s.id, s]));
  for (const item of items.filter((i) => i.status.repository === "repo-a")) {
    const s = byId.get(String(item.metadata.uid))!;
    assert.ok(s, `uid ${item.metadata.uid} is a restic snapshot id`);
    assert.equal(item.status.hostname, s.hostname);
    assert.deepEqual(item.status.paths, s.paths);
    assert.equal(item.status.tree, s.tree);
    assert.equal(item.metadata.creationTimestamp, new Date(s.time).toISOString().replace(/\.\d{3}Z$/, "Z"));
    assert.deepEqual(item.metadata.labels, { team: "blue", repository: "repo-a", hostname: s.hostname });
  }
});

test("kubectl get snapshots prints Stash's columns and the size", async () => {
  const r = await kubectl(op.cp.kubeconfig, ["get", "snapshots", "-n", ns]);
  assert.equal(r.status, 0, r.stderr);
  const [header, ...rows] = r.stdout.trim().split("\n");
  assert.deepEqual(header.split(/\s+/), ["NAME", "ID", "REPOSITORY", "HOSTNAME", "CREATED", "PATHS", "SIZE"]);
  assert.equal(rows.length, 4);
  const first = (await expectedNames("repo-a", repoA))[0];
  const row = rows.find((l) => l.startsWith(first + " "))!;
  assert.match(row, new RegExp(`^${first}\\s+${first.slice(-8)}\\s+repo-a\\s+host-0\\s+\\d{4}-\\d\\d-\\d\\dT\\S+Z\\s+\\S*data-host-0\\s+3 B$`));
});

test("label selectors on repository and hostname work alone and combined", async () => {
  const list = async (labelSelector: string) =>
    ((await op.kube.request<KubeList>(`${BASE}/namespaces/${ns}/snapshots`, { query: { labelSelector } })).items as KubeObject[])
      .map((i) => i.metadata.name)
      .sort();
  const a = await expectedNames("repo-a", repoA);
  const hostOf = new Map((await resticSnapshots(repoA)).map((s) => [`repo-a-${s.id.slice(0, 8)}`, s.hostname]));
  assert.deepEqual(await list("repository=repo-a"), [...a].sort());
  assert.deepEqual(
    await list("hostname=host-1"),
    a.filter((n) => hostOf.get(n) === "host-1"),
  );
  assert.deepEqual(await list("repository=repo-a,hostname=host-0"), a.filter((n) => hostOf.get(n) === "host-0").sort());
  assert.deepEqual(await list("repository=repo-b,hostname=host-1"), []);
  assert.deepEqual(
    await list("repository in (repo-a,repo-b),team=blue,hostname!=host-0"),
    a.filter((n) => hostOf.get(n) === "host-1"),
  );
});

test("kubectl get snapshot -o yaml shows one Snapshot", async () => {
  const name = (await expectedNames("repo-b", repoB))[0];
  const r = await kubectl(op.cp.kubeconfig, ["get", "snapshot", name, "-n", ns, "-o", "yaml"]);
  assert.equal(r.status, 0, r.stderr);
  const obj = load(r.stdout) as KubeObject;
  const s = (await resticSnapshots(repoB))[0];
  assert.equal(obj.apiVersion, "repositories.stash.appscode.com/v1alpha1");
  assert.equal(obj.kind, "Snapshot");
  assert.equal(obj.metadata.name, name);
  assert.equal(obj.metadata.uid, s.id);
  assert.deepEqual(obj.status, {
    tree: s.tree,
    paths: s.paths,
    hostname: "host-0",
    username: s.username,
    uid: s.uid ?? 0,
    gid: s.gid ?? 0,
    repository: "repo-b",
  });
});

test("an unknown snapshot is a 404 Kubernetes Status", async () => {
  for (const name of ["repo-a-00000000", "not-a-snapshot-name", "missing-repo-12345678"]) {
    await assert.rejects(op.kube.request(`${BASE}/namespaces/${ns}/snapshots/${name}`), (e: unknown) => {
      assert.ok(e instanceof ApiError);
      assert.equal(e.code, 404);
      assert.equal(e.body.kind, "Status");
      assert.equal(e.body.reason, "NotFound");
      assert.equal(e.body.message, `snapshots.repositories.stash.appscode.com "${name}" not found`);
      return true;
    });
  }
});

test("kubectl delete snapshot forgets it in restic, and a new backup shows up after invalidate", async () => {
  const [victim, ...rest] = await expectedNames("repo-a", repoA);
  const r = await kubectl(op.cp.kubeconfig, ["delete", "snapshot", victim, "-n", ns]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`snapshot.repositories.stash.appscode.com "${victim}" deleted`));
  assert.deepEqual(await expectedNames("repo-a", repoA), rest, "gone from restic");
  const listed = async () =>
    JSON.parse((await kubectl(op.cp.kubeconfig, ["get", "snapshots", "-n", ns, "-l", "repository=repo-a", "-o", "json"])).stdout)
      .items.map((i: KubeObject) => i.metadata.name)
      .sort();
  assert.deepEqual(await listed(), [...rest].sort(), "gone from the API");

  await backup(repoA, "host-2", "five");
  op.server.invalidate(ns, "repo-a");
  assert.deepEqual(await listed(), [...(await expectedNames("repo-a", repoA))].sort(), "the new snapshot is listed");
});

test("a rotated storage Secret reaches the index without invalidate: the new password's snapshots show, a wrong one is a 503", async () => {
  const rotated = await op.namespace("snap-rotate");
  const dir = await localRepository(op.kube, rotated, "repo");
  await backup(dir, "host-0", "before rotation");
  const listed = async () =>
    ((await op.kube.request<KubeList>(`${BASE}/namespaces/${rotated}/snapshots`)).items as KubeObject[]).map((i) => i.metadata.name).sort();
  assert.deepEqual(await listed(), (await expectedNames("repo", dir)).sort(), "the index holds the listing made with the old password");

  // The password is rotated in restic (the old one stops working) and a backup is made with the
  // new one; nothing on the Repository changes, so only the Secret can tell the index.
  const NEW = "a rotated password";
  const newPasswordFile = join(work, "new-password");
  writeFileSync(newPasswordFile, NEW);
  await restic(dir, ["key", "passwd", "--new-password-file", newPasswordFile, "--no-cache"]);
  await backup(dir, "host-1", "after rotation", { RESTIC_PASSWORD: NEW });
  const want = (await expectedNames("repo", dir, { RESTIC_PASSWORD: NEW })).sort();
  assert.equal(want.length, 2);
  await op.kube.apply({ apiVersion: "v1", kind: "Secret", metadata: { name: "repo-secret", namespace: rotated }, stringData: { RESTIC_PASSWORD: NEW } });
  assert.deepEqual(
    await eventually("the listing made with the rotated password", async () => {
      const names = await listed();
      return names.length === 2 && names;
    }),
    want,
  );

  await op.kube.apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "repo-secret", namespace: rotated },
    stringData: { RESTIC_PASSWORD: "not-the-password" },
  });
  const failure = await eventually("a 503 for the wrong password", () =>
    op.kube.request(`${BASE}/namespaces/${rotated}/snapshots`).then(
      () => undefined,
      (e: unknown) => (e instanceof ApiError && e.code === 503 ? e : undefined),
    ),
  );
  assert.match(failure.body.message, new RegExp(`Repository ${rotated}/repo: .*wrong password`));
  assert.doesNotMatch(failure.body.message, /not-the-password|a rotated password/);
});

test("RBAC on snapshots holds: no role is refused, a reader may list but not delete", async () => {
  const eve = await op.cp.kubeconfigFor("eve");
  const denied = await kubectl(eve, ["get", "snapshots", "-n", ns]);
  assert.notEqual(denied.status, 0);
  assert.match(denied.stderr, /forbidden: User "eve" cannot list resource "snapshots" in API group "repositories.stash.appscode.com"/);

  await op.kube.apply({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: "snapshot-reader", namespace: ns },
    rules: [{ apiGroups: ["repositories.stash.appscode.com"], resources: ["snapshots"], verbs: ["get", "list"] }],
  });
  await op.kube.apply({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: "reader", namespace: ns },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "snapshot-reader" },
    subjects: [{ kind: "User", name: "reader", apiGroup: "rbac.authorization.k8s.io" }],
  });
  const reader = await op.cp.kubeconfigFor("reader");
  const ok = await kubectl(reader, ["get", "snapshots", "-n", ns, "-o", "name"]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout.trim().split("\n").length, (await expectedNames("repo-a", repoA)).length + 1);
  const name = (await expectedNames("repo-b", repoB))[0];
  const del = await kubectl(reader, ["delete", "snapshot", name, "-n", ns]);
  assert.notEqual(del.status, 0);
  assert.match(del.stderr, /forbidden/);
  assert.deepEqual(await expectedNames("repo-b", repoB), [name], "still in restic");
});

function direct(
  port: number,
  path: string,
  ca: string,
  cert?: { cert: string; key: string },
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, ca, agent: false, ...(cert ?? {}), headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString() || "null") }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("the server itself refuses callers that are not the aggregator, and users RBAC refuses", async () => {
  const { server, cp } = op;
  const path = `${BASE}/namespaces/${ns}/snapshots`;
  const anonymous = await direct(server.port, path, server.certs.caPem);
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.body.message, /no client certificate/);
  const proxy = {
    cert: readFileSync(join(cp.dir, "pki/front-proxy-client.crt"), "utf8"),
    key: readFileSync(join(cp.dir, "pki/front-proxy-client.key"), "utf8"),
  };
  const nobody = await direct(server.port, path, server.certs.caPem, proxy, { "X-Remote-User": "mallory" });
  assert.equal(nobody.status, 403);
  assert.equal(
    nobody.body.message,
    `snapshots.repositories.stash.appscode.com is forbidden: User "mallory" cannot list resource "snapshots" in API group "repositories.stash.appscode.com" in the namespace "${ns}"`,
  );
  const admin = await direct(server.port, path, server.certs.caPem, proxy, { "X-Remote-User": "admin", "X-Remote-Group": "system:masters" });
  assert.equal(admin.status, 200);
  // A client certificate from another CA is not the aggregator, whatever headers it sends.
  const user = readFileSync(await cp.kubeconfigFor("forger"), "utf8");
  const b64 = (k: string) => Buffer.from(new RegExp(`${k}: (\\S+)`).exec(user)![1], "base64").toString();
  const forged = await direct(
    server.port,
    path,
    server.certs.caPem,
    { cert: b64("client-certificate-data"), key: b64("client-key-data") },
    { "X-Remote-User": "admin", "X-Remote-Group": "system:masters" },
  );
  assert.equal(forged.status, 401);
});

test("an unreachable backend answers 503 with the reason", async () => {
  const other = await op.namespace("snap-down");
  await op.kube.apply({ apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: other }, stringData: { RESTIC_PASSWORD: PASSWORD } });
  await op.kube.create({
    apiVersion: "stash.appscode.com/v1alpha1",
    kind: "Repository",
    metadata: { name: "down", namespace: other },
    spec: { backend: { storageSecretName: "s", rest: { url: "http://127.0.0.1:9/repo" } } },
  });
  await assert.rejects(op.kube.request(`${BASE}/namespaces/${other}/snapshots`), (e: unknown) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.code, 503);
    assert.equal(e.body.kind, "Status");
    assert.equal(e.body.reason, "ServiceUnavailable");
    assert.match(e.body.message, new RegExp(`Repository ${other}/down: .*(unreachable|connection refused)`));
    assert.doesNotMatch(e.body.message, new RegExp(PASSWORD));
    return true;
  });
  // A missing storage Secret is reported the same way, naming the Secret.
  await op.kube.create({
    apiVersion: "stash.appscode.com/v1alpha1",
    kind: "Repository",
    metadata: { name: "nosecret", namespace: other },
    spec: { backend: { storageSecretName: "absent", local: { mountPath: "/tmp/x", hostPath: { path: "/tmp/x" } } } },
  });
  await assert.rejects(op.kube.request(`${BASE}/namespaces/${other}/snapshots`, { query: { labelSelector: "repository=nosecret" } }), (e: unknown) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.code, 503);
    assert.match(e.body.message, new RegExp(`storage Secret ${other}/absent of Repository ${other}/nosecret not found`));
    return true;
  });
});

test("discovery lists the snapshots resource with its verbs", async () => {
  const list = await op.kube.request<{ resources: unknown }>(BASE);
  assert.deepEqual(list.resources, [
    {
      name: "snapshots",
      singularName: "snapshot",
      namespaced: true,
      kind: "Snapshot",
      verbs: ["get", "list", "delete"],
      categories: ["storage", "appscode", "all"],
    },
  ]);
  const r = await kubectl(op.cp.kubeconfig, ["api-resources", "--api-group=repositories.stash.appscode.com", "--no-headers"]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^snapshots\s+repositories\.stash\.appscode\.com\/v1alpha1\s+true\s+Snapshot/m);
});

test("listings over S3 (MinIO) and REST (rest-server) backends equal restic's, and a wrong password is a 503 without the secret", async () => {
  const remote = await op.namespace("snap-remote");
  const { minio, bucket } = await freshBucket("snapapi");
  const rest = await sharedRestServer();
  const s3Env = { AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: minio.secretKey };
  const s3Url = `s3:${minio.endpoint}/${bucket}/team-a`;
  const restName = `snapapi-${remote}`;
  const restUrl = `rest:${rest.url.replace("://", `://${rest.username}:${rest.password}@`)}/${restName}/`;
  const data = join(work, "remote-data");
  mkdirSync(data, { recursive: true });
  writeFileSync(join(data, "f"), "remote");
  for (const [url, env] of [
    [s3Url, s3Env],
    [restUrl, {}],
  ] as const) {
    await restic(url, ["init"], env);
    await restic(url, ["backup", "--host", "host-0", "--no-cache", "--quiet", data], env);
    await restic(url, ["backup", "--host", "host-1", "--no-cache", "--quiet", data], env);
  }
  await op.kube.apply({ apiVersion: "v1", kind: "Secret", metadata: { name: "s3", namespace: remote }, stringData: { RESTIC_PASSWORD: PASSWORD, ...s3Env } });
  await op.kube.apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "rest", namespace: remote },
    stringData: { RESTIC_PASSWORD: PASSWORD, REST_SERVER_USERNAME: rest.username!, REST_SERVER_PASSWORD: rest.password! },
  });
  await op.kube.create({
    apiVersion: "stash.appscode.com/v1alpha1",
    kind: "Repository",
    metadata: { name: "minio", namespace: remote },
    spec: { backend: { storageSecretName: "s3", s3: { endpoint: minio.endpoint, bucket, prefix: "team-a" } } },
  });
  await op.kube.create({
    apiVersion: "stash.appscode.com/v1alpha1",
    kind: "Repository",
    metadata: { name: "rest", namespace: remote },
    spec: { backend: { storageSecretName: "rest", rest: { url: rest.repoUrl(restName) } } },
  });

  const listed = (await op.kube.request<KubeList>(`${BASE}/namespaces/${remote}/snapshots`)).items as KubeObject[];
  const want = [
    ...JSON.parse(await restic(s3Url, ["snapshots", "--json", "--no-cache"], s3Env)).map((x: any) => `minio-${x.id.slice(0, 8)}`),
    ...JSON.parse(await restic(restUrl, ["snapshots", "--json", "--no-cache"])).map((x: any) => `rest-${x.id.slice(0, 8)}`),
  ].sort();
  assert.equal(want.length, 4);
  assert.deepEqual(listed.map((i) => i.metadata.name).sort(), want);
  assert.deepEqual(
    (await op.kube.request<KubeList>(`${BASE}/namespaces/${remote}/snapshots`, { query: { labelSelector: "repository=rest,hostname=host-1" } })).items.length,
    1,
  );

  // The password changes in the Secret: the Secret watch reloads the listing; invalidate makes the
  // next read wait for that reload rather than poll for it.
  await op.kube.apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "s3", namespace: remote },
    stringData: { RESTIC_PASSWORD: "not-the-password", ...s3Env },
  });
  op.server.invalidate(remote, "minio");
  await assert.rejects(op.kube.request(`${BASE}/namespaces/${remote}/snapshots`, { query: { labelSelector: "repository=minio" } }), (e: unknown) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.code, 503);
    assert.match(e.body.message, new RegExp(`Repository ${remote}/minio: .*wrong password`));
    assert.doesNotMatch(e.body.message, new RegExp(`${minio.secretKey}|not-the-password`));
    return true;
  });
});
