// `update-status`, the last step of every Task: reads what the data steps left in the output dir
// and writes it where Stash users look: the host's stats (and the session conditions the step
// settled) into the BackupSession target or the RestoreSession, and the measured statistics into
// the Repository; with --pushgateway-url it pushes the host's (and Repository's) metrics first.
// No output at all is a failure of the host, never a silent success.
import { setCondition, rfc3339 } from "../../lib/conditions.ts";
import type {
  AppBinding,
  BackupSession,
  BackupSessionStatus,
  BackupTargetStatus,
  Condition,
  Repository,
  RepositoryStatus,
  RestoreSession,
  RestoreSessionStatus,
} from "../../schema/types.generated.ts";
import { updateStatus } from "../../lib/status.ts";
import { V1ALPHA1, V1BETA1 } from "../../stash/names.ts";
import { parseStepArgs, type StepArgs } from "./step-args.ts";
import { DEFAULT_OUTPUT_DIR, namespaceOf, type StepDeps, type StepHandler } from "./step-context.ts";
import { readStepOutputs, type StepOutput } from "./step-output.ts";
import { errorMessage } from "../../lib/errors.ts";
import { jobName, pushMetrics } from "../../stash/metrics.ts";
import { APPBINDING_API_VERSION } from "../../stash/tasks/app-binding.ts";
import { metricRepository, metricTarget, stepMetrics, type StepMetricsInput } from "./step-metrics.ts";

export interface HostStat {
  hostname: string;
  phase: "Succeeded" | "Failed";
  duration: string;
  error?: string;
  snapshots?: NonNullable<StepOutput["snapshots"]>;
}

/** The host stat Stash keeps per host: hostname, phase, duration, error, snapshots. */
export function hostStat(out: StepOutput): HostStat {
  const s: HostStat = { hostname: out.hostname, phase: out.phase, duration: out.duration };
  if (out.error) s.error = out.error;
  if (out.kind === "backup" && out.snapshots?.length) s.snapshots = out.snapshots;
  return s;
}

function upsertStat<T extends { hostname?: string }>(stats: T[] | undefined, stat: T): T[] {
  const list = [...(stats ?? [])];
  const i = list.findIndex((s) => s.hostname === stat.hostname);
  if (i >= 0) list[i] = stat;
  else list.push(stat);
  return list;
}

/** BackupSession status with the output applied (pure). */
export function backupStatusWith(
  status: BackupSessionStatus,
  out: StepOutput,
  target: { kind: string; name: string; namespace: string },
  now: Date,
  generation?: number,
): BackupSessionStatus {
  const next = structuredClone(status);
  const targets: BackupTargetStatus[] = next.targets ?? [];
  let i = targets.findIndex((t) => t.ref?.kind === target.kind && t.ref?.name === target.name);
  if (i < 0 && targets.length === 1 && !targets[0].ref?.name) i = 0;
  if (i < 0) {
    targets.push({ ref: { kind: target.kind, name: target.name, namespace: target.namespace } });
    i = targets.length - 1;
  }
  targets[i] = { ...targets[i], stats: upsertStat(targets[i].stats, hostStat(out)) };
  next.targets = targets;
  let conditions = next.conditions ?? [];
  // setCondition always stamps lastTransitionTime, which the generated Condition requires.
  for (const c of out.conditions ?? []) conditions = setCondition(conditions, c, now, generation) as Condition[];
  if (conditions.length) next.conditions = conditions;
  return next;
}

/** RestoreSession status with the output applied (pure). */
export function restoreStatusWith(status: RestoreSessionStatus, out: StepOutput): RestoreSessionStatus {
  return { ...structuredClone(status), stats: upsertStat(status.stats, hostStat(out)) };
}

/** Repository status with a backup's statistics (pure); lastBackupTime is the session's creation. */
export function repositoryStatusWith(status: RepositoryStatus, out: StepOutput, sessionCreated: string | undefined): RepositoryStatus | undefined {
  if (out.kind !== "backup" || out.phase !== "Succeeded") return undefined;
  const next = structuredClone(status);
  const r = out.repository ?? {};
  if (r.integrity !== undefined) next.integrity = r.integrity;
  if (r.totalSize !== undefined) next.totalSize = r.totalSize;
  if (r.snapshotCount !== undefined) next.snapshotCount = r.snapshotCount;
  if (r.snapshotsRemovedOnLastCleanup !== undefined) next.snapshotsRemovedOnLastCleanup = r.snapshotsRemovedOnLastCleanup;
  if (sessionCreated) {
    next.lastBackupTime = sessionCreated;
    next.firstBackupTime ??= sessionCreated;
  }
  return next;
}

/** Writes one output into the session named by the flags (and the Repository for a backup). */
export async function applyStepOutput(args: StepArgs, out: StepOutput, deps: StepDeps): Promise<void> {
  const ns = namespaceOf(args);
  const now = new Date((deps.now ?? Date.now)());
  const target = { kind: args["target-kind"] ?? "", name: args["target-name"] ?? "", namespace: args["target-namespace"] || ns };
  if (out.kind === "backup") {
    const name = args.backupsession;
    if (!name) throw new Error("flag --backupsession is empty: no BackupSession to update");
    const session = await updateStatus<BackupSession>(deps.kube, { apiVersion: V1BETA1, kind: "BackupSession", name, namespace: ns }, (status, obj) =>
      backupStatusWith(status, out, target, now, obj.metadata.generation),
    );
    if (!session) throw new Error(`BackupSession ${ns}/${name} not found`);
    const repo = args.repository;
    if (repo) {
      await updateStatus<Repository>(
        deps.kube,
        { apiVersion: V1ALPHA1, kind: "Repository", name: repo, namespace: args["repository-namespace"] || ns },
        (status) => repositoryStatusWith(status, out, session.metadata.creationTimestamp ? String(session.metadata.creationTimestamp) : rfc3339(now)),
      );
    }
  } else {
    const name = args.restoresession;
    if (!name) throw new Error("flag --restoresession is empty: no RestoreSession to update");
    const rs = await updateStatus<RestoreSession>(deps.kube, { apiVersion: V1BETA1, kind: "RestoreSession", name, namespace: ns }, (status) =>
      restoreStatusWith(status, out),
    );
    if (!rs) throw new Error(`RestoreSession ${ns}/${name} not found`);
  }
}

/** The output a host gets when no data step left one (it never ran, or crashed before writing). */
export function missingOutput(args: StepArgs, dir: string): StepOutput {
  return {
    kind: args.restoresession ? "restore" : "backup",
    command: "update-status",
    hostname: args.hostname || "host-0",
    phase: "Failed",
    duration: "0s",
    error: `no step left a result in ${dir}: the data step did not run or crashed before writing it`,
  };
}

/** Labels for this host's metrics: the invoker, the target (an AppBinding by its app) and the Repository. */
async function metricsInput(args: StepArgs, deps: StepDeps): Promise<StepMetricsInput> {
  const ns = namespaceOf(args);
  const restore = !!args.restoresession;
  const invoker = restore
    ? { kind: "RestoreSession", name: args.restoresession, namespace: ns }
    : { kind: args["invoker-kind"] || "BackupConfiguration", name: args["invoker-name"] ?? "", namespace: ns };
  const kind = args["target-kind"] ?? "";
  const name = args["target-name"] ?? "";
  const ab = kind === "AppBinding" ? await deps.kube.getOrNull<AppBinding>(APPBINDING_API_VERSION, "AppBinding", name, args["target-namespace"] || ns) : null;
  const repo = args.repository ? await deps.kube.getOrNull<Repository>(V1ALPHA1, "Repository", args.repository, args["repository-namespace"] || ns) : null;
  return { invoker, target: metricTarget(kind, name, ab), ...(repo ? { repository: metricRepository(repo) } : {}) };
}

/**
 * Pushes the host's metrics (Stash's update-status does) and records whether the Repository's
 * reached the pushgateway (RepositoryMetricsPushed, a condition of the BackupSession).
 */
async function pushStepMetrics(url: string, out: StepOutput, input: StepMetricsInput, deps: StepDeps): Promise<void> {
  const { registry, repository } = stepMetrics(out, input);
  try {
    await pushMetrics(url, jobName(input.invoker), registry);
    if (repository)
      (out.conditions ??= []).push({
        type: "RepositoryMetricsPushed",
        status: "True",
        reason: "SuccessfullyPushedRepositoryMetrics",
        message: "Successfully pushed repository metrics.",
      });
  } catch (e) {
    deps.log.warn("could not push metrics", { pushgateway: url, err: e as Error });
    if (repository)
      (out.conditions ??= []).push({
        type: "RepositoryMetricsPushed",
        status: "False",
        reason: "FailedToPushRepositoryMetrics",
        message: `Failed to push repository metrics. Reason: ${errorMessage(e)}`,
      });
  }
}

export const updateStatusStep: StepHandler = async (argv, deps) => {
  const args = parseStepArgs(argv);
  const dir = args["output-dir"] || DEFAULT_OUTPUT_DIR;
  const outputs = await readStepOutputs(dir);
  if (outputs.length === 0) outputs.push(missingOutput(args, dir));
  const url = args["pushgateway-url"];
  const input = url ? await metricsInput(args, deps).catch((e) => void deps.log.warn("no metrics: cannot read their labels", { err: e as Error })) : undefined;
  for (const out of outputs) {
    if (url && input) await pushStepMetrics(url, out, input, deps);
    await applyStepOutput(args, out, deps);
  }
  const failed = outputs.filter((o) => o.phase === "Failed");
  deps.log.info("status updated", { outputs: outputs.length, failed: failed.length });
  return failed.length ? 1 : 0;
};
