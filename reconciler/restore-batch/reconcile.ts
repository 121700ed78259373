// RestoreBatch reconcile (stash-behaviour.md 1.9, 2.5, 2.6; S:pkg/controller/restore_session.go,
// which Stash runs for every restore invoker): validate each member's rules, find the Repository
// and its Secret, run the global preRestore hook once, then per member in the execution order
// (Sequential: a member waits until every earlier one is done) find the target, ensure its
// executor (init-container or restore Job, restore-executor.ts) and set its totalHosts. Members'
// hosts write their stats into status.members[]; once every member is done, the global
// postRestore hook runs and metrics are pushed. The phase is Stash's calculateRestoreBatchPhase;
// status and health are written by lib/reconcile.ts.
import { getCondition, isFalse, isTrue, rfc3339, setCondition, type HealthInput } from "../../lib/conditions.ts";
import { errorMessage, stalled } from "../../lib/errors.ts";
import { reconciler } from "../../lib/reconcile.ts";
import type { Repository, RestoreBatch, RestoreBatchStatus, RestoreMemberStatus, TargetRef } from "../../schema/types.generated.ts";
import type { Result } from "../../lib/workqueue.ts";
import { findBackendSecret, findRepository, findTarget, setCond, usageAllowed, type StepState } from "../invoker/dependencies.ts";
import { globalHookSummary, operatorExecutor, runGlobalHook } from "../invoker/global-hooks.ts";
import { RESTORE_BATCH, executionOrder, memberView, nextInOrder, sameRef, targetsOf, type RestoreTargetInfo } from "../../stash/invoker-targets.ts";
import type { ControllerContext } from "../context.ts";
import { goDuration, parseGoDuration, restoreBatchCompleted, restoreBatchPhase, restoreTargetPhase, type RestorePhase } from "../../stash/phases.ts";
import { ensureRestoreExecutor, restoreTotalHosts } from "../restore-session/restore-executor.ts";
import { rulesOf, validateRules } from "../../stash/restore-rules.ts";
import { C, R } from "../../stash/conditions.ts";
import { FINALIZER, REQUEUE_MS, V1ALPHA1, V1BETA1 } from "../../stash/names.ts";
import { removeInitContainerFor } from "../invoker/workload.ts";

const FINAL: (string | undefined)[] = ["Succeeded", "Failed", "Unknown"];
const done = (m: RestoreMemberStatus | undefined) => ["Succeeded", "Failed", "Unknown"].includes(restoreTargetPhase(m));

/** The first problem with the members, naming the field; null when valid. */
export function validateRestoreBatch(rb: RestoreBatch): { field: string; message: string } | null {
  const infos = targetsOf(rb);
  if (infos.length === 0) return { field: "spec.members", message: "a RestoreBatch needs at least one member" };
  const seen: TargetRef[] = [];
  for (const info of infos) {
    const ref = info.target?.ref;
    if (!ref?.kind || !ref?.name) return { field: `${info.field}.ref`, message: "kind and name are required" };
    if (seen.some((r) => sameRef(r, ref)))
      return { field: `${info.field}.ref`, message: `${ref.kind} ${ref.namespace}/${ref.name} is the target of an earlier member` };
    seen.push(ref);
    const bad = validateRules(rulesOf(memberView(rb, info)), `${info.field}.rules`);
    if (bad) return bad;
  }
  return null;
}

/** What one reconcile of a RestoreBatch builds up: a draft of its status, its conditions, its members' entries. */
interface RestoreBatchState {
  status: RestoreBatchStatus;
  st: StepState;
  infos: RestoreTargetInfo[];
  members: RestoreMemberStatus[];
}

export const reconcileRestoreBatch = reconciler<ControllerContext, RestoreBatchState, RestoreBatch>({
  apiVersion: V1BETA1,
  kind: RESTORE_BATCH,
  finalizer: FINALIZER,
  finalize: (ctx, rb) => removeInitContainerFor(ctx.kube, rb),
  begin(_ctx, rb, now) {
    const status: RestoreBatchStatus = structuredClone(rb.status ?? {});
    return {
      status,
      st: { conditions: status.conditions ?? [], now, generation: rb.metadata.generation },
      infos: targetsOf(rb),
      members: status.members ?? [],
    };
  },
  steps,
  status(_ctx, rb, { status, st, infos, members }) {
    const t = st.now;
    status.conditions = st.conditions;
    // Spec order; a member no longer in the spec is dropped.
    const ordered = infos
      .map((info) => members.find((x) => sameRef(x.ref, info.target?.ref, rb.metadata.namespace)))
      .filter((m): m is RestoreMemberStatus => m !== undefined);
    for (const m of ordered) m.phase = restoreTargetPhase(m);
    if (ordered.length) status.members = ordered;
    else delete status.members;
    const phase = restoreBatchPhase(status, infos.length);
    if (FINAL.includes(phase) && !status.sessionDuration && rb.metadata.creationTimestamp)
      status.sessionDuration = goDuration(t.getTime() - Date.parse(String(rb.metadata.creationTimestamp)));
    status.phase = phase;
    status.observedGeneration = rb.metadata.generation;
    const health: HealthInput =
      phase === "Succeeded"
        ? { health: "Ready", reason: "Succeeded", message: "Restore succeeded." }
        : FINAL.includes(phase) || phase === "Invalid"
          ? { health: "Stalled", reason: phase, message: restoreBatchFailure(status) }
          : { health: "Reconciling", reason: phase, message: `RestoreBatch is ${phase}.` };
    return { status, health };
  },
});

async function steps(ctx: ControllerContext, rb: RestoreBatch, { status, st, infos, members }: RestoreBatchState): Promise<Result> {
  const { kube } = ctx;
  const t = st.now;
  const namespace = rb.metadata.namespace!;
  const name = rb.metadata.name!;
  const memberOf = (info: RestoreTargetInfo) => {
    let m = members.find((x) => sameRef(x.ref, info.target?.ref, namespace));
    // validateRestoreBatch requires every member's ref before a member entry is needed.
    if (!m) members.push((m = { ref: info.target!.ref! }));
    return m;
  };
  // Stash calls a failed member final before metrics are pushed; the metrics still go out.
  if (FINAL.includes(status.phase) && getCondition(st.conditions, C.MetricsPushed)) return {};
  if (status.sessionDeadline && t.getTime() > Date.parse(status.sessionDeadline) && !isTrue(st.conditions, C.DeadlineExceeded)) {
    setCond(st, C.DeadlineExceeded, true, R.FailedToCompleteWithinDeadline, `Failed to complete restore within ${rb.spec?.timeOut}.`);
  }
  status.members = members;
  status.conditions = st.conditions;
  if (restoreBatchCompleted(status, infos.length)) {
    await finish(ctx, rb, status, st, infos.length);
    return {};
  }
  const bad = validateRestoreBatch(rb);
  if (bad) {
    setCond(st, C.ValidationPassed, false, R.ResourceValidationFailed, `${bad.field}: ${bad.message}`);
    throw stalled(R.ResourceValidationFailed, bad.message, { object: { kind: RESTORE_BATCH, namespace, name }, field: bad.field });
  }
  const repo = await findRepository(kube, st, rb);
  await findBackendSecret(kube, st, rb, repo);
  if (!(await usageAllowed(kube, repo, namespace))) {
    const msg = `namespace "${namespace}" is not allowed to refer Repository "${repo.metadata.name}" of "${repo.metadata.namespace}" namespace. Please, check the usagePolicy of the Repository`;
    setCond(st, C.ValidationPassed, false, R.ResourceValidationFailed, msg);
    throw stalled(R.ResourceValidationFailed, msg, { object: { kind: RESTORE_BATCH, namespace, name }, field: "spec.repository" });
  }
  setCond(st, C.ValidationPassed, true, R.ResourceValidationPassed, "Successfully validated.");

  // The global preRestore hook: once, before any member is restored; a failure ends the batch.
  const globalPre = rb.spec?.hooks?.preRestore;
  if (globalPre && !getCondition(st.conditions, C.GlobalPreRestoreHookSucceeded)) {
    const o = await runGlobalHook("preRestore", globalPre, globalHookSummary({ name, namespace }, rb, "Running"), operatorExecutor(ctx.kube, ctx.opts.ownPod));
    setCond(st, o.type, o.status, o.reason, o.message);
    if (!o.status) {
      status.conditions = st.conditions;
      await finish(ctx, rb, status, st, infos.length);
      return {};
    }
  }

  const order = executionOrder(rb);
  let waiting = false;
  for (const info of infos) {
    const m = memberOf(info);
    // Stash's targetRestoreInitiated: done, the executor ensured, or hosts known.
    if (done(m) || getCondition(m.conditions, C.RestoreExecutorEnsured) || m.totalHosts !== undefined) continue;
    if (!nextInOrder(order, info.index, (i) => done(memberOf(infos[i])))) {
      waiting = true;
      continue;
    }
    const ms: StepState = { conditions: m.conditions ?? [], now: t, generation: rb.metadata.generation };
    try {
      const target = await findTarget(kube, ms, rb, C.RestoreTargetFound, "Restore", info);
      await ensureRestoreExecutor(ctx, ms, rb, repo, info);
      m.totalHosts = restoreTotalHosts(info, target);
    } finally {
      m.conditions = ms.conditions;
    }
  }
  if (rb.spec?.timeOut && !status.sessionDeadline) {
    const ms = parseGoDuration(rb.spec.timeOut);
    if (Number.isFinite(ms)) status.sessionDeadline = rfc3339(new Date(Date.parse(String(rb.metadata.creationTimestamp)) + ms));
  }
  let result: Result = {};
  if (waiting) result = { requeueAfterMs: REQUEUE_MS };
  if (status.sessionDeadline) {
    const left = Math.max(Date.parse(status.sessionDeadline) - t.getTime() + 1000, 1000);
    result = { requeueAfterMs: Math.min(left, result.requeueAfterMs ?? left) };
  }
  status.conditions = st.conditions;
  if (restoreBatchCompleted(status, infos.length)) await finish(ctx, rb, status, st, infos.length);
  return result;
}

/** The first failure a user needs to read: a member's host error, a False condition, the deadline. */
export function restoreBatchFailure(status: RestoreBatchStatus): string {
  for (const m of status.members ?? []) {
    for (const s of m.stats ?? [])
      if (s.phase === "Failed" || s.phase === "Unknown")
        return `${m.ref?.kind} ${m.ref?.name}, host ${s.hostname}: ${s.error ?? `restore ${String(s.phase).toLowerCase()}`}`;
    for (const c of m.conditions ?? []) if (c.status === "False") return `${m.ref?.kind} ${m.ref?.name}: ${c.message ?? c.reason}`;
  }
  for (const c of status.conditions ?? []) {
    if (c.type === "Ready" || c.type === "Stalled" || c.type === "Reconciling") continue;
    if (c.status === "False" || (c.type === C.DeadlineExceeded && c.status === "True")) return c.message ?? c.reason ?? "RestoreBatch failed.";
  }
  return "RestoreBatch failed.";
}

/** The phase the batch will have once MetricsPushed is True. */
function previewPhase(status: RestoreBatchStatus, st: StepState, total: number): RestorePhase {
  return restoreBatchPhase({ ...status, conditions: setCondition(st.conditions, { type: C.MetricsPushed, status: true }, st.now) }, total);
}

async function finish(ctx: ControllerContext, rb: RestoreBatch, status: RestoreBatchStatus, st: StepState, total: number): Promise<void> {
  for (const m of status.members ?? []) m.phase = restoreTargetPhase(m);
  const globalPost = rb.spec?.hooks?.postRestore;
  if (globalPost && !getCondition(st.conditions, C.GlobalPostRestoreHookSucceeded) && !isFalse(st.conditions, C.GlobalPreRestoreHookSucceeded)) {
    status.conditions = st.conditions;
    const o = await runGlobalHook(
      "postRestore",
      globalPost,
      globalHookSummary({ name: rb.metadata.name!, namespace: rb.metadata.namespace! }, rb, previewPhase(status, st, total)),
      operatorExecutor(ctx.kube, ctx.opts.ownPod),
    );
    setCond(st, o.type, o.status, o.reason, o.message);
  }
  if (getCondition(st.conditions, C.MetricsPushed)) return;
  status.conditions = st.conditions;
  try {
    if (ctx.pushSessionMetrics) {
      const repoName = rb.spec?.repository?.name;
      const repo = repoName
        ? await ctx.kube.getOrNull<Repository>(V1ALPHA1, "Repository", repoName, rb.spec?.repository?.namespace || rb.metadata.namespace)
        : null;
      await ctx.pushSessionMetrics("RestoreSession", { ...rb, status: { ...status, phase: previewPhase(status, st, total) } }, rb, repo);
      setCond(st, C.MetricsPushed, true, R.SuccessfullyPushedMetrics, "Successfully pushed metrics.");
    } else {
      setCond(st, C.MetricsPushed, true, R.SuccessfullyPushedMetrics, "Metrics are disabled: no pushgateway URL configured.");
    }
  } catch (e) {
    setCond(st, C.MetricsPushed, false, R.FailedToPushMetrics, `Failed to push metrics. Reason: ${errorMessage(e)}`);
  }
}
