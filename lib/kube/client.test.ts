// The kube client without @kubernetes/client-node: kubeconfig forms it reads itself and the ones it
// leaves to client-node, paths equal to client-node's, watches (full and metadata-only).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testNamespace, stopControlPlane } from "../../testing/cluster.ts";
import { clientNode } from "./client.ts";
import { liteFromFile, liteInCluster, parseKubeconfigText } from "./config.ts";
import { METADATA_ONLY } from "./watch.ts";

after(() => stopControlPlane());

const KUBECONFIG = (user: Record<string, unknown>, cluster: Record<string, unknown> = { server: "https://127.0.0.1:6443" }) =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster }],
    users: [{ name: "u", user }],
    contexts: [{ name: "x", context: { cluster: "c", user: "u", namespace: "team" } }],
    "current-context": "x",
  });

test("kubeconfigs with exec plugins, auth-providers, proxies, plain http or no user are left to client-node", () => {
  const src = { file: "/dev/null" };
  assert.equal(parseKubeconfigText(KUBECONFIG({ exec: { command: "aws", apiVersion: "client.authentication.k8s.io/v1" } }), "/", src), null);
  assert.equal(parseKubeconfigText(KUBECONFIG({ "auth-provider": { name: "oidc", config: {} } }), "/", src), null);
  assert.equal(parseKubeconfigText(KUBECONFIG({ token: "t" }, { server: "https://k:6443", "proxy-url": "http://proxy:3128" }), "/", src), null);
  assert.equal(parseKubeconfigText(KUBECONFIG({ token: "t" }, { server: "http://127.0.0.1:8080" }), "/", src), null);
  assert.equal(parseKubeconfigText(KUBECONFIG({ token: "t" }).replace('"user":"u"', '"user":"nobody"'), "/", src), null);
  assert.equal(parseKubeconfigText("clusters: [{cluster: {server: https://k}}]", "/", src), null, "an entry without a name is client-node's error to report");
});

test("a token, a token file, a relative CA file and impersonation are applied as client-node applies them", async () => {
  const dir = mkdtempSync(join(tmpdir(), "restash-kubeconfig-"));
  writeFileSync(join(dir, "ca.pem"), "not parsed until a connection is made");
  writeFileSync(join(dir, "token"), "from-file");
  const withToken = parseKubeconfigText(
    KUBECONFIG({ token: "abc", as: "alice" }, { server: "https://k:6443/", "certificate-authority": "ca.pem", "tls-server-name": "kubernetes" }),
    dir,
    { file: join(dir, "config") },
  )!;
  assert.equal(withToken.getCurrentCluster()!.server, "https://k:6443");
  assert.equal(withToken.namespace, "team");
  assert.equal(
    parseKubeconfigText(KUBECONFIG({ token: "abc" }, { server: "https://k:6443", "certificate-authority": "missing.pem" }), dir, { file: join(dir, "config") }),
    null,
    "the CA path is relative to the kubeconfig's directory",
  );
  const fromFile = parseKubeconfigText(KUBECONFIG({ "token-file": join(dir, "token") }, { server: "https://k:6443", "insecure-skip-tls-verify": true }), dir, {
    file: join(dir, "config"),
  })!;
  const o2: any = {};
  await fromFile.applyToHTTPSOptions(o2);
  assert.equal(o2.headers.Authorization, "Bearer from-file");
  assert.equal(o2.rejectUnauthorized, false);
  const imp = parseKubeconfigText(KUBECONFIG({ token: "abc", as: "alice" }, { server: "https://k:6443", "insecure-skip-tls-verify": true }), dir, {
    file: join(dir, "config"),
  })!;
  const o3: any = {};
  await imp.applyToHTTPSOptions(o3);
  assert.deepEqual([o3.headers.Authorization, o3.headers["Impersonate-User"]], ["Bearer abc", "alice"]);
});

test("the in-cluster service account: server from the environment, CA, token file and namespace from its directory", async () => {
  const sa = mkdtempSync(join(tmpdir(), "restash-sa-"));
  mkdirSync(sa, { recursive: true });
  writeFileSync(join(sa, "ca.crt"), "");
  writeFileSync(join(sa, "token"), "sa-token");
  writeFileSync(join(sa, "namespace"), "restash");
  assert.equal(liteInCluster({}, sa), null);
  assert.equal(liteInCluster({ KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "8080" }, sa), null, "plain http is client-node's");
  const a = liteInCluster({ KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" }, sa)!;
  assert.equal(a.getCurrentCluster()!.server, "https://[fd00::1]:443");
  assert.equal(a.namespace, "restash");
  const opts: any = {};
  await a.applyToHTTPSOptions(opts).catch(() => {});
});

test("the control plane's kubeconfig is read without client-node; paths are client-node's; kc still gives client-node's KubeConfig", async () => {
  const { cp, kube, namespace } = await testNamespace("kube-client");
  assert.ok(liteFromFile(cp.kubeconfig), "client certificates and a CA are read natively");
  const objects = clientNode().KubernetesObjectApi.makeApiClient(kube.kc);
  const specs: any[] = [
    [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace } }, "read"],
    [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a" } }, "read"],
    [{ apiVersion: "v1", kind: "ConfigMap", metadata: { namespace } }, "list"],
    [{ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } }, "delete"],
    [{ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "d", namespace } }, "create"],
    [{ apiVersion: "stash.appscode.com/v1beta1", kind: "BackupConfiguration", metadata: { name: "Web", namespace } }, "patch"],
    [{ apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: "r" } }, "read"],
  ];
  for (const [spec, action] of specs) {
    assert.equal(await kube.pathOf(structuredClone(spec), action), await (objects as any).specUriPath(structuredClone(spec), action), JSON.stringify(spec));
  }
  await assert.rejects(kube.pathOf({ apiVersion: "v1", kind: "Nope", metadata: { name: "x" } }), /Unrecognized API version and kind: v1 Nope/);
  await assert.rejects(
    kube.pathOf({ apiVersion: "example.com/v1", kind: "Nope", metadata: { name: "x" } }),
    (e: any) => /Failed to fetch resource metadata for example.com\/v1\/Nope/.test(e.message) && e.code === 404,
  );
  assert.equal(kube.contextNamespace(), undefined);
  assert.match(readFileSync(cp.kubeconfig, "utf8"), /client-certificate-data/);
});

test("a watch delivers added, modified and deleted objects; a metadata-only watch delivers PartialObjectMetadata", async () => {
  const { kube, namespace } = await testNamespace("kube-watch");
  const list = await kube.request<any>(`/api/v1/namespaces/${namespace}/configmaps`);
  const full: [string, any][] = [];
  const meta: [string, any][] = [];
  const ended: unknown[] = [];
  const q = { resourceVersion: list.metadata.resourceVersion };
  const a = await kube.watch(
    `/api/v1/namespaces/${namespace}/configmaps`,
    q,
    (type, obj) => full.push([type, obj]),
    (e) => ended.push(e),
  );
  const b = await kube.watch(
    `/api/v1/namespaces/${namespace}/configmaps`,
    q,
    (type, obj) => meta.push([type, obj]),
    (e) => ended.push(e),
    { Accept: METADATA_ONLY.watch },
  );
  await kube.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cm", namespace }, data: { big: "x".repeat(10_000) } });
  await kube.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cm", namespace, labels: { a: "b" } }, data: { big: "y".repeat(10_000) } });
  await kube.delete({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cm", namespace } });
  const deadline = Date.now() + 20_000;
  while ((full.length < 3 || meta.length < 3) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(
    full.map(([t]) => t),
    ["ADDED", "MODIFIED", "DELETED"],
  );
  assert.deepEqual(
    meta.map(([t]) => t),
    ["ADDED", "MODIFIED", "DELETED"],
  );
  assert.equal(full[1][1].data.big, "y".repeat(10_000));
  assert.equal(meta[1][1].kind, "PartialObjectMetadata");
  assert.equal(meta[1][1].data, undefined);
  assert.deepEqual(meta[1][1].metadata.labels, { a: "b" });
  a.abort();
  b.abort();
  while (ended.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(ended.length, 2, "done is called once per watch, also after the caller's abort");
});
