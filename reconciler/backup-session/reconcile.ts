// BackupSession reconcile (stash-behaviour.md 2.4): retry finished sessions, finish completed
// ones (a batch's global postBackup hook, history cleanup, metrics), enforce the deadline, skip
// when the invoker is not ready or another session runs, run a batch's global preBackup hook,
// initiate every target in the invoker's execution order (sidecar check or backup Job), then
// compute the phase. A BackupConfiguration has one target, a BackupBatch one per member.
// Status is written once, in lib/reconcile.ts's `finally`; the runner writes host stats into the
// same status and both use resourceVersion-guarded writes.
import { ensureRunnerBinding, jobServiceAccount } from "../invoker/runner-rbac.ts";
import type { V1DaemonSet, V1Deployment, V1Job, V1Pod, V1ReplicaSet, V1StatefulSet } from "@kubernetes/client-node";
import { getCondition, isFalse, isTrue, rfc3339, type Condition as LibCondition, type HealthInput } from "../../lib/conditions.ts";
import { errorMessage } from "../../lib/errors.ts";
import { reconciler } from "../../lib/reconcile.ts";
import type {
  BackupSession,
  BackupSessionStatus,
  BackupTargetStatus,
  Condition,
  Repository,
  SessionTargetRef,
  TargetRef,
} from "../../schema/types.generated.ts";
import type { Result } from "../../lib/workqueue.ts";
import { desiredBackupJob } from "./backup-job.ts";
import { executorVerdict } from "./executor-failure.ts";
import { setCond, setStashCondition, type StepState } from "../invoker/dependencies.ts";
import { sessionsToDelete } from "../../stash/history.ts";
import { newBackupSession } from "../../stash/new-backup-session.ts";
import { now, type ControllerContext } from "../context.ts";
import {
  backupSessionCompleted,
  backupSessionPhase,
  backupTargetPhase,
  goDuration,
  isFinalSessionPhase,
  parseGoDuration,
  type SessionPhase,
} from "../../stash/phases.ts";
import { C, R } from "../../stash/conditions.ts";
import {
  DEFAULT_BACKUP_HISTORY_LIMIT,
  LABEL_INVOKER_NAME,
  LABEL_INVOKER_TYPE,
  SIDECAR_CONTAINER,
  V1ALPHA1,
  V1BETA1,
  backupJobName,
  backupModel,
} from "../../stash/names.ts";
import { setCondition } from "../../lib/conditions.ts";
import { invokerTaskPod } from "../../stash/tasks/invoker-task.ts";
import { targetApiVersion } from "../invoker/workload.ts";
import {
  BACKUP_BATCH,
  executionOrder,
  memberView,
  nextInOrder,
  sameRef,
  targetsOf,
  type BackupInvoker,
  type BackupTargetInfo,
} from "../../stash/invoker-targets.ts";
import { globalHookSummary, operatorExecutor, runGlobalHook } from "../invoker/global-hooks.ts";
import { REQUEUE_MS } from "../../stash/names.ts";

/**
 * Stash waits for each target's postBackup hook before finishing the session (a Task pod's
 * post-task-hook runs after update-status wrote the host results), unless its preBackup failed.
 * restash does not wait either for a target whose hosts failed or past the deadline: a real Job
 * stops at the failed update-status, so its post-task-hook never runs.
 */
export function waitingForPostBackupHooks(
  invoker: BackupInvoker | null,
  status:
    | { conditions?: readonly LibCondition[]; targets?: readonly (Omit<BackupTargetStatus, "conditions"> & { conditions?: readonly LibCondition[] })[] }
    | undefined,
): boolean {
  if (!invoker || isTrue(status?.conditions, C.DeadlineExceeded)) return false;
  const ns = invoker.metadata.namespace;
  return targetsOf(invoker).some((info) => {
    if (!info.hooks?.postBackup) return false;
    const t = (status?.targets ?? []).find((x) => sameRef(x.ref, info.target?.ref, ns));
    const cs = t?.conditions ?? [];
    if (!t || getCondition(cs, C.PostBackupHookExecutionSucceeded) || isFalse(cs, C.PreBackupHookExecutionSucceeded) || isFalse(cs, C.BackupExecutorEnsured))
      return false;
    const stats = t.stats ?? [];
    return stats.length > 0 && stats.every((s) => s.phase === "Succeeded");
  });
}

/** What one reconcile of a BackupSession works with: its invoker, a draft of its status, its conditions. */
interface BackupSessionState {
  invoker: BackupInvoker | null;
  status: BackupSessionStatus;
  st: StepState;
}

// No finalizer: a deleted BackupSession is left alone.
export const reconcileBackupSession = reconciler<ControllerContext, BackupSessionState, BackupSession>({
  apiVersion: V1BETA1,
  kind: "BackupSession",
  async begin(ctx, bs, now) {
    const inv = bs.spec?.invoker;
    const invoker = inv?.name ? await ctx.kube.getOrNull<BackupInvoker>(V1BETA1, inv.kind ?? "BackupConfiguration", inv.name, bs.metadata.namespace) : null;
    const status: BackupSessionStatus = structuredClone(bs.status ?? {});
    return { invoker, status, st: { conditions: status.conditions ?? [], now, generation: bs.metadata.generation } };
  },
  steps,
  status(_ctx, bs, { status, st }) {
    status.conditions = st.conditions;
    for (const target of status.targets ?? []) target.phase = backupTargetPhase(target);
    const phase = backupSessionPhase(status);
    if (isFinalSessionPhase(phase) && !status.sessionDuration && bs.metadata.creationTimestamp) {
      status.sessionDuration = goDuration(st.now.getTime() - Date.parse(String(bs.metadata.creationTimestamp)));
    }
    status.phase = phase;
    status.observedGeneration = bs.metadata.generation;
    const health: HealthInput =
      phase === "Succeeded" || phase === "Skipped"
        ? { health: "Ready", reason: phase, message: `BackupSession ${phase.toLowerCase()}.` }
        : phase === "Failed"
          ? { health: "Stalled", reason: "Failed", message: failureMessage(status) }
          : { health: "Reconciling", reason: phase, message: `BackupSession is ${phase}.` };
    return { status, health };
  },
});

async function steps(ctx: ControllerContext, bs: BackupSession, { invoker, status, st }: BackupSessionState): Promise<Result> {
  const t = st.now;
  if (isFinalSessionPhase(status.phase)) return retry(ctx, bs, invoker, status);
  // Deadline first: an overdue session is completed (and then Failed) whatever its targets say.
  if (status.sessionDeadline && t.getTime() > Date.parse(status.sessionDeadline) && !isTrue(st.conditions, C.DeadlineExceeded)) {
    setCond(st, C.DeadlineExceeded, true, R.FailedToCompleteWithinDeadline, `Failed to complete backup within ${invoker?.spec?.timeOut ?? "the deadline"}.`);
  }
  status.conditions = st.conditions;
  // A Job target whose pod failed or cannot start never reports: end it with the pod's reason.
  const recheckMs = invoker && !isTrue(st.conditions, C.DeadlineExceeded) ? await checkBackupJobs(ctx, bs, invoker, status, t) : undefined;
  const total = invoker ? targetsOf(invoker).length : undefined;
  if ((backupSessionCompleted(status, total) && !waitingForPostBackupHooks(invoker, status)) || isTrue(st.conditions, C.BackupSkipped)) {
    await finish(ctx, bs, invoker, status, st);
    return {};
  }
  // Skip checks, only before any target started.
  const started = (status.targets ?? []).some((x) => x.totalHosts !== undefined || getCondition(x.conditions, C.BackupExecutorEnsured));
  if (!started) {
    const skip = await skipReason(ctx, bs, invoker);
    if (skip) {
      setCond(st, C.BackupSkipped, true, R.SkippedTakingNewBackup, skip);
      status.conditions = st.conditions;
      await finish(ctx, bs, invoker, status, st);
      return {};
    }
  }
  // A batch's global preBackup hook: once, before any member starts; a failure ends the session.
  const batch = invoker?.kind === BACKUP_BATCH ? invoker : undefined;
  const globalPre = batch?.spec?.hooks?.preBackup;
  if (batch && globalPre && !getCondition(st.conditions, C.GlobalPreBackupHookSucceeded)) {
    const o = await runGlobalHook(
      "preBackup",
      globalPre,
      globalHookSummary({ name: bs.metadata.name!, namespace: bs.metadata.namespace! }, batch, "Running", { retryLeft: bs.spec?.retryLeft }),
      operatorExecutor(ctx.kube, ctx.opts.ownPod),
    );
    setCond(st, o.type, o.status, o.reason, o.message);
    status.conditions = st.conditions;
    if (!o.status) {
      await finish(ctx, bs, invoker, status, st);
      return {};
    }
  }
  let result: Result = {};
  if (invoker && (await initiateTargets(ctx, bs, invoker, status, t))) result = { requeueAfterMs: REQUEUE_MS };
  if (invoker?.spec?.timeOut && !status.sessionDeadline) {
    const ms = parseGoDuration(invoker.spec.timeOut);
    if (Number.isFinite(ms)) status.sessionDeadline = rfc3339(new Date(Date.parse(String(bs.metadata.creationTimestamp)) + ms));
  }
  if (status.sessionDeadline) {
    const left = Math.max(Date.parse(status.sessionDeadline) - t.getTime() + 1000, 1000);
    result = { requeueAfterMs: Math.min(left, result.requeueAfterMs ?? left) };
  }
  if (recheckMs !== undefined) result = { requeueAfterMs: Math.min(recheckMs, result.requeueAfterMs ?? recheckMs) };
  return result;
}

/**
 * Sets BackupDisrupted on every running Job target whose Job failed or whose pod cannot start
 * (executor-failure.ts); returns when to look again at a pod that has not started yet.
 */
async function checkBackupJobs(
  ctx: ControllerContext,
  bs: BackupSession,
  invoker: BackupInvoker,
  status: BackupSessionStatus,
  t: Date,
): Promise<number | undefined> {
  const ns = bs.metadata.namespace!;
  let recheck: number | undefined;
  for (const info of targetsOf(invoker)) {
    const ref = refOf(info);
    if (backupModel(ref.kind, info.task?.name) !== "job") continue;
    const entry = (status.targets ?? []).find((x) => sameRef(x.ref, ref, invoker.metadata.namespace));
    if (!entry || !isTrue(entry.conditions, C.BackupExecutorEnsured) || ["Succeeded", "Failed"].includes(backupTargetPhase(entry))) continue;
    const name = backupJobName(bs.metadata.name!, info.index);
    const job = await ctx.kube.getOrNull<V1Job>("batch/v1", "Job", name, ns);
    const pods = job ? (await ctx.kube.list<V1Pod>("v1", "Pod", ns, `batch.kubernetes.io/job-name=${name}`)).items : [];
    const verdict = executorVerdict(job, pods, t);
    if (verdict && "failed" in verdict) {
      entry.conditions = setStashCondition(
        entry.conditions,
        { type: C.BackupDisrupted, status: true, reason: R.FailedToCompleteDueToDisruption, message: verdict.failed },
        t,
      );
    } else if (verdict) recheck = Math.min(recheck ?? verdict.recheckMs, verdict.recheckMs);
  }
  return recheck;
}

/** The first failure a user needs to read: a host error, a False condition, or the deadline. */
export function failureMessage(status: BackupSessionStatus): string {
  for (const target of status.targets ?? []) {
    for (const s of target.stats ?? []) if (s.phase === "Failed") return `host ${s.hostname}: ${s.error ?? "backup failed"}`;
    for (const c of target.conditions ?? [])
      if ((c.status === "False" && c.type !== "Ready") || c.type === C.BackupDisrupted) return c.message ?? c.reason ?? "BackupSession failed.";
  }
  for (const c of status.conditions ?? []) {
    if (c.type === "Ready" || c.type === "Stalled" || c.type === "Reconciling") continue;
    if (c.status === "False" || (c.type === C.DeadlineExceeded && c.status === "True")) return c.message ?? c.reason ?? "BackupSession failed.";
  }
  return "BackupSession failed.";
}

async function skipReason(ctx: ControllerContext, bs: BackupSession, invoker: BackupInvoker | null): Promise<string | undefined> {
  const inv = bs.spec?.invoker;
  if (!invoker) return `Skipped taking backup. Reason: ${inv?.kind} ${bs.metadata.namespace}/${inv?.name} does not exist.`;
  if (invoker.status?.phase !== "Ready") {
    const notReady = (invoker.status?.conditions ?? []).find(
      (c) => c.status !== "True" && c.type !== "Reconciling" && c.type !== "Stalled" && c.type !== "Ready",
    );
    return `Skipped taking backup. Reason: ${invoker.kind} ${invoker.metadata.namespace}/${invoker.metadata.name} is not ready.${notReady?.message ? ` ${notReady.message}` : ""}`;
  }
  const others = await ctx.kube.list<BackupSession>(
    V1BETA1,
    "BackupSession",
    bs.metadata.namespace,
    `${LABEL_INVOKER_TYPE}=${invoker.kind},${LABEL_INVOKER_NAME}=${invoker.metadata.name}`,
  );
  const running = others.items.find((o) => o.metadata.name !== bs.metadata.name && o.status?.phase === "Running");
  if (running) return `Skipped taking new backup. Reason: Previous BackupSession: ${running.metadata.name} is "Running".`;
  return undefined;
}

const EMPTY_TARGET: TargetRef = { apiVersion: "na", kind: "EmptyTarget", name: "na" };
const refOf = (info: BackupTargetInfo): TargetRef => ({ ...(info.target?.ref ?? EMPTY_TARGET) });
/** Stash's TargetBackupInitiated: the executor was ensured, or hosts are known. */
const initiated = (entry: BackupTargetStatus | undefined) =>
  !!entry && (entry.totalHosts !== undefined || !!getCondition(entry.conditions, C.BackupExecutorEnsured));

/**
 * Initiates every target not initiated yet, in the invoker's execution order (Sequential: a
 * target waits, as an entry with only its ref, until every earlier one is complete). Writes
 * status.targets in spec order. Returns whether a target is still waiting for its turn.
 */
async function initiateTargets(ctx: ControllerContext, bs: BackupSession, invoker: BackupInvoker, status: BackupSessionStatus, t: Date): Promise<boolean> {
  const ns = invoker.metadata.namespace;
  const infos = targetsOf(invoker);
  const order = executionOrder(invoker);
  const entries: BackupTargetStatus[] = [...(status.targets ?? [])];
  const indexOf = (ref: SessionTargetRef | undefined) => entries.findIndex((e) => sameRef(e.ref, ref, ns));
  const upsert = (entry: BackupTargetStatus) => {
    const i = indexOf(entry.ref);
    if (i >= 0) entries[i] = entry;
    else entries.push(entry);
  };
  const complete = (i: number) => {
    const e = entries[indexOf(refOf(infos[i]))];
    return !!e && ["Succeeded", "Failed"].includes(backupTargetPhase(e));
  };
  let waiting = false;
  for (const info of infos) {
    const ref = refOf(info);
    const existing = entries[indexOf(ref)];
    if (initiated(existing)) continue;
    if (!nextInOrder(order, info.index, complete)) {
      if (!existing) upsert({ ref });
      waiting = true;
      continue;
    }
    upsert(await initiateTarget(ctx, bs, invoker, info, infos.length, existing, t));
  }
  // Spec order, whatever order the entries were written in.
  const pos = (e: BackupTargetStatus) => {
    const k = infos.findIndex((info) => sameRef(refOf(info), e.ref, ns));
    return k < 0 ? infos.length : k;
  };
  status.targets = entries.sort((a, b) => pos(a) - pos(b));
  return waiting;
}

/** Ensures one target's executor (the sidecar is there, or the backup Job) and returns its status entry. */
async function initiateTarget(
  ctx: ControllerContext,
  bs: BackupSession,
  invoker: BackupInvoker,
  info: BackupTargetInfo,
  count: number,
  existing: BackupTargetStatus | undefined,
  t: Date,
): Promise<BackupTargetStatus> {
  const { kube } = ctx;
  const ref = refOf(info);
  const view = memberView(invoker, info);
  let conditions: Condition[] = existing?.conditions ?? [];
  let totalHosts: number | undefined;
  const driver = invoker.spec?.driver ?? "Restic";
  try {
    if (backupModel(ref.kind, info.task?.name) === "sidecar") {
      const w = await kube.getOrNull<V1Deployment | V1StatefulSet | V1DaemonSet | V1ReplicaSet>(targetApiVersion(ref), ref.kind, ref.name, ref.namespace);
      const has = (w?.spec?.template?.spec?.containers ?? []).some((c) => c.name === SIDECAR_CONTAINER);
      if (!w || !has) throw new Error(`${ref.kind} ${ref.namespace}/${ref.name} ${w ? "has no stash sidecar" : "does not exist"}`);
      totalHosts =
        ref.kind === "StatefulSet"
          ? ((w as V1StatefulSet).spec?.replicas ?? 1)
          : ref.kind === "DaemonSet"
            ? Math.max(1, (w as V1DaemonSet).status?.desiredNumberScheduled ?? 1)
            : 1;
    } else {
      const repoName = invoker.spec?.repository?.name;
      const repo = repoName
        ? await kube.getOrNull<Repository>(V1ALPHA1, "Repository", repoName, invoker.spec?.repository?.namespace || invoker.metadata.namespace)
        : null;
      const taskPod = info.task?.name
        ? await invokerTaskPod({ kube, invoker: view, backupSession: bs.metadata.name, image: ctx.opts.image, pushgatewayUrl: ctx.opts.pushgatewayUrl })
        : undefined;
      await ensureRunnerBinding(kube, ctx.runnerBindings, bs.metadata.namespace!, jobServiceAccount(view));
      await kube.apply(desiredBackupJob(bs, view, repo ?? undefined, info.index, ctx.opts, taskPod), { force: true });
      totalHosts = 1;
    }
    conditions = setStashCondition(
      conditions,
      { type: C.BackupExecutorEnsured, status: true, reason: R.SuccessfullyEnsuredBackupExecutor, message: "Successfully ensured backup executor." },
      t,
    );
  } catch (e) {
    conditions = setStashCondition(
      conditions,
      {
        type: C.BackupExecutorEnsured,
        status: false,
        reason: R.FailedToEnsureBackupExecutor,
        message: `Failed to ensure backup executor. Reason: ${errorMessage(e)}`,
      },
      t,
    );
  }
  const target: BackupTargetStatus = { ref, conditions };
  if (totalHosts !== undefined) target.totalHosts = totalHosts;
  if (driver === "Restic") {
    // Stash: the first target initialises the repository, the last applies retention and checks it.
    if (info.index === 0) target.preBackupActions = ["InitializeBackendRepository"];
    if (info.index === count - 1) target.postBackupActions = ["ApplyRetentionPolicy", "VerifyRepositoryIntegrity", "SendRepositoryMetrics"];
  }
  if (existing?.stats) target.stats = existing.stats;
  return target;
}

async function finish(ctx: ControllerContext, bs: BackupSession, invoker: BackupInvoker | null, status: BackupSessionStatus, st: StepState): Promise<void> {
  // A batch's global postBackup hook: after every member, unless the global preBackup hook failed
  // or the backup was skipped; its executionPolicy sees the phase the session is about to get.
  const batch = invoker?.kind === BACKUP_BATCH ? invoker : undefined;
  const globalPost = batch?.spec?.hooks?.postBackup;
  if (
    batch &&
    globalPost &&
    !getCondition(st.conditions, C.GlobalPostBackupHookSucceeded) &&
    !isFalse(st.conditions, C.GlobalPreBackupHookSucceeded) &&
    !isTrue(st.conditions, C.BackupSkipped)
  ) {
    status.conditions = st.conditions;
    for (const target of status.targets ?? []) target.phase = backupTargetPhase(target);
    const summary = globalHookSummary({ name: bs.metadata.name!, namespace: bs.metadata.namespace! }, batch, previewPhase(status, st), {
      retryLeft: bs.spec?.retryLeft,
    });
    const o = await runGlobalHook("postBackup", globalPost, summary, operatorExecutor(ctx.kube, ctx.opts.ownPod));
    setCond(st, o.type, o.status, o.reason, o.message);
  }
  if (!getCondition(st.conditions, C.BackupHistoryCleaned) && invoker) {
    try {
      await cleanupHistory(ctx, bs, invoker);
      setCond(st, C.BackupHistoryCleaned, true, R.SuccessfullyCleanedBackupHistory, "Successfully cleaned up backup history according to backupHistoryLimit.");
    } catch (e) {
      setCond(st, C.BackupHistoryCleaned, false, R.FailedToCleanBackupHistory, `Failed to cleanup old BackupSessions. Reason: ${errorMessage(e)}`);
    }
  }
  if (!getCondition(st.conditions, C.MetricsPushed)) {
    status.conditions = st.conditions;
    for (const target of status.targets ?? []) target.phase = backupTargetPhase(target);
    try {
      if (ctx.pushSessionMetrics && !isTrue(st.conditions, C.BackupSkipped)) {
        const repoName = invoker?.spec?.repository?.name;
        const repo = repoName
          ? await ctx.kube.getOrNull<Repository>(V1ALPHA1, "Repository", repoName, invoker?.spec?.repository?.namespace || bs.metadata.namespace)
          : null;
        const preview = { ...bs, status: { ...status, phase: previewPhase(status, st) } };
        await ctx.pushSessionMetrics("BackupSession", preview, invoker, repo);
        setCond(st, C.MetricsPushed, true, R.SuccessfullyPushedMetrics, "Successfully pushed metrics.");
      } else {
        setCond(
          st,
          C.MetricsPushed,
          true,
          R.SuccessfullyPushedMetrics,
          ctx.pushSessionMetrics ? "Backup skipped: no session metrics." : "Metrics are disabled: no pushgateway URL configured.",
        );
      }
    } catch (e) {
      setCond(st, C.MetricsPushed, false, R.FailedToPushMetrics, `Failed to push metrics. Reason: ${errorMessage(e)}`);
    }
  }
}

/** The phase the session will have once MetricsPushed is True (what the metrics report). */
function previewPhase(status: BackupSessionStatus, st: StepState): SessionPhase {
  const conditions = setCondition(st.conditions, { type: C.MetricsPushed, status: true }, st.now);
  return backupSessionPhase({ ...status, conditions });
}

async function cleanupHistory(ctx: ControllerContext, bs: BackupSession, invoker: BackupInvoker): Promise<void> {
  const limit = invoker.spec?.backupHistoryLimit ?? DEFAULT_BACKUP_HISTORY_LIMIT;
  const list = await ctx.kube.list<BackupSession>(
    V1BETA1,
    "BackupSession",
    bs.metadata.namespace,
    `${LABEL_INVOKER_TYPE}=${invoker.kind},${LABEL_INVOKER_NAME}=${invoker.metadata.name}`,
  );
  for (const name of sessionsToDelete(list.items, limit)) {
    if (name === bs.metadata.name) continue;
    await ctx.kube.delete({ apiVersion: V1BETA1, kind: "BackupSession", metadata: { name, namespace: bs.metadata.namespace } });
  }
}

async function retry(ctx: ControllerContext, bs: BackupSession, invoker: BackupInvoker | null, status: BackupSessionStatus): Promise<Result> {
  const retryLeft = bs.spec?.retryLeft ?? 0;
  if (status.phase !== "Failed" || !(retryLeft > 0) || status.retried === true || !invoker) return {};
  const t = now(ctx);
  if (!status.nextRetry) {
    const delay = parseGoDuration(invoker.spec?.retryConfig?.delay);
    status.nextRetry = rfc3339(new Date(t.getTime() + (Number.isFinite(delay) ? delay : 0)));
  }
  const wait = Date.parse(status.nextRetry) - t.getTime();
  if (wait > 0) return { requeueAfterMs: wait };
  let seconds = Math.floor(t.getTime() / 1000);
  for (;;) {
    try {
      await ctx.kube.create(newBackupSession(invoker, seconds, retryLeft - 1));
      break;
    } catch (e) {
      if ((e as { code?: unknown } | undefined)?.code !== 409) throw e;
      seconds++;
    }
  }
  status.retried = true;
  return {};
}
