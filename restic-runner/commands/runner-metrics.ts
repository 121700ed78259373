// The runner's metrics (host, repository, restore host) through stash/metrics.ts, pushed
// to the invoker's job as Stash does.
import {
  backupHostMetrics,
  commonOf,
  jobName,
  lastSuccessMetric,
  mergeRegistries,
  parseSize,
  pushMetrics,
  repositoryMetrics,
  restoreHostMetrics,
  targetLabels,
  type SnapshotNumbers,
} from "../../stash/metrics.ts";
import { providerOf } from "../../restic/backend.ts";
import { parseGoDuration } from "../../stash/phases.ts";
import type { StepOutput } from "../tasks/step-output.ts";
import type { RunnerMetrics } from "./run-backup.ts";

export function runnerMetrics(url: string, now: () => number = Date.now): RunnerMetrics {
  return {
    async pushBackupHost(session, invoker, _repo, out, numbers: SnapshotNumbers[] = []) {
      const c = commonOf(invoker);
      const ok = out.phase === "Succeeded";
      const reg = backupHostMetrics(c, targetLabels(invoker.spec?.target?.ref), {
        hostname: out.hostname,
        succeeded: ok,
        durationSeconds: parseGoDuration(out.duration) / 1000 || 0,
        snapshots: numbers,
      });
      // restash's freshness gauge rides with the host's success.
      const regs = ok ? [reg, lastSuccessMetric({ name: invoker.metadata.name!, namespace: invoker.metadata.namespace! }, new Date(now()))] : [reg];
      await pushMetrics(url, jobName(c.invoker), mergeRegistries(...regs));
      void session;
    },
    async pushRepository(invoker, repo, stats: NonNullable<StepOutput["repository"]>) {
      const c = commonOf(invoker);
      const provider = providerOf(repo);
      // Each provider names its location its own way: whichever of these fields it has.
      const spec = (repo.spec?.backend?.[provider] ?? {}) as { bucket?: string; container?: string; mountPath?: string; prefix?: string };
      const reg = repositoryMetrics(
        c,
        {
          name: repo.metadata.name!,
          namespace: repo.metadata.namespace!,
          backend: provider,
          bucket: spec.bucket ?? spec.container ?? (provider === "local" ? spec.mountPath : undefined),
          prefix: spec.prefix || undefined,
        },
        {
          integrity: stats.integrity === true,
          sizeBytes: parseSize(stats.totalSize),
          snapshotCount: stats.snapshotCount ?? 0,
          snapshotsRemovedOnLastCleanup: stats.snapshotsRemovedOnLastCleanup ?? 0,
        },
      );
      await pushMetrics(url, jobName(c.invoker), reg);
    },
    async pushRestoreHost(rs, _repo, out) {
      const c = commonOf(rs);
      const reg = restoreHostMetrics(c, targetLabels(rs.spec?.target?.ref), {
        hostname: out.hostname,
        succeeded: out.phase === "Succeeded",
        durationSeconds: parseGoDuration(out.duration) / 1000 || 0,
      });
      await pushMetrics(url, jobName(c.invoker), reg);
    },
  };
}

/** main's metricsFor: the runner's metrics for a pushgateway URL. */
export const metricsForPushgateway = (url: string): RunnerMetrics => runnerMetrics(url);
