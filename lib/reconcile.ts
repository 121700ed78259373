// The one reconcile skeleton every kind runs (Flux's Reconcile with its deferred finalizeStatus):
// read the object (absent: done); being deleted: the kind's clean-up, then its finalizer goes;
// otherwise the finalizer is added, the kind's steps run, and in `finally` the status and the
// kstatus health are written once (lib/status.ts: skipped when unchanged, Events after it lands).
// How the steps ended decides health here, for every kind; the error then goes to the work queue,
// whose shouldRetry turns its kind (lib/errors.ts) into what happens next.
import { setHealth, type Condition, type HealthInput } from "./conditions.ts";
import { errorKind, errorMessage } from "./errors.ts";
import type { Kube, KubeObject } from "./kube/client.ts";
import { writeStatus, type StatusOf } from "./status.ts";
import type { Clock, Result } from "./workqueue.ts";

/** What the skeleton itself needs from a controller's context. */
export interface ReconcileEnv {
  kube: Kube;
  clock: Clock;
}

/** One kind's part of the reconcile; `S` is what its steps build up for the status (a draft, the conditions); `O` the kind's type. */
export interface KindReconciler<C extends ReconcileEnv, S, O extends KubeObject = KubeObject> {
  apiVersion: string;
  kind: string;
  /** Added before the steps and released after `finalize` on deletion. Absent: a deleted object is left alone. */
  finalizer?: string;
  /** Clean-up before the finalizer is released; a thrown error keeps it (the queue retries). */
  finalize?(ctx: C, obj: O): Promise<void>;
  /** The state of one reconcile, from the object as read (the finalizer already on it). */
  begin(ctx: C, obj: O, now: Date): S | Promise<S>;
  /** The kind's steps, in order; a typed error (lib/errors.ts) stops them. */
  steps(ctx: C, obj: O, state: S): Promise<Result | void>;
  /** The status to write, whatever the steps did, and the health that status alone says. */
  status(ctx: C, obj: O, state: S): { status: StatusOf<O>; health: HealthInput };
}

/**
 * The health written after a reconcile: what the status says, unless the steps failed. A Stalled
 * error, or a failure on an object whose status already says Stalled (failed, invalid), stays
 * Stalled: no retry helps until the spec changes. A Waiting or Transient error leaves it
 * Reconciling: the queue tries again. The error's reason and message say why.
 */
export function healthAfter(said: HealthInput, failed: boolean, failure?: unknown): HealthInput {
  if (!failed) return said;
  const own = (failure as { reason?: unknown } | undefined)?.reason;
  const reason = typeof own === "string" && own ? own : undefined;
  const message = errorMessage(failure);
  if (errorKind(failure) === "Stalled" || said.health === "Stalled") return { health: "Stalled", reason: reason ?? said.reason, message };
  return { health: "Reconciling", reason: reason ?? (said.health === "Ready" ? "Progressing" : said.reason), message };
}

/** The reconcile of one kind: `(ctx, namespace, name)`, as the work queue calls it. */
export function reconciler<C extends ReconcileEnv, S, O extends KubeObject = KubeObject>(
  k: KindReconciler<C, S, O>,
): (ctx: C, namespace: string, name: string) => Promise<Result> {
  return async (ctx, namespace, name) => {
    let obj = await ctx.kube.getOrNull<O>(k.apiVersion, k.kind, name, namespace);
    if (!obj) return {};
    if (obj.metadata.deletionTimestamp) {
      if (!k.finalizer || !(obj.metadata.finalizers ?? []).includes(k.finalizer)) return {};
      await k.finalize?.(ctx, obj);
      await setFinalizer(ctx.kube, obj, k.finalizer, false);
      return {};
    }
    if (k.finalizer) obj = await setFinalizer(ctx.kube, obj, k.finalizer, true);
    const now = new Date(ctx.clock.now());
    const state = await k.begin(ctx, obj, now);
    let result: Result = {};
    let failed = false;
    let failure: unknown;
    try {
      result = (await k.steps(ctx, obj, state)) ?? {};
    } catch (e) {
      failed = true;
      failure = e;
    } finally {
      const { status, health } = k.status(ctx, obj, state);
      const withHealth = status as StatusOf<O> & { conditions?: Condition[] };
      withHealth.conditions = setHealth(withHealth.conditions, healthAfter(health, failed, failure), now, obj.metadata.generation);
      await writeStatus(ctx.kube, obj, status);
    }
    // Every error goes on to the queue, Stalled too: it is logged and counted as a failed
    // reconcile (restash_reconcile_errors_total), and the queue's shouldRetry does not retry it,
    // as controller-runtime does with a TerminalError. Swallowing it here would hide a stalled
    // object from the log and the metric; the next spec change brings it back.
    if (failed) throw failure;
    return result;
  };
}

/** Adds or removes a finalizer with a merge patch guarded by resourceVersion. */
export async function setFinalizer<T extends KubeObject>(kube: Kube, obj: T, finalizer: string, present: boolean): Promise<T> {
  const list = obj.metadata.finalizers ?? [];
  if (list.includes(finalizer) === present) return obj;
  const finalizers = present ? [...list, finalizer] : list.filter((f) => f !== finalizer);
  return kube.mergePatch<T>(obj, { metadata: { resourceVersion: obj.metadata.resourceVersion, finalizers } });
}
