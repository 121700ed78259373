// The webhooks as the real API server calls them: registered with Mutating/Validating
// WebhookConfigurations that point at the operator server, checked on stored objects.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:https";
import { X509Certificate } from "node:crypto";
import { ApiError, type KubeObject } from "../lib/kube/client.ts";
import { testOperator, stopTestOperator } from "../testing/operator-server.ts";
import type { OperatorServer } from "../server/operator-server.ts";
import { startOperator } from "../reconciler/operator.ts";
import { stopControlPlane } from "../testing/cluster.ts";
import { eventually } from "../testing/eventually.ts";

after(async () => {
  await stopTestOperator();
  await stopControlPlane();
});

const deployment = (ns: string, name = "app"): KubeObject => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, namespace: ns },
  spec: {
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: {
        containers: [{ name: "app", image: "busybox", volumeMounts: [{ name: "data", mountPath: "/data" }] }],
        volumes: [{ name: "data", emptyDir: {} }],
      },
    },
  },
});

const backupConfiguration = (ns: string, spec: Record<string, unknown> = {}, name = "app-backup"): KubeObject => ({
  apiVersion: "stash.appscode.com/v1beta1",
  kind: "BackupConfiguration",
  metadata: { name, namespace: ns },
  spec: {
    repository: { name: "repo" },
    schedule: "*/5 * * * *",
    target: { ref: { apiVersion: "apps/v1", kind: "Deployment", name: "app" }, paths: ["/data"], volumeMounts: [{ name: "data", mountPath: "/data" }] },
    retentionPolicy: { name: "keep-last-5", keepLast: 5, prune: true },
    ...spec,
  },
});

const containerNames = (d: KubeObject) => (d.spec.template.spec.containers as any[]).map((c) => c.name);

async function denied(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ApiError, String(e));
    return e.message;
  }
  assert.fail("the request was admitted");
}

/** The sidecar as the webhook and the controller both build it (stash/pod-template.ts). */
function assertSidecar(stored: KubeObject, ns: string) {
  assert.deepEqual(containerNames(stored), ["app", "stash"]);
  const sidecar = stored.spec.template.spec.containers[1];
  assert.equal(sidecar.args[0], "run-backup");
  assert.ok(sidecar.args.includes("--invoker-name=app-backup"));
  assert.ok(sidecar.args.includes("--invoker-kind=BackupConfiguration"));
  assert.ok(sidecar.args.includes(`--target-namespace=${ns}`));
  assert.deepEqual(sidecar.volumeMounts, [
    { name: "stash-tmp-dir", mountPath: "/stash-tmp" },
    { name: "data", mountPath: "/data" },
  ]);
  assert.ok(stored.spec.template.spec.volumes.some((v: any) => v.name === "stash-tmp-dir"));
  assert.ok(stored.spec.template.metadata.annotations["stash.appscode.com/last-applied-backup-invoker-hash"]);
  assert.equal(stored.metadata.annotations!["stash.appscode.com/last-applied-backup-invoker-kind"], "BackupConfiguration");
}

/**
 * Whether the webhook, asked directly, would change a plain Deployment `name` in `ns`: true once
 * its informer cache holds an invoker targeting it. The webhook answers from that cache
 * (docs/decisions/webhook-lookups.md), which trails the API server by one watch event.
 */
async function webhookTargets(server: OperatorServer, ns: string, name: string): Promise<boolean> {
  const review = {
    kind: "AdmissionReview",
    apiVersion: "admission.k8s.io/v1",
    request: { uid: "probe", kind: { group: "apps", version: "v1", kind: "Deployment" }, operation: "CREATE", namespace: ns, object: deployment(ns, name) },
  };
  const res = await post(server.port, "/admission/mutate", JSON.stringify(review), server.certs.caPem);
  assert.equal(res.json.response.allowed, true, JSON.stringify(res.json.response));
  return res.json.response.patch !== undefined;
}

test("a Deployment created after its BackupConfiguration is stored with the sidecar", async (t) => {
  const { kube, namespace, server } = await testOperator();
  // Right after: the webhook injects it if its cache already has the configuration, otherwise the
  // BackupConfiguration controller does on reconcile. Either way the stored object is the same.
  const ns = await namespace("wh-create");
  const op = startOperator({ kube, namespace: ns, image: "restash/runner:test" });
  t.after(() => op.stop());
  await kube.create({ apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: ns }, stringData: { RESTIC_PASSWORD: "not-a-real-password" } });
  await kube.create({
    apiVersion: "stash.appscode.com/v1alpha1",
    kind: "Repository",
    metadata: { name: "repo", namespace: ns },
    spec: { backend: { storageSecretName: "s", s3: { endpoint: "http://127.0.0.1:9", bucket: "b" } } },
  });
  await kube.create(backupConfiguration(ns));
  await kube.create(deployment(ns));
  assertSidecar(
    await eventually("the sidecar in the stored Deployment", async () => {
      const d = await kube.get<KubeObject>("apps/v1", "Deployment", "app", ns);
      return containerNames(d).includes("stash") && d;
    }),
    ns,
  );

  // Once the webhook has seen the configuration, the Deployment is stored with the sidecar by the
  // create itself (no controller in this namespace).
  const ns2 = await namespace("wh-create-cached");
  await kube.create(backupConfiguration(ns2));
  await eventually("the webhook's cache has the BackupConfiguration", () => webhookTargets(server, ns2, "app"));
  assertSidecar(await kube.create(deployment(ns2)), ns2);
  // A Deployment nobody targets is left alone.
  const other = await kube.create(deployment(ns2, "other"));
  assert.deepEqual(containerNames(other), ["app"]);
  assert.equal(other.metadata.annotations?.["stash.appscode.com/last-applied-backup-invoker"], undefined);
});

test("an existing Deployment gets the sidecar on its next update after a BackupConfiguration appears, and loses it after it goes", async () => {
  const { kube, namespace, server } = await testOperator();
  const ns = await namespace("wh-update");
  const before = await kube.create(deployment(ns));
  assert.deepEqual(containerNames(before), ["app"]);
  await kube.create(backupConfiguration(ns));
  const touch = (v: string) => kube.mergePatch(deployment(ns), { metadata: { labels: { touched: v } } });
  await eventually("the webhook's cache has the BackupConfiguration", () => webhookTargets(server, ns, "app"));
  const withSidecar = await touch("1");
  assert.deepEqual(containerNames(withSidecar), ["app", "stash"]);
  await kube.delete(backupConfiguration(ns));
  await eventually("the webhook's cache has lost the BackupConfiguration", async () => !(await webhookTargets(server, ns, "app")));
  const without = await touch("2");
  assert.deepEqual(containerNames(without), ["app"]);
  assert.equal(
    without.spec.template.spec.volumes.some((v: any) => v.name === "stash-tmp-dir"),
    false,
  );
  assert.equal(without.metadata.annotations?.["stash.appscode.com/last-applied-backup-invoker"], undefined);
  assert.equal(without.spec.template.metadata.annotations?.["stash.appscode.com/last-applied-backup-invoker-hash"], undefined);
});

test("a RestoreSession's target gets the init-container, and its deprecated rules are migrated", async () => {
  const { kube, namespace, server } = await testOperator();
  const ns = await namespace("wh-restore");
  const rs: KubeObject = await kube.create<KubeObject>({
    apiVersion: "stash.appscode.com/v1beta1",
    kind: "RestoreSession",
    metadata: { name: "restore", namespace: ns },
    spec: { repository: { name: "repo" }, rules: [{ paths: ["/data"] }], target: { ref: { apiVersion: "apps/v1", kind: "Deployment", name: "app" } } },
  });
  assert.equal(rs.spec.rules, undefined);
  assert.deepEqual(rs.spec.target.rules, [{ paths: ["/data"] }]);
  await eventually("the webhook's cache has the RestoreSession", () => webhookTargets(server, ns, "app"));
  const d = await kube.create(deployment(ns));
  assert.equal(d.spec.template.spec.initContainers[0].name, "stash-init");
  assert.equal(d.spec.template.spec.initContainers[0].args[0], "restore");
  const msg = await denied(kube.mergePatch(rs, { spec: { repository: { name: "elsewhere" } } }));
  assert.match(msg, new RegExp(`RestoreSession ${ns}/restore: spec: RestoreSession spec is immutable`));
});

test("an invalid BackupConfiguration is refused with the webhook's message", async () => {
  const { kube, namespace } = await testOperator();
  const ns = await namespace("wh-invalid");
  const missingTask = await denied(
    kube.create(
      backupConfiguration(ns, { task: { name: "no-such-task" }, target: { ref: { apiVersion: "v1", kind: "PersistentVolumeClaim", name: "data" } } }),
    ),
  );
  assert.match(missingTask, /admission webhook "stash-kinds\.validators\.restash\.dev" denied the request/);
  assert.match(missingTask, new RegExp(`BackupConfiguration ${ns}/app-backup: spec\\.task\\.name: Task "no-such-task" not found`));
  const crossNs = await denied(
    kube.create(backupConfiguration(ns, { target: { ref: { apiVersion: "apps/v1", kind: "Deployment", name: "app", namespace: "elsewhere" } } })),
  );
  assert.match(crossNs, /spec\.target\.ref\.namespace: cross-namespace target reference is not allowed for "Deployment\/app"/);
  const wipe = await denied(
    kube.create({
      apiVersion: "stash.appscode.com/v1alpha1",
      kind: "Repository",
      metadata: { name: "b2", namespace: ns },
      spec: { wipeOut: true, backend: { storageSecretName: "s", b2: { bucket: "b" } } },
    }),
  );
  assert.match(wipe, /spec\.wipeOut: wipe out operation is not supported for B2 backend/);
  const mount = await denied(
    kube.create({
      apiVersion: "stash.appscode.com/v1alpha1",
      kind: "Repository",
      metadata: { name: "l", namespace: ns },
      spec: { backend: { storageSecretName: "s", local: { mountPath: "/stash/data", hostPath: { path: "/x" } } } },
    }),
  );
  assert.match(mount, /spec\.backend\.local\.mountPath: invalid mountPath "\/stash\/data"/);
});

test("BackupBatch and RestoreBatch are validated: a cross-namespace workload member and invalid restore rules are refused, a RestoreBatch spec is immutable", async () => {
  const { kube, namespace } = await testOperator();
  const ns = await namespace("wh-batch");
  const member = (name: string, extra: Record<string, unknown> = {}, refNamespace?: string) => ({
    target: {
      alias: name,
      ref: { apiVersion: "apps/v1", kind: "Deployment", name, ...(refNamespace ? { namespace: refNamespace } : {}) },
      volumeMounts: [{ name: "data", mountPath: "/data" }],
      ...extra,
    },
  });
  const backupBatch = (members: unknown[]): KubeObject => ({
    apiVersion: "stash.appscode.com/v1beta1",
    kind: "BackupBatch",
    metadata: { name: "apps", namespace: ns },
    spec: { repository: { name: "repo" }, schedule: "*/5 * * * *", members, retentionPolicy: { name: "keep-last-5", keepLast: 5, prune: true } },
  });
  const crossNs = await denied(kube.create(backupBatch([member("web", { paths: ["/data"] }), member("api", { paths: ["/data"] }, "elsewhere")])));
  assert.match(crossNs, /admission webhook "stash-kinds\.validators\.restash\.dev" denied the request/);
  assert.match(
    crossNs,
    new RegExp(
      `BackupBatch ${ns}/apps: spec\\.members\\[1\\]\\.target\\.ref\\.namespace: cross-namespace target reference is not allowed for "Deployment/api"`,
    ),
  );
  assert.ok(await kube.create(backupBatch([member("web", { paths: ["/data"] }), member("api", { paths: ["/data"] })])));

  const restoreBatch = (members: unknown[]): KubeObject => ({
    apiVersion: "stash.appscode.com/v1beta1",
    kind: "RestoreBatch",
    metadata: { name: "restore", namespace: ns },
    spec: { repository: { name: "repo" }, members },
  });
  const rules = await denied(kube.create(restoreBatch([member("web", { rules: [{ paths: ["/data"], snapshots: ["latest"] }] })])));
  assert.match(
    rules,
    new RegExp(`RestoreBatch ${ns}/restore: spec\\.members\\[0\\]\\.target\\.rules\\[0\\]: snapshots and paths cannot both be set in one rule`),
  );
  const rb = await kube.create(restoreBatch([member("web", { rules: [{ paths: ["/data"] }] })]));
  const immutable = await denied(kube.mergePatch(rb, { spec: { repository: { name: "elsewhere" } } }));
  assert.match(immutable, new RegExp(`RestoreBatch ${ns}/restore: spec: RestoreBatch spec is immutable`));
  assert.equal((await kube.mergePatch(rb, { metadata: { labels: { team: "web" } } })).metadata.labels?.team, "web");
});

test("the target of a Ready BackupConfiguration cannot be changed", async () => {
  const { kube, namespace } = await testOperator();
  const ns = await namespace("wh-ready");
  const bc = await kube.create(backupConfiguration(ns));
  await kube.mergePatch(bc, { status: { phase: "Ready" } }, "status");
  const msg = await denied(kube.mergePatch(bc, { spec: { target: { paths: ["/elsewhere"] } } }));
  assert.match(msg, /spec\.target: updating target is forbidden when BackupConfiguration is in READY state/);
  const paused = await kube.mergePatch(bc, { spec: { paused: true } });
  assert.equal(paused.spec.paused, true);
});

test("a cross-namespace Repository reference is refused unless the usagePolicy admits the namespace", async () => {
  const { kube, namespace } = await testOperator();
  const storage = await namespace("wh-storage");
  const team = await namespace("wh-team", { "backup-allowed": "yes" });
  const stranger = await namespace("wh-stranger");
  const repo = (name: string, usagePolicy?: unknown) =>
    kube.create({
      apiVersion: "stash.appscode.com/v1alpha1",
      kind: "Repository",
      metadata: { name, namespace: storage },
      spec: { backend: { storageSecretName: "s", s3: { endpoint: "http://127.0.0.1:9", bucket: "b" } }, ...(usagePolicy ? { usagePolicy } : {}) },
    });
  await repo("same-only", { allowedNamespaces: { from: "Same" } });
  await repo("selected", { allowedNamespaces: { from: "Selector", selector: { matchLabels: { "backup-allowed": "yes" } } } });
  await repo("everyone", { allowedNamespaces: { from: "All" } });
  const ref = (name: string) => ({ repository: { name, namespace: storage } });

  const same = await denied(kube.create(backupConfiguration(team, ref("same-only"))));
  assert.match(
    same,
    new RegExp(
      `namespace "${team}" is not allowed to refer Repository "same-only" of "${storage}" namespace\\. Please, check the usagePolicy of the Repository`,
    ),
  );
  assert.ok(await kube.create(backupConfiguration(team, ref("selected"), "selected")));
  const notSelected = await denied(kube.create(backupConfiguration(stranger, ref("selected"), "selected")));
  assert.match(notSelected, new RegExp(`namespace "${stranger}" is not allowed to refer Repository "selected"`));
  assert.ok(await kube.create(backupConfiguration(stranger, ref("everyone"), "everyone")));
});

test("a Task naming a missing Function is refused", async () => {
  const { kube, scope } = await testOperator();
  const name = `task-${Object.values(scope)[0]}`;
  const msg = await denied(
    kube.create({
      apiVersion: "stash.appscode.com/v1beta1",
      kind: "Task",
      metadata: { name, labels: scope },
      spec: { steps: [{ name: `fn-missing-${name}` }] },
    }),
  );
  assert.match(msg, new RegExp(`Task ${name}: spec\\.steps\\[0\\]\\.name: Function "fn-missing-${name}" not found`));
  await kube.create({
    apiVersion: "stash.appscode.com/v1beta1",
    kind: "Function",
    metadata: { name: `fn-${name}`, labels: scope },
    spec: { image: "busybox" },
  });
  assert.ok(
    await kube.create({ apiVersion: "stash.appscode.com/v1beta1", kind: "Task", metadata: { name, labels: scope }, spec: { steps: [{ name: `fn-${name}` }] } }),
  );
});

function post(port: number, path: string, body: string, ca: string): Promise<{ status: number; json: any; cert: X509Certificate }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: "POST", ca, agent: false, headers: { "content-type": "application/json" } }, (res) => {
      const cert = new X509Certificate((res.socket as any).getPeerCertificate().raw);
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined, cert });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

test("a malformed AdmissionReview is answered 400 and the server keeps serving", async () => {
  const { server } = await testOperator();
  const ca = server.certs.caPem;
  const notJson = await post(server.port, "/admission/validate", "{not json", ca);
  assert.equal(notJson.status, 400);
  assert.equal(notJson.json.kind, "Status");
  assert.match(notJson.json.message, /malformed AdmissionReview: the body is not valid JSON/);
  const wrong = await post(server.port, "/admission/mutate", JSON.stringify({ kind: "AdmissionReview", apiVersion: "admission.k8s.io/v1", request: {} }), ca);
  assert.equal(wrong.status, 400);
  assert.equal(wrong.json.message, "malformed AdmissionReview: request.uid is missing");
  const ok = await post(
    server.port,
    "/admission/validate",
    JSON.stringify({
      kind: "AdmissionReview",
      apiVersion: "admission.k8s.io/v1",
      request: { uid: "1", kind: { group: "", kind: "ConfigMap" }, operation: "CREATE", object: { kind: "ConfigMap", metadata: { name: "x" } } },
    }),
    ca,
  );
  assert.deepEqual(ok.json.response, { uid: "1", allowed: true });
});

test("the serving certificate rotates without a restart and the API server keeps calling the webhooks", async () => {
  const { server, kube, namespace } = await testOperator();
  const probe = JSON.stringify({
    kind: "AdmissionReview",
    apiVersion: "admission.k8s.io/v1",
    request: { uid: "r", kind: { group: "", kind: "ConfigMap" }, operation: "CREATE", object: { kind: "ConfigMap", metadata: { name: "x" } } },
  });
  const before = await post(server.port, "/admission/validate", probe, server.certs.caPem);
  await server.certs.rotate();
  const after = await post(server.port, "/admission/validate", probe, server.certs.caPem);
  assert.notEqual(after.cert.serialNumber, before.cert.serialNumber, "a new connection gets the new certificate");
  assert.equal(after.cert.checkIssued(new X509Certificate(server.certs.caPem)), true, "signed by the same CA, so the registered caBundle still holds");
  assert.ok(after.cert.subjectAltName?.includes("IP Address:127.0.0.1"));
  // The API server (new connections after rotation) still reaches the webhooks.
  const ns = await namespace("wh-rotated");
  await kube.create(backupConfiguration(ns));
  await eventually("the webhook's cache has the BackupConfiguration", () => webhookTargets(server, ns, "app"));
  assert.deepEqual(containerNames(await kube.create(deployment(ns))), ["app", "stash"]);
});
