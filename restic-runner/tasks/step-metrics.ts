// The metrics `update-status` pushes for its host, as Stash's update-status does: the host's
// backup or restore gauges, and after a successful backup the Repository's (integrity, size,
// snapshot count, snapshots cleaned). The registries are built purely from the step output and
// the labels; pushing is metrics.ts's pushMetrics.
import { providerOf, type RepositoryLike } from "../../restic/backend.ts";
import {
  backupHostMetrics,
  mergeRegistries,
  repositoryMetrics,
  restoreHostMetrics,
  type InvokerRef,
  type RepositoryLabels,
  type TargetLabels,
} from "../../stash/metrics.ts";
import { parseGoDuration } from "../../stash/phases.ts";
import type { StepOutput } from "./step-output.ts";
import type { Registry } from "prom-client";

/** Stash's target labels: an AppBinding is labelled by its app (kubedb.com/postgres → group kubedb.com, kind postgres). */
export function metricTarget(kind: string, name: string, appBinding?: { spec?: { type?: string } } | null): TargetLabels {
  if (kind === "AppBinding") {
    const type = appBinding?.spec?.type ?? "";
    const [group, resource] = type.includes("/") ? type.split("/", 2) : ["appcatalog.appscode.com", "appbinding"];
    return { kind: resource, group, name };
  }
  const group = kind === "PersistentVolumeClaim" || kind === "Pod" ? "" : "apps";
  return { kind, group, name };
}

/** Repository labels: name, namespace, provider, and the bucket and prefix (or their equivalents). */
export function metricRepository(repo: RepositoryLike): RepositoryLabels {
  const provider = providerOf(repo);
  // Each provider names its location its own way: whichever of these fields it has.
  const b: { bucket?: string; container?: string; mountPath?: string; url?: string; prefix?: string; subPath?: string } = repo.spec?.backend?.[provider] ?? {};
  const bucket = b.bucket ?? b.container ?? b.mountPath ?? (b.url ? new URL(b.url).host : undefined);
  const prefix = b.prefix ?? b.subPath ?? (b.url ? new URL(b.url).pathname.replace(/^\/$/, "") : undefined);
  const out: RepositoryLabels = { name: repo.metadata.name ?? "", namespace: repo.metadata.namespace ?? "", backend: provider };
  if (bucket) out.bucket = bucket;
  if (prefix) out.prefix = prefix;
  return out;
}

export interface StepMetricsInput {
  invoker: InvokerRef;
  target: TargetLabels;
  repository?: RepositoryLabels;
}

/** What to push for one output; `repository` is set when Repository metrics are among them. */
export function stepMetrics(out: StepOutput, m: StepMetricsInput): { registry: Registry; repository: boolean } {
  const common = { invoker: m.invoker, repository: m.repository?.name };
  const seconds = (parseGoDuration(out.duration) || 0) / 1000;
  const succeeded = out.phase === "Succeeded";
  if (out.kind === "restore")
    return { registry: restoreHostMetrics(common, m.target, { hostname: out.hostname, succeeded, durationSeconds: seconds }), repository: false };
  const host = backupHostMetrics(common, m.target, { hostname: out.hostname, succeeded, durationSeconds: seconds, snapshots: out.numbers ?? [] });
  const r = out.repository;
  if (!succeeded || !m.repository || !r || r.integrity === undefined || r.snapshotCount === undefined) return { registry: host, repository: false };
  const repo = repositoryMetrics(common, m.repository, {
    integrity: r.integrity,
    sizeBytes: r.sizeBytes ?? 0,
    snapshotCount: r.snapshotCount,
    snapshotsRemovedOnLastCleanup: r.snapshotsRemovedOnLastCleanup ?? 0,
  });
  return { registry: mergeRegistries(host, repo), repository: true };
}
