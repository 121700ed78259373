// RestoreSession reconcile (stash-behaviour.md 1.5, 2.5, 2.6): validate the rules, find the
// Repository, Secret and target, ensure the executor (init-container for workloads, Job for
// PVCs; restore-executor.ts, shared with RestoreBatch members), set totalHosts and the deadline;
// once every host reported, push metrics and finish. Status and health: lib/reconcile.ts.
import { getCondition, isFalse, isTrue, rfc3339, type Condition, type HealthInput } from "../../lib/conditions.ts";
import { errorMessage, stalled } from "../../lib/errors.ts";
import { reconciler } from "../../lib/reconcile.ts";
import type { HostRestoreStats, Repository, RestoreSession, RestoreSessionStatus } from "../../schema/types.generated.ts";
import type { Result } from "../../lib/workqueue.ts";
import { findBackendSecret, findRepository, findTarget, setCond, usageAllowed, type StepState } from "../invoker/dependencies.ts";
import type { ControllerContext } from "../context.ts";
import { goDuration, parseGoDuration, restoreCompleted, restoreSessionPhase } from "../../stash/phases.ts";
import { rulesOf, validateRules } from "../../stash/restore-rules.ts";
import { C, R } from "../../stash/conditions.ts";
import { FINALIZER, V1BETA1, backupModel } from "../../stash/names.ts";
import { removeInitContainerFor } from "../invoker/workload.ts";
import { ensureRestoreExecutor, restoreTotalHosts } from "./restore-executor.ts";
import { targetsOf } from "../../stash/invoker-targets.ts";

const KIND = "RestoreSession";
const FINAL: (string | undefined)[] = ["Succeeded", "Failed", "Unknown", "Invalid"];

/** What one reconcile of a RestoreSession builds up: a draft of its status and its conditions. */
interface RestoreSessionState {
  status: RestoreSessionStatus;
  st: StepState;
}

export const reconcileRestoreSession = reconciler<ControllerContext, RestoreSessionState, RestoreSession>({
  apiVersion: V1BETA1,
  kind: KIND,
  finalizer: FINALIZER,
  async finalize(ctx, rs) {
    if (backupModel(rs.spec?.target?.ref?.kind, rs.spec?.task?.name) === "sidecar") await removeInitContainerFor(ctx.kube, rs);
  },
  begin(_ctx, rs, now) {
    const status: RestoreSessionStatus = structuredClone(rs.status ?? {});
    return { status, st: { conditions: status.conditions ?? [], now, generation: rs.metadata.generation } };
  },
  steps,
  status(_ctx, rs, { status, st }) {
    const t = st.now;
    status.conditions = st.conditions;
    const phase = restoreSessionPhase(status);
    if (FINAL.includes(phase) && phase !== "Invalid" && !status.sessionDuration && rs.metadata.creationTimestamp)
      status.sessionDuration = goDuration(t.getTime() - Date.parse(String(rs.metadata.creationTimestamp)));
    status.phase = phase;
    status.observedGeneration = rs.metadata.generation;
    const health: HealthInput =
      phase === "Succeeded"
        ? { health: "Ready", reason: "Succeeded", message: "Restore succeeded." }
        : phase === "Failed" || phase === "Invalid" || phase === "Unknown"
          ? { health: "Stalled", reason: phase, message: restoreFailure(status) }
          : { health: "Reconciling", reason: phase, message: `RestoreSession is ${phase}.` };
    return { status, health };
  },
});

async function steps(ctx: ControllerContext, rs: RestoreSession, { status, st }: RestoreSessionState): Promise<Result> {
  const { kube } = ctx;
  const t = st.now;
  const namespace = rs.metadata.namespace!;
  const name = rs.metadata.name!;
  if (FINAL.includes(status.phase)) return {};
  if (status.sessionDeadline && t.getTime() > Date.parse(status.sessionDeadline) && !isTrue(st.conditions, C.DeadlineExceeded)) {
    setCond(st, C.DeadlineExceeded, true, R.FailedToCompleteWithinDeadline, `Failed to complete restore within ${rs.spec?.timeOut}.`);
  }
  status.conditions = st.conditions;
  if (restoreCompleted(status) && !waitingForPostRestoreHook(rs, status)) {
    await finish(ctx, rs, status, st);
    return {};
  }
  const obj = { kind: KIND, namespace, name };
  const bad = validateRules(rulesOf(rs), rs.spec?.target?.rules ? "spec.target.rules" : "spec.rules");
  if (bad) {
    setCond(st, C.ValidationPassed, false, R.ResourceValidationFailed, `${bad.field}: ${bad.message}`);
    throw stalled(R.ResourceValidationFailed, bad.message, { object: obj, field: bad.field });
  }
  const repo = await findRepository(kube, st, rs);
  await findBackendSecret(kube, st, rs, repo);
  if (!(await usageAllowed(kube, repo, namespace))) {
    const msg = `namespace "${namespace}" is not allowed to refer Repository "${repo.metadata.name}" of "${repo.metadata.namespace}" namespace. Please, check the usagePolicy of the Repository`;
    setCond(st, C.ValidationPassed, false, R.ResourceValidationFailed, msg);
    throw stalled(R.ResourceValidationFailed, msg, { object: obj, field: "spec.repository" });
  }
  setCond(st, C.ValidationPassed, true, R.ResourceValidationPassed, "Successfully validated.");
  const target = await findTarget(kube, st, rs, C.RestoreTargetFound, "Restore");

  // The one target, through the same executor and host count a RestoreBatch member gets.
  const info = targetsOf(rs)[0];
  if (!getCondition(st.conditions, C.RestoreExecutorEnsured)) await ensureRestoreExecutor(ctx, st, rs, repo, info);
  if (status.totalHosts === undefined && target) status.totalHosts = restoreTotalHosts(info, target);
  if (rs.spec?.timeOut && !status.sessionDeadline) {
    const ms = parseGoDuration(rs.spec.timeOut);
    if (Number.isFinite(ms)) status.sessionDeadline = rfc3339(new Date(Date.parse(String(rs.metadata.creationTimestamp)) + ms));
  }
  let result: Result = {};
  if (status.sessionDeadline) result = { requeueAfterMs: Math.max(Date.parse(status.sessionDeadline) - t.getTime() + 1000, 1000) };
  status.conditions = st.conditions;
  if (restoreCompleted(status) && !waitingForPostRestoreHook(rs, status)) await finish(ctx, rs, status, st);
  return result;
}

/**
 * Stash waits for the target's postRestore hook before finishing (a Task pod's post-task-hook
 * runs after update-status wrote the host results), unless preRestore failed. restash does not
 * wait either when a host failed or the deadline passed: a real Job stops at the failed
 * update-status, so its post-task-hook never runs.
 */
export function waitingForPostRestoreHook(
  rs: Pick<RestoreSession, "spec">,
  status: { conditions?: readonly Condition[]; stats?: readonly HostRestoreStats[] } | undefined,
): boolean {
  const cs = status?.conditions ?? [];
  if (!rs.spec?.hooks?.postRestore || getCondition(cs, C.PostRestoreHookExecutionSucceeded)) return false;
  if (isFalse(cs, C.PreRestoreHookExecutionSucceeded) || isFalse(cs, C.RestoreExecutorEnsured) || isTrue(cs, C.DeadlineExceeded)) return false;
  return (status?.stats ?? []).every((s) => s.phase === "Succeeded");
}

function restoreFailure(status: RestoreSessionStatus): string {
  for (const s of status.stats ?? []) if (s.phase === "Failed") return `host ${s.hostname}: ${s.error ?? "restore failed"}`;
  for (const c of status.conditions ?? [])
    if (c.status === "False" || (c.type === C.DeadlineExceeded && c.status === "True")) return c.message ?? c.reason ?? "RestoreSession failed.";
  return "RestoreSession failed.";
}

async function finish(ctx: ControllerContext, rs: RestoreSession, status: RestoreSessionStatus, st: StepState): Promise<void> {
  if (!getCondition(st.conditions, C.RestoreCompleted))
    setCond(st, C.RestoreCompleted, true, R.PostRestoreTasksExecuted, "Post-restore tasks have been executed successfully.");
  if (getCondition(st.conditions, C.MetricsPushed)) return;
  status.conditions = st.conditions;
  try {
    if (ctx.pushSessionMetrics) {
      const repoName = rs.spec?.repository?.name;
      const repo = repoName
        ? await ctx.kube.getOrNull<Repository>(
            V1BETA1.replace("v1beta1", "v1alpha1"),
            "Repository",
            repoName,
            rs.spec?.repository?.namespace || rs.metadata.namespace,
          )
        : null;
      const preview = { ...status, conditions: [...st.conditions, { type: C.MetricsPushed, status: "True" as const }] };
      await ctx.pushSessionMetrics("RestoreSession", { ...rs, status: { ...status, phase: restoreSessionPhase(preview) } }, rs, repo);
      setCond(st, C.MetricsPushed, true, R.SuccessfullyPushedMetrics, "Successfully pushed metrics.");
    } else {
      setCond(st, C.MetricsPushed, true, R.SuccessfullyPushedMetrics, "Metrics are disabled: no pushgateway URL configured.");
    }
  } catch (e) {
    setCond(st, C.MetricsPushed, false, R.FailedToPushMetrics, `Failed to push metrics. Reason: ${errorMessage(e)}`);
  }
}
