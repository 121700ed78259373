import { test, after } from "node:test";
import assert from "node:assert/strict";
import { testNamespace, stopControlPlane } from "../testing/cluster.ts";
import { repository } from "../testing/stash-objects.ts";
import { ApiError, type Kube, type KubeObject } from "./kube/client.ts";
import { stalled, transient, waiting } from "./errors.ts";
import { healthAfter, reconciler, type KindReconciler } from "./reconcile.ts";
import { ManualClock, type Result } from "./workqueue.ts";
import type { Condition, HealthInput } from "./conditions.ts";

/** The Repository fields this test's kind writes and reads (lib/ does not import the generated types). */
type Repository = KubeObject & { status?: { totalSize?: string; observedGeneration?: number; conditions?: Condition[] } };

after(() => stopControlPlane());

const V1A = "stash.appscode.com/v1alpha1";
const T0 = Date.parse("2026-12-01T10:00:00Z");
const ready: HealthInput = { health: "Ready", reason: "Succeeded", message: "usable" };
const going: HealthInput = { health: "Reconciling", reason: "Running", message: "running" };
const failed: HealthInput = { health: "Stalled", reason: "Failed", message: "host-0 failed" };

test("health after a reconcile: without an error, what the status says", () => {
  for (const said of [ready, going, failed]) assert.deepEqual(healthAfter(said, false), said);
});

test("health after a Stalled error is Stalled with its reason and message, whatever the status says", () => {
  const e = stalled("ResourceValidationFailed", "a cron schedule is required", {
    object: { kind: "BackupConfiguration", namespace: "ns", name: "bc" },
    field: "spec.schedule",
  });
  const want = {
    health: "Stalled",
    reason: "ResourceValidationFailed",
    message: "BackupConfiguration ns/bc, field spec.schedule: a cron schedule is required",
  };
  for (const said of [ready, going, failed]) assert.deepEqual(healthAfter(said, true, e), want);
});

test("health after a Waiting or Transient error is Reconciling, with the error's reason or the status's own (Progressing for a Ready one)", () => {
  assert.deepEqual(healthAfter(ready, true, waiting("RepositoryNotAvailable", "Repository ns/r does not exist", 5000)), {
    health: "Reconciling",
    reason: "RepositoryNotAvailable",
    message: "Repository ns/r does not exist",
  });
  assert.deepEqual(healthAfter(going, true, transient("Unreachable", "connection refused")), {
    health: "Reconciling",
    reason: "Unreachable",
    message: "connection refused",
  });
  assert.deepEqual(healthAfter(ready, true, new Error("socket hang up")), { health: "Reconciling", reason: "Progressing", message: "socket hang up" });
  assert.deepEqual(healthAfter(going, true, new Error("socket hang up")), { health: "Reconciling", reason: "Running", message: "socket hang up" });
  // An API error carries the API server's reason; an empty one is no reason.
  assert.deepEqual(healthAfter(going, true, new ApiError(500, { message: "etcd down" }, "GET x")), {
    health: "Reconciling",
    reason: "Running",
    message: "GET x: 500 etcd down",
  });
  assert.deepEqual(healthAfter(going, true, new ApiError(409, { message: "changed", reason: "Conflict" }, "PATCH x")), {
    health: "Reconciling",
    reason: "Conflict",
    message: "PATCH x: 409 changed",
  });
});

test("health after any error on an object whose status says Stalled stays Stalled: a retry cannot undo a failure", () => {
  assert.deepEqual(healthAfter(failed, true, waiting("TargetNotAvailable", "target gone", 5000)), {
    health: "Stalled",
    reason: "TargetNotAvailable",
    message: "target gone",
  });
  assert.deepEqual(healthAfter(failed, true, new Error("socket hang up")), { health: "Stalled", reason: "Failed", message: "socket hang up" });
});

/** A kind for the skeleton: a Repository whose step records a size; what it did is in `calls`. */
function testKind(opts: { finalizer?: string; fail?: unknown; finalizeFails?: unknown; result?: Result }) {
  const calls: string[] = [];
  const kind: KindReconciler<{ kube: Kube; clock: ManualClock }, { size?: string }, Repository> = {
    apiVersion: V1A,
    kind: "Repository",
    finalizer: opts.finalizer,
    async finalize(_ctx, obj) {
      calls.push(`finalize ${obj.metadata.name}`);
      if (opts.finalizeFails) throw opts.finalizeFails;
    },
    begin(_ctx, obj, now) {
      calls.push(`begin ${obj.metadata.name} ${now.toISOString()} finalizers=${(obj.metadata.finalizers ?? []).join(",")}`);
      return {};
    },
    async steps(_ctx, _obj, s) {
      calls.push("steps");
      s.size = "1 KiB";
      if (opts.fail) throw opts.fail;
      return opts.result;
    },
    status(_ctx, obj, s) {
      calls.push("status");
      return {
        status: { ...(obj.status ?? {}), observedGeneration: obj.metadata.generation, totalSize: s.size },
        health: { health: "Ready", reason: "Succeeded", message: "Repository is usable." },
      };
    },
  };
  return { calls, reconcile: reconciler(kind) };
}

const kstatus = (o: Repository) =>
  (o.status?.conditions ?? []).map((c: any) => ({
    type: c.type,
    status: c.status,
    reason: c.reason,
    message: c.message,
    observedGeneration: c.observedGeneration,
    lastTransitionTime: c.lastTransitionTime,
  }));

test("a reconcile of an absent object does nothing and is done", async () => {
  const { kube, namespace } = await testNamespace("reconcile-absent");
  const { calls, reconcile } = testKind({ finalizer: "test.restash.dev" });
  assert.deepEqual(await reconcile({ kube, clock: new ManualClock(T0) }, namespace, "missing"), {});
  assert.deepEqual(calls, []);
});

test("a reconcile adds the finalizer, runs the steps, writes status and health once and returns the steps' result; an unchanged status is not written again", async () => {
  const { kube, namespace } = await testNamespace("reconcile-once");
  await kube.apply(repository(namespace, "r", { local: { mountPath: "/repo", hostPath: { path: "/x" } } }));
  const ctx = { kube, clock: new ManualClock(T0) };
  const { calls, reconcile } = testKind({ finalizer: "test.restash.dev", result: { requeueAfterMs: 30_000 } });
  assert.deepEqual(await reconcile(ctx, namespace, "r"), { requeueAfterMs: 30_000 });
  assert.deepEqual(calls, ["begin r 2026-12-01T10:00:00.000Z finalizers=test.restash.dev", "steps", "status"]);
  const r = await kube.get<Repository>(V1A, "Repository", "r", namespace);
  assert.deepEqual(r.metadata.finalizers, ["test.restash.dev"]);
  assert.equal(r.status?.totalSize, "1 KiB");
  assert.equal(r.status?.observedGeneration, 1);
  assert.deepEqual(kstatus(r), [
    { type: "Ready", status: "True", reason: "Succeeded", message: "Repository is usable.", observedGeneration: 1, lastTransitionTime: "2026-12-01T10:00:00Z" },
  ]);

  ctx.clock.advance(60_000);
  await reconcile(ctx, namespace, "r");
  const again = await kube.get<Repository>(V1A, "Repository", "r", namespace);
  assert.equal(again.metadata.resourceVersion, r.metadata.resourceVersion, "nothing changed, nothing written");
});

test("a Stalled step still gets its status written, Stalled, and the error goes on to the queue", async () => {
  const { kube, namespace } = await testNamespace("reconcile-stalled");
  await kube.apply(repository(namespace, "r", { local: { mountPath: "/repo", hostPath: { path: "/x" } } }));
  const e = stalled("ResourceValidationFailed", "wipe out operation is not supported for local backend", {
    object: { kind: "Repository", namespace, name: "r" },
    field: "spec.wipeOut",
  });
  const { reconcile } = testKind({ finalizer: "test.restash.dev", fail: e });
  await assert.rejects(reconcile({ kube, clock: new ManualClock(T0) }, namespace, "r"), (thrown) => thrown === e);
  const r = await kube.get<Repository>(V1A, "Repository", "r", namespace);
  assert.equal(r.status?.totalSize, "1 KiB", "what the steps did before the error is written");
  const message = `Repository ${namespace}/r, field spec.wipeOut: wipe out operation is not supported for local backend`;
  assert.deepEqual(kstatus(r), [
    { type: "Ready", status: "False", reason: "ResourceValidationFailed", message, observedGeneration: 1, lastTransitionTime: "2026-12-01T10:00:00Z" },
    { type: "Stalled", status: "True", reason: "ResourceValidationFailed", message, observedGeneration: 1, lastTransitionTime: "2026-12-01T10:00:00Z" },
  ]);
});

test("a Waiting step leaves the object Reconciling and the error goes on to the queue", async () => {
  const { kube, namespace } = await testNamespace("reconcile-waiting");
  await kube.apply(repository(namespace, "r", { local: { mountPath: "/repo", hostPath: { path: "/x" } } }));
  const e = waiting("BackendSecretNotAvailable", "backend Secret is missing", 5_000);
  const { reconcile } = testKind({ fail: e });
  await assert.rejects(reconcile({ kube, clock: new ManualClock(T0) }, namespace, "r"), (thrown) => thrown === e);
  const r = await kube.get<Repository>(V1A, "Repository", "r", namespace);
  assert.equal(r.metadata.finalizers, undefined, "a kind without a finalizer gets none");
  assert.deepEqual(kstatus(r), [
    {
      type: "Ready",
      status: "False",
      reason: "BackendSecretNotAvailable",
      message: "backend Secret is missing",
      observedGeneration: 1,
      lastTransitionTime: "2026-12-01T10:00:00Z",
    },
    {
      type: "Reconciling",
      status: "True",
      reason: "BackendSecretNotAvailable",
      message: "backend Secret is missing",
      observedGeneration: 1,
      lastTransitionTime: "2026-12-01T10:00:00Z",
    },
  ]);
});

test("an object being deleted is cleaned up before its finalizer goes; a failed clean-up keeps the finalizer and goes to the queue", async () => {
  const { kube, namespace } = await testNamespace("reconcile-delete");
  const clock = new ManualClock(T0);
  await kube.apply(repository(namespace, "r", { local: { mountPath: "/repo", hostPath: { path: "/x" } } }));
  await testKind({ finalizer: "test.restash.dev" }).reconcile({ kube, clock }, namespace, "r");
  await kube.delete({ apiVersion: V1A, kind: "Repository", metadata: { name: "r", namespace } });

  const e = waiting("BackupRunning", "a backup is running", 2_000);
  const blocked = testKind({ finalizer: "test.restash.dev", finalizeFails: e });
  await assert.rejects(blocked.reconcile({ kube, clock }, namespace, "r"), (thrown) => thrown === e);
  assert.deepEqual(blocked.calls, ["finalize r"], "no steps and no status for an object being deleted");
  assert.deepEqual((await kube.get<Repository>(V1A, "Repository", "r", namespace)).metadata.finalizers, ["test.restash.dev"]);

  const done = testKind({ finalizer: "test.restash.dev" });
  assert.deepEqual(await done.reconcile({ kube, clock }, namespace, "r"), {});
  assert.deepEqual(done.calls, ["finalize r"]);
  assert.equal(await kube.getOrNull(V1A, "Repository", "r", namespace), null);
});

test("an object being deleted without the kind's finalizer is left alone", async () => {
  const { kube, namespace } = await testNamespace("reconcile-delete-other");
  await kube.apply({
    ...repository(namespace, "r", { local: { mountPath: "/repo", hostPath: { path: "/x" } } }),
    metadata: { name: "r", namespace, finalizers: ["someone.else/keep"] },
  });
  await kube.delete({ apiVersion: V1A, kind: "Repository", metadata: { name: "r", namespace } });
  const deleting = await kube.get<Repository>(V1A, "Repository", "r", namespace);
  for (const finalizer of ["test.restash.dev", undefined]) {
    const { calls, reconcile } = testKind({ finalizer });
    assert.deepEqual(await reconcile({ kube, clock: new ManualClock(T0) }, namespace, "r"), {});
    assert.deepEqual(calls, []);
  }
  const r = await kube.get<Repository>(V1A, "Repository", "r", namespace);
  assert.equal(r.metadata.resourceVersion, deleting.metadata.resourceVersion, "neither status nor finalizers written");
  // Let the namespace go.
  await kube.mergePatch(r, { metadata: { finalizers: null } });
});
