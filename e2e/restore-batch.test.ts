// RestoreBatch against the real API server: members restored in Sequential order (the second
// member's init-container arrives once the first is done), the global hooks, Stash's phase with a
// failed member, a PVC member's restore Job, an invalid member, all judged by the Argo CD health
// check. Host results are written as the runner writes them (restore-invoker.ts).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { testNamespace, stopControlPlane } from "../testing/cluster.ts";
import { startOperator } from "../reconciler/operator.ts";
import { deployment, eventually, repository, secret } from "../testing/stash-objects.ts";
import { updateRestoreStatus } from "../restic-runner/commands/restore-invoker.ts";
import { restoreStatusWith } from "../restic-runner/tasks/update-status.ts";
import { argoHealth } from "../deploy/argocd/argo-health.ts";
import type { Kube } from "../lib/kube/client.ts";
import { ManualClock } from "../lib/workqueue.ts";

after(() => stopControlPlane());

const V1B = "stash.appscode.com/v1beta1";
const cond = (list: any[] | undefined, type: string) => (list ?? []).find((c: any) => c.type === type);
const getRB = (kube: Kube, ns: string, name: string) => kube.getOrNull<any>(V1B, "RestoreBatch", name, ns);
const initOf = async (kube: Kube, ns: string, name: string) =>
  ((await kube.get<any>("apps/v1", "Deployment", name, ns)).spec.template.spec.initContainers ?? []).find((c: any) => c.name === "stash-init");

async function repo(kube: Kube, namespace: string) {
  await kube.apply(secret(namespace, "repo-secret", { RESTIC_PASSWORD: "pw-for-tests-only" }));
  await kube.apply(repository(namespace, "repo", { s3: { endpoint: "http://127.0.0.1:1", bucket: "b" } }));
}

const member = (kind: string, name: string, rules: any[] = [{ paths: ["/source/data"] }]) => ({
  target: {
    ref: { apiVersion: kind === "Deployment" ? "apps/v1" : "v1", kind, name },
    volumeMounts: [{ name: "source-data", mountPath: "/source/data" }],
    rules,
  },
});

/** One host's result for a member, written as the runner writes it. */
const hostResult = (kube: Kube, namespace: string, rb: string, target: string, phase: "Succeeded" | "Failed", error?: string) =>
  updateRestoreStatus(
    kube,
    { invokerKind: "RestoreBatch", invokerName: rb, targetKind: "Deployment", targetName: target, targetNamespace: namespace, enableCache: true },
    (status) => restoreStatusWith(status, { kind: "restore", command: "restore", hostname: "host-0", phase, duration: "1s", ...(error ? { error } : {}) }),
  );

test("Sequential RestoreBatch: the second member starts when the first is done; a failed member fails the batch after the global postRestore hook and metrics; deletion takes the init-containers away", async (t) => {
  const { kube, namespace } = await testNamespace("rb-seq");
  const calls: { path: string; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      calls.push({ path: req.url!, body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  t.after(() => server.close());
  const port = (server.address() as any).port;
  const op = startOperator({ kube, namespace, image: "restash:test" });
  t.after(() => op.stop());
  await repo(kube, namespace);
  await kube.apply(deployment(namespace, "first"));
  await kube.apply(deployment(namespace, "second"));
  await kube.apply({
    apiVersion: V1B,
    kind: "RestoreBatch",
    metadata: { name: "rb", namespace },
    spec: {
      repository: { name: "repo" },
      executionOrder: "Sequential",
      timeOut: "1h",
      hooks: {
        preRestore: { httpGet: { host: "127.0.0.1", port, path: "/pre" } },
        postRestore: { executionPolicy: "Always", httpPost: { host: "127.0.0.1", port, path: "/post", body: "{{ .Invoker.Kind }} {{ .Status.Phase }}" } },
      },
      members: [member("Deployment", "first"), member("Deployment", "second")],
    },
  });
  const r1 = await eventually("first member Running", async () => {
    const o = await getRB(kube, namespace, "rb");
    return o?.status?.members?.[0]?.phase === "Running" && o;
  });
  assert.equal(r1.status.phase, "Running");
  assert.deepEqual(
    r1.status.members.map((m: any) => [m.ref.name, m.phase, m.totalHosts]),
    [
      ["first", "Running", 1],
      ["second", "Pending", undefined],
    ],
  );
  assert.deepEqual(r1.status.members[0].conditions.map((c: any) => `${c.type}=${c.status}`).sort(), [
    "RestoreExecutorEnsured=True",
    "RestoreTargetFound=True",
    "StashInitContainerInjected=True",
  ]);
  assert.equal(cond(r1.status.conditions, "GlobalPreRestoreHookSucceeded")?.reason, "GlobalPreRestoreHookExecutedSuccessfully");
  assert.equal(Date.parse(r1.status.sessionDeadline), Date.parse(r1.metadata.creationTimestamp) + 3_600_000);
  assert.ok(await initOf(kube, namespace, "first"), "first member's init-container");
  assert.equal(await initOf(kube, namespace, "second"), undefined, "second member waits");
  assert.deepEqual(await argoHealth(r1), { status: "Progressing", message: "Restore running: 0/2 members restored" });

  await hostResult(kube, namespace, "rb", "first", "Succeeded");
  const r2 = await eventually("second member Running", async () => {
    const o = await getRB(kube, namespace, "rb");
    return o?.status?.members?.[1]?.phase === "Running" && o;
  });
  assert.equal(r2.status.members[0].phase, "Succeeded");
  const init2 = await initOf(kube, namespace, "second");
  assert.deepEqual(init2.args.slice(0, 6), [
    "restore",
    "--invoker-name=rb",
    "--invoker-kind=RestoreBatch",
    "--target-name=second",
    `--target-namespace=${namespace}`,
    "--target-kind=Deployment",
  ]);
  assert.deepEqual(await argoHealth(r2), { status: "Progressing", message: "Restore running: 1/2 members restored" });

  await hostResult(kube, namespace, "rb", "second", "Failed", "snapshot for path /source/data not found");
  const failed = await eventually("batch final with metrics", async () => {
    const o = await getRB(kube, namespace, "rb");
    return o?.status?.phase === "Failed" && cond(o.status.conditions, "MetricsPushed") && o;
  });
  assert.equal(failed.status.members[1].phase, "Failed");
  assert.equal(cond(failed.status.conditions, "GlobalPostRestoreHookSucceeded")?.status, "True");
  assert.deepEqual(
    calls.map((c) => [c.path, c.body]),
    [
      ["/pre", ""],
      ["/post", "RestoreBatch Failed"],
    ],
  );
  assert.match(failed.status.sessionDuration, /^\d+s$/);
  assert.equal(cond(failed.status.conditions, "Stalled")?.status, "True");
  assert.deepEqual(await argoHealth(failed), { status: "Degraded", message: "Deployment second, host-0: snapshot for path /source/data not found" });

  await kube.delete(failed);
  await eventually("RestoreBatch gone", async () => (await getRB(kube, namespace, "rb")) === null);
  for (const name of ["first", "second"]) assert.equal(await initOf(kube, namespace, name), undefined, `${name} lost its init-container`);
});

test("a PVC member gets a restore Job owned by the batch; an invalid member's rules make the batch Stalled, naming the member's field", async (t) => {
  const { kube, namespace } = await testNamespace("rb-job");
  const op = startOperator({ kube, namespace, image: "restash:test" });
  t.after(() => op.stop());
  await repo(kube, namespace);
  await kube.apply({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: "data", namespace },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
  });
  await kube.apply(deployment(namespace, "web"));
  await kube.apply({
    apiVersion: V1B,
    kind: "RestoreBatch",
    metadata: { name: "both", namespace },
    spec: { repository: { name: "repo" }, members: [member("Deployment", "web"), member("PersistentVolumeClaim", "data")] },
  });
  const rb = await eventually("both members Running", async () => {
    const o = await getRB(kube, namespace, "both");
    return o?.status?.members?.length === 2 && o.status.members.every((m: any) => m.phase === "Running") && o;
  });
  assert.equal(cond(rb.status.members[1].conditions, "RestoreJobCreated")?.status, "True");
  const job = await kube.get<any>("batch/v1", "Job", "stash-restore-both-1", namespace);
  assert.deepEqual(
    job.metadata.ownerReferences.map((o: any) => [o.kind, o.uid]),
    [["RestoreBatch", rb.metadata.uid]],
  );
  const args = job.spec.template.spec.containers[0].args;
  for (const a of ["--invoker-name=both", "--invoker-kind=RestoreBatch", "--target-name=data", "--target-kind=PersistentVolumeClaim", "--restore-model=job"])
    assert.ok(args.includes(a), `${a} in ${args.join(" ")}`);
  assert.ok(await initOf(kube, namespace, "web"), "Parallel: the workload member at once too");

  await kube.apply({
    apiVersion: V1B,
    kind: "RestoreBatch",
    metadata: { name: "bad", namespace },
    spec: { repository: { name: "repo" }, members: [member("Deployment", "web", [{ paths: ["/a"], snapshots: ["abcd1234"] }])] },
  });
  const bad = await eventually("Stalled", async () => {
    const o = await getRB(kube, namespace, "bad");
    return cond(o?.status?.conditions, "Stalled")?.status === "True" && o;
  });
  assert.equal(
    cond(bad.status.conditions, "ValidationPassed").message,
    "spec.members[0].target.rules[0]: snapshots and paths cannot be used together in a rule",
  );
  assert.equal(
    cond(bad.status.conditions, "Stalled").message,
    `RestoreBatch ${namespace}/bad, field spec.members[0].target.rules[0]: snapshots and paths cannot be used together in a rule`,
  );
  assert.deepEqual(await argoHealth(bad), { status: "Degraded", message: cond(bad.status.conditions, "Stalled").message });
});

test("a RestoreBatch past its timeOut fails with DeadlineExceeded (clock advanced, no sleeping)", async (t) => {
  const { kube, namespace } = await testNamespace("rb-deadline");
  const clock = new ManualClock(Date.now());
  const op = startOperator({ kube, namespace, image: "restash:test", clock });
  t.after(() => op.stop());
  await repo(kube, namespace);
  await kube.apply(deployment(namespace, "web"));
  await kube.apply({
    apiVersion: V1B,
    kind: "RestoreBatch",
    metadata: { name: "slow", namespace },
    spec: { repository: { name: "repo" }, timeOut: "30m", members: [member("Deployment", "web")] },
  });
  const running = await eventually("Running with a deadline", async () => {
    const o = await getRB(kube, namespace, "slow");
    return o?.status?.phase === "Running" && o.status.sessionDeadline && o;
  });
  assert.equal(Date.parse(running.status.sessionDeadline), Date.parse(running.metadata.creationTimestamp) + 30 * 60_000);
  clock.advance(31 * 60_000);
  const failed = await eventually("Failed", async () => {
    // The reconcile that wrote Running may schedule its deadline requeue only after this test saw
    // the status (the status is written before the reconcile returns): keep the clock moving so
    // that requeue comes due too.
    clock.advance(60_000);
    const o = await getRB(kube, namespace, "slow");
    return o?.status?.phase === "Failed" && o;
  });
  assert.equal(cond(failed.status.conditions, "DeadlineExceeded").message, "Failed to complete restore within 30m.");
  assert.equal(cond(failed.status.conditions, "MetricsPushed").status, "True");
  assert.deepEqual(await argoHealth(failed), { status: "Degraded", message: "Failed to complete restore within 30m." });
});
