// The runner's metrics (host, repository, restore host) through restic-runner/metrics.ts, pushed
// to the invoker's job as Stash does.
import type { KubeObject } from "../../lib/kube/client.ts";
import { backupHostMetrics, jobName, lastSuccessMetric, mergeRegistries, pushMetrics, repositoryMetrics, restoreHostMetrics, type MetricsCommon, type SnapshotNumbers, type TargetLabels } from "../metrics.ts";
import { providerOf } from "../backend.ts";
import { parseGoDuration } from "../../reconciler/controllers/phases.ts";
import type { StepOutput } from "../tasks/step-output.ts";
import type { RunnerMetrics } from "./run-backup.ts";

/** Stash's target labels: kind, API group ("" for core) and name. */
export function targetLabels(ref: { apiVersion?: string; kind?: string; name?: string } | undefined): TargetLabels {
  const apiVersion = ref?.apiVersion ?? (ref?.kind === "PersistentVolumeClaim" ? "v1" : "apps/v1");
  return { kind: ref?.kind ?? "", group: apiVersion.includes("/") ? apiVersion.split("/")[0] : "", name: ref?.name ?? "" };
}

export function commonOf(invoker: KubeObject): MetricsCommon {
  return {
    invoker: { kind: invoker.kind, name: invoker.metadata.name!, namespace: invoker.metadata.namespace! },
    repository: invoker.spec?.repository?.name,
    driver: invoker.spec?.driver ?? "Restic",
  };
}

/** "2.567 KiB" → bytes (restic's formatting, 3 decimals). */
export function parseSize(text: string | undefined): number {
  const m = /^([\d.]+)\s*(B|KiB|MiB|GiB|TiB)$/.exec(text ?? "");
  if (!m) return 0;
  const mult: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };
  return Math.round(Number(m[1]) * mult[m[2]]);
}

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
      const b = repo.spec?.backend ?? {};
      const provider = providerOf(repo as any);
      const spec = b[provider] ?? {};
      const reg = repositoryMetrics(
        c,
        { name: repo.metadata.name!, namespace: repo.metadata.namespace!, backend: provider, bucket: spec.bucket ?? spec.container ?? (provider === "local" ? spec.mountPath : undefined), prefix: spec.prefix || undefined },
        { integrity: stats.integrity === true, sizeBytes: parseSize(stats.totalSize), snapshotCount: stats.snapshotCount ?? 0, snapshotsRemovedOnLastCleanup: stats.snapshotsRemovedOnLastCleanup ?? 0 },
      );
      await pushMetrics(url, jobName(c.invoker), reg);
    },
    async pushRestoreHost(rs, _repo, out) {
      const c = commonOf(rs);
      const reg = restoreHostMetrics(c, targetLabels(rs.spec?.target?.ref), { hostname: out.hostname, succeeded: out.phase === "Succeeded", durationSeconds: parseGoDuration(out.duration) / 1000 || 0 });
      await pushMetrics(url, jobName(c.invoker), reg);
    },
  };
}

/** main's metricsFor: the runner's metrics for a pushgateway URL. */
export const metricsForPushgateway = (url: string): RunnerMetrics => runnerMetrics(url);
