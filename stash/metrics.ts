// Stash's Prometheus metrics (stash-behaviour.md section 8): every gauge under its new name
// (stash_appscode_com_*) and its legacy, documented name (stash_*), with Stash's labels; plus
// restash's freshness metric restash_backupconfiguration_last_success_timestamp_seconds. The
// builders are pure (stats in, a prom-client Registry out); pushMetrics is the one I/O step and
// pushes the way Stash does: POST (replace same-named metrics) to the job
// "<lower-case invoker kind>-<invoker namespace>-<invoker name>", no other grouping key.
//
//   jobName(invoker) -> string
//   backupHostMetrics(common, target, host) -> Registry          (sidecar / job, per host)
//   backupSessionMetrics(common, session) -> Registry            (operator, session completed)
//   repositoryMetrics(common, repository, stats) -> Registry     (last host, after retention/check)
//   restoreHostMetrics(common, target, host) / restoreSessionMetrics(common, session) -> Registry
//   lastSuccessMetric(config, at) -> Registry                    (restash extra)
//   mergeRegistries(...regs) -> Registry
//   pushMetrics(url, job, registry, opts?) -> Promise<void>
import { Gauge, Pushgateway, Registry } from "prom-client";
import type { V1ObjectMeta } from "@kubernetes/client-node";

export interface InvokerRef {
  /** BackupConfiguration, RestoreSession, BackupBatch, RestoreBatch. */
  kind: string;
  name: string;
  namespace: string;
}

export interface MetricsCommon {
  invoker: InvokerRef;
  /** Repository name (label repository). */
  repository?: string;
  driver?: "Restic" | "VolumeSnapshotter";
  /** User labels (--metrics-labels k=v). */
  labels?: Record<string, string>;
}

export interface TargetLabels {
  /** Target kind (AppBinding -> the app resource, e.g. "postgres"). */
  kind: string;
  /** API group ("apps", "kubedb.com", "" for core). */
  group: string;
  name: string;
}

export interface SnapshotNumbers {
  totalBytes: number;
  uploadedBytes: number;
  processingSeconds: number;
  fileStats: { totalFiles: number; newFiles: number; modifiedFiles: number; unmodifiedFiles: number };
}

export interface HostBackup {
  hostname: string;
  /** Failed hosts get only host_backup_success = 0. */
  succeeded: boolean;
  durationSeconds: number;
  snapshots: SnapshotNumbers[];
}

export interface BackupSession {
  succeeded: boolean;
  durationSeconds: number;
  targets: { target: TargetLabels; succeeded: boolean; totalHosts: number }[];
  /** "now" for the last-success gauges (injected clock). */
  at: Date;
}

export interface RepositoryLabels {
  name: string;
  namespace: string;
  /** Provider: s3, gcs, azure, swift, b2, rest, local. */
  backend: string;
  bucket?: string;
  prefix?: string;
}

export interface RepositoryNumbers {
  integrity: boolean;
  sizeBytes: number;
  snapshotCount: number;
  snapshotsRemovedOnLastCleanup: number;
}

export interface HostRestore {
  hostname: string;
  succeeded: boolean;
  durationSeconds: number;
}

export interface RestoreSession {
  succeeded: boolean;
  durationSeconds: number;
  targets: { target: TargetLabels; succeeded: boolean; totalHosts: number }[];
}

/** Stash's push job (grouping key): `<lower-case kind>-<namespace>-<name>`. */
export function jobName(invoker: InvokerRef): string {
  return `${invoker.kind.toLowerCase()}-${invoker.namespace}-${invoker.name}`;
}

// [new name suffix after stash_appscode_com_, legacy name, help]
const M = {
  sessionSuccess: ["backupsession_success", "stash_backup_session_success", "Indicates whether the entire backup session was succeeded or not"],
  sessionDuration: [
    "backupsession_duration_seconds",
    "stash_backup_session_duration_seconds",
    "Indicates total time taken to complete the entire backup session",
  ],
  sessionTargets: [
    "backupsession_target_count_total",
    "stash_backup_target_count_total",
    "Indicates the total number of targets that was backed up in this backup session",
  ],
  sessionLastSuccess: ["backupsession_last_success_time_seconds", "stash_backup_last_success_time_seconds", "Indicates the last successful backup time"],
  targetSuccess: ["backupsession_target_success", "stash_backup_target_success", "Indicates whether the backup for a target has succeeded or not"],
  targetHosts: [
    "backupsession_target_host_count_total",
    "stash_backup_target_host_count_total",
    "Indicates the total number of hosts that was backed up for this target",
  ],
  targetLastSuccess: [
    "backupsession_target_last_success_time_seconds",
    "stash_backup_target_last_success_time_seconds",
    "Indicates the last successful backup time for this target",
  ],
  hostSuccess: ["backupsession_host_backup_success", "stash_backup_host_backup_success", "Indicates whether the backup for a host succeeded or not"],
  hostDuration: [
    "backupsession_host_backup_duration_seconds",
    "stash_backup_host_backup_duration_seconds",
    "Indicates total time taken to complete the backup process for a host",
  ],
  hostSize: ["backupsession_host_data_size_bytes", "stash_backup_host_data_size_bytes", "Total size of the target data to backup for a host (in bytes)"],
  hostUploaded: [
    "backupsession_host_data_uploaded_bytes",
    "stash_backup_host_data_uploaded_bytes",
    "Amount of data uploaded to the repository for a host (in bytes)",
  ],
  hostProcessing: [
    "backupsession_host_data_processing_time_seconds",
    "stash_backup_host_data_processing_time_seconds",
    "Total time taken to backup the target data for a host",
  ],
  hostFiles: ["backupsession_host_files_total", "stash_backup_host_files_total", "Total number of files that has been backed up for a host"],
  hostFilesNew: [
    "backupsession_host_files_new",
    "stash_backup_host_files_new",
    "Total number of new files that has been uploaded to the repository for a host",
  ],
  hostFilesModified: [
    "backupsession_host_files_modified",
    "stash_backup_host_files_modified",
    "Total number of modified files that has been uploaded to the repository for a host",
  ],
  hostFilesUnmodified: [
    "backupsession_host_files_unmodified",
    "stash_backup_host_files_unmodified",
    "Total number of unmodified files that has been re-used from the latest snapshot for a host",
  ],
  repoIntegrity: ["repository_integrity", "stash_repository_integrity", "Result of repository integrity check after last backup"],
  repoSize: ["repository_size_bytes", "stash_repository_size_bytes", "Indicates size of repository after last backup (in bytes)"],
  repoSnapshots: ["repository_snapshot_count", "stash_repository_snapshot_count", "Indicates number of snapshots stored in the repository"],
  repoCleaned: [
    "repository_snapshot_cleaned",
    "stash_repository_snapshot_cleaned",
    "Indicates number of old snapshots cleaned up according to retention policy on last backup session",
  ],
  restoreSuccess: ["restoresession_success", "stash_restore_session_success", "Indicates whether the entire restore session was succeeded or not"],
  restoreDuration: [
    "restoresession_duration_seconds",
    "stash_restore_session_duration_seconds",
    "Indicates the total time taken to complete the entire restore session",
  ],
  restoreTargets: [
    "restoresession_target_count_total",
    "stash_restore_target_count_total",
    "Indicates the total number of targets that was restored in this restore session",
  ],
  restoreTargetSuccess: ["restoresession_target_success", "stash_restore_target_success", "Indicates whether the restore for a target has succeeded or not"],
  restoreTargetHosts: [
    "restoresession_target_host_count_total",
    "stash_restore_target_host_count_total",
    "Indicates the total number of hosts that was restored for this target",
  ],
  restoreHostSuccess: [
    "restoresession_host_restore_success",
    "stash_restore_host_restore_success",
    "Indicates whether the restore process was succeeded for a host",
  ],
  restoreHostDuration: [
    "restoresession_host_restore_duration_seconds",
    "stash_restore_host_restore_duration_seconds",
    "Indicates the total time taken to complete the restore process for a host",
  ],
} as const satisfies Record<string, readonly [string, string, string]>;

type MetricKey = keyof typeof M;

export const LAST_SUCCESS_METRIC = "restash_backupconfiguration_last_success_timestamp_seconds";

/** Sets one Stash metric, under both its names, in `reg`. */
function set(reg: Registry, key: MetricKey, labels: Record<string, string>, value: number) {
  const [suffix, legacy, help] = M[key];
  const labelNames = Object.keys(labels).sort();
  const sorted = Object.fromEntries(labelNames.map((k) => [k, labels[k]])); // stable exposition order
  for (const name of [`stash_appscode_com_${suffix}`, legacy]) {
    let g = reg.getSingleMetric(name) as Gauge | undefined;
    g ??= new Gauge({ name, help, labelNames, registers: [reg] });
    g.set(sorted, value);
  }
}

function commonLabels(c: MetricsCommon): Record<string, string> {
  const l: Record<string, string> = { ...(c.labels ?? {}) };
  l.invoker_kind = c.invoker.kind;
  l.invoker_name = c.invoker.name;
  l.namespace = c.invoker.namespace;
  l.driver = c.driver ?? "Restic";
  if (c.repository !== undefined) l.repository = c.repository;
  return l;
}

function seriesLabels(c: MetricsCommon, t: TargetLabels): Record<string, string> {
  return { ...commonLabels(c), kind: t.kind, group: t.group, name: t.name };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

export function backupHostMetrics(c: MetricsCommon, target: TargetLabels, host: HostBackup): Registry {
  const reg = new Registry();
  const l = { ...seriesLabels(c, target), hostname: host.hostname };
  set(reg, "hostSuccess", l, host.succeeded ? 1 : 0);
  if (!host.succeeded) return reg;
  set(reg, "hostDuration", l, host.durationSeconds);
  set(reg, "hostSize", l, sum(host.snapshots.map((s) => s.totalBytes)));
  set(reg, "hostUploaded", l, sum(host.snapshots.map((s) => s.uploadedBytes)));
  set(reg, "hostProcessing", l, sum(host.snapshots.map((s) => s.processingSeconds)));
  set(reg, "hostFiles", l, sum(host.snapshots.map((s) => s.fileStats.totalFiles)));
  set(reg, "hostFilesNew", l, sum(host.snapshots.map((s) => s.fileStats.newFiles)));
  set(reg, "hostFilesModified", l, sum(host.snapshots.map((s) => s.fileStats.modifiedFiles)));
  set(reg, "hostFilesUnmodified", l, sum(host.snapshots.map((s) => s.fileStats.unmodifiedFiles)));
  return reg;
}

export function backupSessionMetrics(c: MetricsCommon, s: BackupSession): Registry {
  const reg = new Registry();
  const l = commonLabels(c);
  const now = s.at.getTime() / 1000;
  set(reg, "sessionSuccess", l, s.succeeded ? 1 : 0);
  if (s.succeeded) {
    set(reg, "sessionDuration", l, s.durationSeconds);
    set(reg, "sessionTargets", l, s.targets.length);
    set(reg, "sessionLastSuccess", l, now);
  }
  for (const t of s.targets) {
    const tl = seriesLabels(c, t.target);
    set(reg, "targetSuccess", tl, t.succeeded ? 1 : 0);
    if (!t.succeeded) continue;
    set(reg, "targetHosts", tl, t.totalHosts);
    set(reg, "targetLastSuccess", tl, now);
  }
  return reg;
}

export function repositoryMetrics(c: MetricsCommon, repo: RepositoryLabels, n: RepositoryNumbers): Registry {
  const reg = new Registry();
  const l: Record<string, string> = { ...commonLabels(c), name: repo.name, namespace: repo.namespace, backend: repo.backend };
  if (repo.bucket) l.bucket = repo.bucket;
  if (repo.prefix) l.prefix = repo.prefix;
  set(reg, "repoIntegrity", l, n.integrity ? 1 : 0);
  set(reg, "repoSize", l, n.sizeBytes);
  set(reg, "repoSnapshots", l, n.snapshotCount);
  set(reg, "repoCleaned", l, n.snapshotsRemovedOnLastCleanup);
  return reg;
}

export function restoreHostMetrics(c: MetricsCommon, target: TargetLabels, host: HostRestore): Registry {
  const reg = new Registry();
  const l = { ...seriesLabels(c, target), hostname: host.hostname };
  set(reg, "restoreHostSuccess", l, host.succeeded ? 1 : 0);
  if (host.succeeded) set(reg, "restoreHostDuration", l, host.durationSeconds);
  return reg;
}

export function restoreSessionMetrics(c: MetricsCommon, s: RestoreSession): Registry {
  const reg = new Registry();
  const l = commonLabels(c);
  set(reg, "restoreSuccess", l, s.succeeded ? 1 : 0);
  if (s.succeeded) {
    set(reg, "restoreDuration", l, s.durationSeconds);
    set(reg, "restoreTargets", l, s.targets.length);
  }
  for (const t of s.targets) {
    const tl = seriesLabels(c, t.target);
    set(reg, "restoreTargetSuccess", tl, t.succeeded ? 1 : 0);
    if (t.succeeded) set(reg, "restoreTargetHosts", tl, t.totalHosts);
  }
  return reg;
}

/** restash's freshness gauge: when the BackupConfiguration last had a successful backup. */
export function lastSuccessMetric(config: { name: string; namespace: string }, at: Date): Registry {
  const reg = new Registry();
  const g = new Gauge({
    name: LAST_SUCCESS_METRIC,
    help: "Unix time of the last successful backup of a BackupConfiguration (alert when it is too old)",
    labelNames: ["backupconfiguration", "namespace"],
    registers: [reg],
  });
  g.set({ backupconfiguration: config.name, namespace: config.namespace }, at.getTime() / 1000);
  return reg;
}

export function mergeRegistries(...regs: Registry[]): Registry {
  return Registry.merge(regs) as Registry;
}

/**
 * Pushes `registry` to the pushgateway at `url` under `job` with POST (Stash's `Add`: replaces
 * the same-named metrics in that group, keeps the others).
 */
export async function pushMetrics(url: string, job: string, registry: Registry, opts: { timeoutMs?: number } = {}): Promise<void> {
  const gw = new Pushgateway(url, { timeout: opts.timeoutMs ?? 10_000 }, registry);
  const res = await gw.pushAdd({ jobName: job });
  const status = (res.resp as { statusCode?: number } | undefined)?.statusCode;
  if (status !== undefined && (status < 200 || status >= 300))
    throw new Error(`pushgateway ${url} answered HTTP ${status} for job ${job}: ${String(res.body ?? "").slice(0, 200)}`);
}

/** Stash's target labels: kind, API group ("" for core) and name. */
export function targetLabels(ref: { apiVersion?: string; kind?: string; name?: string } | undefined): TargetLabels {
  const apiVersion = ref?.apiVersion ?? (ref?.kind === "PersistentVolumeClaim" ? "v1" : "apps/v1");
  return { kind: ref?.kind ?? "", group: apiVersion.includes("/") ? apiVersion.split("/")[0] : "", name: ref?.name ?? "" };
}

/** What commonOf reads of an invoker (any of the four kinds). */
type MetricsInvoker = { kind: string; metadata: V1ObjectMeta; spec?: { repository?: { name?: string }; driver?: "Restic" | "VolumeSnapshotter" } };

export function commonOf(invoker: MetricsInvoker): MetricsCommon {
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
