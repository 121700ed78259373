// Two operator processes (`restash operator --enable-leader-election`) against one API server: one
// leads and reconciles, the other waits; kill -9 of the leader hands the work to the other once the
// lease has expired; SIGTERM hands it over at once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { join, resolve } from "node:path";
import type { KubeObject } from "../lib/kube/client.ts";
import { testNamespace } from "../testing/cluster.ts";
import { eventually } from "../testing/eventually.ts";
import { backupConfiguration, deployment, repository, secret } from "../testing/stash-objects.ts";
import { signBody } from "../reconciler/gitops/receiver.ts";
import { REQUESTED_AT_ANNOTATION } from "../policies/policy-source.ts";
import { mkdtempSync } from "node:fs";
import { createRemote } from "../testing/git-fixture.ts";
import { applySource, defaultsYaml, grantStash, noteLines, policyYaml } from "../testing/gitops-fixture.ts";
import { POLICY_SOURCE_API, type PolicySource } from "../policies/policy-source.ts";
import { tmpdir } from "node:os";

const RESTASH = resolve(import.meta.dirname, "../bin/restash.ts");
const V1B = "stash.appscode.com/v1beta1";
const LEASE = { duration: 3_000, renew: 2_000, retry: 250 };

interface Replica {
  name: string;
  child: ChildProcess;
  log: () => string;
  exited: Promise<number | null>;
}

function replica(name: string, kubeconfig: string, namespace: string): Replica {
  const child = spawn(
    process.execPath,
    [
      RESTASH,
      "operator",
      `--kubeconfig=${kubeconfig}`,
      `--namespace=${namespace}`,
      "--register=none",
      "--secure-port=0",
      "--metrics-port=0",
      "--bind-address=127.0.0.1",
      "--pushgateway-url=",
      `--work-dir=${join("/tmp", `restash-le-${namespace}-${name}`)}`,
      "--enable-leader-election",
      `--leader-election-namespace=${namespace}`,
      `--leader-election-lease-duration=${LEASE.duration}ms`,
      `--leader-election-renew-deadline=${LEASE.renew}ms`,
      `--leader-election-retry-period=${LEASE.retry}ms`,
    ],
    { env: { PATH: process.env.PATH, HOME: process.env.HOME, POD_NAME: name, RESTASH_LOG_LEVEL: "info" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout!.on("data", (c) => (out += c));
  child.stderr!.on("data", (c) => (out += c));
  const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
  return { name, child, log: () => out, exited };
}

const holder = async (kube: Awaited<ReturnType<typeof testNamespace>>["kube"], namespace: string) =>
  (await kube.getOrNull<KubeObject>("coordination.k8s.io/v1", "Lease", "restash-operator", namespace))?.spec?.holderIdentity;

test("two operator replicas: one leads; kill -9 of the leader moves the controllers to the other after the lease duration, SIGTERM at once", async (t) => {
  const { kube, namespace, cp } = await testNamespace("le-operators");
  const replicas: Replica[] = [];
  t.after(async () => {
    for (const r of replicas) if (r.child.exitCode === null) r.child.kill("SIGKILL");
    await Promise.all(replicas.map((r) => r.exited));
  });
  const start = (name: string) => {
    const r = replica(name, cp.kubeconfig, namespace);
    replicas.push(r);
    return r;
  };
  const a = start("op-a");
  await eventually("op-a holds the Lease", async () => (await holder(kube, namespace)) === "op-a", 30_000);
  const b = start("op-b");
  await eventually("op-b serving as a standby", async () => b.log().includes("controllers wait for the Lease"), 30_000);

  await kube.apply(secret(namespace, "repo-secret", { RESTIC_PASSWORD: "leader-election" }));
  await kube.apply(repository(namespace, "repo", { local: { mountPath: "/safe/repo", hostPath: { path: "/tmp/restash-le-repo" } } }));
  await kube.apply(deployment(namespace, "app"));
  await kube.apply(deployment(namespace, "web"));
  await kube.apply(deployment(namespace, "db"));
  const cronJobs = async () => (await kube.list("batch/v1", "CronJob", namespace)).items.map((c) => c.metadata.name).sort();

  await kube.apply(backupConfiguration(namespace, "first", { kind: "Deployment", name: "app" }, "repo"));
  await eventually("the leader reconciles the first configuration", async () => (await cronJobs()).length === 1, 30_000);
  assert.ok(!b.log().includes("started leading"), "the standby never led");

  // A push webhook that reaches the standby is recorded on the PolicySource, and the leader syncs it.
  await kube.apply(secret(namespace, "policies", { webhookSecret: "push-key" }));
  await kube.apply({
    apiVersion: "restash.dev/v1alpha1",
    kind: "PolicySource",
    metadata: { name: "policies", namespace },
    spec: { localPath: mkdtempSync(join(tmpdir(), "restash-le-policies-")), serviceAccountName: "policy-sync", secretRef: { name: "policies" } },
  });
  const standbyPort = Number(/"httpPort":(\d+)/.exec(b.log())?.[1]);
  const push = JSON.stringify({ ref: "refs/heads/main" });
  const accepted = await fetch(`http://127.0.0.1:${standbyPort}/hooks/${namespace}/policies`, {
    method: "POST",
    body: push,
    headers: { "X-Hub-Signature-256": signBody(push, "push-key") },
  });
  assert.equal(accepted.status, 202);
  const handled = await eventually(
    "the leader handles the push the standby recorded",
    async () => {
      const src = await kube.getOrNull<KubeObject>("restash.dev/v1alpha1", "PolicySource", "policies", namespace);
      const requested = src?.metadata.annotations?.[REQUESTED_AT_ANNOTATION];
      return requested && src?.status?.lastHandledReconcileAt === requested ? src : undefined;
    },
    30_000,
  );
  assert.ok(handled.metadata.annotations?.[REQUESTED_AT_ANNOTATION]);

  // kill -9: no release. The standby takes over once the lease has expired on its clock.
  const killed = Date.now();
  a.child.kill("SIGKILL");
  await a.exited;
  await kube.apply(backupConfiguration(namespace, "second", { kind: "Deployment", name: "web" }, "repo"));
  await eventually("op-b holds the Lease", async () => (await holder(kube, namespace)) === "op-b", 30_000);
  const takeover = Date.now() - killed;
  await eventually("the new leader reconciles the second configuration", async () => (await cronJobs()).length === 2, 30_000);
  console.log(`kill -9 → new leader: ${takeover} ms (lease duration ${LEASE.duration} ms); → second configuration reconciled: ${Date.now() - killed} ms`);
  assert.ok(takeover >= LEASE.duration - LEASE.retry, `the Lease was taken ${takeover} ms after the kill, before it expired`);
  // One CronJob per configuration, whoever reconciled it.
  assert.equal((await cronJobs()).length, 2);

  // SIGTERM: the leader releases the Lease on its way out, a new standby takes it at once.
  const c = start("op-c");
  await eventually("op-c serving as a standby", async () => c.log().includes("controllers wait for the Lease"), 30_000);
  const terminated = Date.now();
  b.child.kill("SIGTERM");
  await eventually("op-c holds the Lease", async () => (await holder(kube, namespace)) === "op-c", 30_000);
  const handover = Date.now() - terminated;
  console.log(`SIGTERM → new leader: ${handover} ms`);
  assert.equal(await b.exited, 0);
  assert.ok(handover < LEASE.duration, `handed over in ${handover} ms, not by expiry`);
  await kube.apply(backupConfiguration(namespace, "third", { kind: "Deployment", name: "db" }, "repo"));
  await eventually("the third leader reconciles", async () => (await cronJobs()).length === 3, 30_000);
  assert.match(c.log(), /started leading/);
});

test("kill -9 of the leader while a 1,000-file revision syncs: the other replica applies the revision once, with one note, and prunes nothing that stays", async (t) => {
  const { kube, namespace, cp } = await testNamespace("le-sync");
  const replicas: Replica[] = [];
  const remote = await createRemote();
  t.after(async () => {
    for (const r of replicas) if (r.child.exitCode === null) r.child.kill("SIGKILL");
    await Promise.all(replicas.map((r) => r.exited));
    await remote.cleanup();
  });
  const start = (name: string) => {
    const r = replica(name, cp.kubeconfig, namespace);
    replicas.push(r);
    return r;
  };
  await grantStash(kube, namespace, "policy-sync");
  const a = start("op-a");
  await eventually("op-a holds the Lease", async () => (await holder(kube, namespace)) === "op-a", 30_000);
  const b = start("op-b");
  await eventually("op-b serving as a standby", async () => b.log().includes("controllers wait for the Lease"), 30_000);

  // A first revision of ten policies, applied by op-a.
  const work = await remote.clone();
  const tree: Record<string, string> = { "defaults.yaml": defaultsYaml() };
  for (let i = 0; i < 10; i++) tree[`team-${i % 20}/app-${i}.yaml`] = policyYaml(`app-${i}`);
  await work.write(tree);
  const first = await work.commitAndPush("ten policies");
  await applySource(kube, namespace, "policies", { url: remote.url });
  const source = () => kube.get<PolicySource>(POLICY_SOURCE_API, "PolicySource", "policies", namespace);
  await eventually("the first revision applied", async () => (await source()).status?.lastAppliedRevision === `main@sha1:${first}`, 60_000, 100);
  const kept = await kube.get<KubeObject>(V1B, "BackupConfiguration", "app-3", namespace);

  // The 1,000-file revision: op-a dies (no release) partway through applying it.
  for (let i = 10; i < 1000; i++) tree[`team-${i % 20}/app-${i}.yaml`] = policyYaml(`app-${i}`);
  await work.write(tree);
  const big = await work.commitAndPush("1000 policies");
  const configurations = async () => (await kube.list<KubeObject>(V1B, "BackupConfiguration", namespace)).items.length;
  await kube.mergePatch(
    { apiVersion: POLICY_SOURCE_API, kind: "PolicySource", metadata: { name: "policies", namespace } },
    {
      metadata: { annotations: { [REQUESTED_AT_ANNOTATION]: new Date().toISOString() } },
    },
  );
  const partly = await eventually(
    "op-a applying the big revision",
    async () => {
      const n = await configurations();
      return n > 100 && n;
    },
    120_000,
    20,
  );
  a.child.kill("SIGKILL");
  await a.exited;
  const killed = Date.now();
  const done = await eventually(
    "op-b applied the big revision",
    async () => {
      const s = await source();
      return s.status?.lastAppliedRevision === `main@sha1:${big}` && s;
    },
    180_000,
    100,
  );
  console.log(`kill -9 with ${partly} of 1,000 configurations applied → revision applied by the new leader after ${Date.now() - killed} ms`);
  assert.equal(await holder(kube, namespace), "op-b");
  assert.equal(done.status?.conditions?.find((c) => c.type === "Ready")?.status, "True");
  assert.equal(await configurations(), 1000);
  assert.equal((await kube.list<KubeObject>("stash.appscode.com/v1alpha1", "Repository", namespace)).items.length, 1000);
  assert.equal(done.status?.inventory?.entries.length, 2000);
  // What stayed from the first revision was never deleted and made again.
  assert.equal((await kube.get<KubeObject>(V1B, "BackupConfiguration", "app-3", namespace)).metadata.uid, kept.metadata.uid);
  // One note for the revision, written by the replica that applied it; nothing pruned.
  const notes = (await noteLines(remote.bare, big)).filter((l) => l.kind === "sync");
  assert.equal(notes.length, 1, JSON.stringify(notes));
  assert.equal(notes[0].result, "Applied");
  assert.deepEqual(notes[0].pruned ?? [], []);
});
