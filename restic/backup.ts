// `restic backup` of one path (Stash takes one snapshot per path), with Stash's snapshot stats
// and an honest status: a missing, unreadable or empty path, or a snapshot with no files, is a
// NothingToBackUpError; files restic could not read make an IncompleteBackupError.
//
//   backup(ctx, opts: BackupOptions) -> Promise<BackupResult>
//   checkBackupSource(path) -> Promise<void>     (throws NothingToBackUpError)
//   snapshotStatsOf(summary, path) -> SnapshotStats   (pure; Stash's extractBackupInfo)
import { constants } from "node:fs";
import { access, lstat, opendir } from "node:fs/promises";
import { NothingToBackUpError, IncompleteBackupError } from "./errors.ts";
import { formatBytes, formatSeconds } from "./format.ts";
import { runRestic, type ResticContext } from "./run.ts";

/** restic's JSON "summary" message (restic 0.18). */
export interface BackupSummary {
  message_type: "summary";
  files_new: number;
  files_changed: number;
  files_unmodified: number;
  dirs_new: number;
  dirs_changed: number;
  dirs_unmodified: number;
  data_blobs: number;
  tree_blobs: number;
  data_added: number;
  data_added_packed?: number;
  total_files_processed: number;
  total_bytes_processed: number;
  total_duration: number;
  backup_start?: string;
  backup_end?: string;
  snapshot_id: string;
}

/** Stash's SnapshotStats (BackupSession status.targets[].stats[].snapshots[]). */
export interface SnapshotStats {
  name: string;
  path: string;
  totalSize: string;
  uploaded: string;
  processingTime: string;
  fileStats: { totalFiles: number; newFiles: number; modifiedFiles: number; unmodifiedFiles: number };
}

export interface BackupProgress {
  percentDone: number;
  filesDone: number;
  totalFiles: number;
  bytesDone: number;
  totalBytes: number;
  secondsElapsed: number;
  secondsRemaining?: number;
  errors: number;
}

export interface BackupOptions {
  path: string;
  /** --host (Stash: the target alias / pod name). */
  host?: string;
  tags?: string[];
  exclude?: string[];
  /** target.args, appended as given. */
  args?: string[];
  /** Called at most once per progressIntervalMs with restic's status. */
  onProgress?: (p: BackupProgress) => void;
  /** Default 10 s. */
  progressIntervalMs?: number;
}

export interface BackupResult {
  snapshot: SnapshotStats;
  /** Full 64-hex snapshot id. */
  snapshotId: string;
  totalBytes: number;
  uploadedBytes: number;
  processingSeconds: number;
  summary: BackupSummary;
}

/** Stash's extractBackupInfo: name = 8-char id, sizes formatted, processing time "m:ss". */
export function snapshotStatsOf(summary: BackupSummary, path: string): SnapshotStats {
  return {
    name: summary.snapshot_id.slice(0, 8),
    path,
    totalSize: formatBytes(summary.total_bytes_processed),
    uploaded: formatBytes(summary.data_added),
    processingTime: formatSeconds(summary.total_duration),
    fileStats: {
      totalFiles: summary.total_files_processed,
      newFiles: summary.files_new,
      modifiedFiles: summary.files_changed,
      unmodifiedFiles: summary.files_unmodified,
    },
  };
}

/** Fails unless `path` exists, is readable and holds something: an empty backup is not a success. */
export async function checkBackupSource(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new NothingToBackUpError(path, code === "ENOENT" ? "the path does not exist" : `cannot stat the path (${code})`);
  }
  try {
    await access(path, constants.R_OK | (st.isDirectory() ? constants.X_OK : 0));
  } catch {
    throw new NothingToBackUpError(path, "the path is not readable");
  }
  if (st.isDirectory()) {
    let dir;
    try {
      dir = await opendir(path);
    } catch (e) {
      throw new NothingToBackUpError(path, `the directory cannot be read (${(e as NodeJS.ErrnoException).code})`);
    }
    const first = await dir.read();
    await dir.close();
    if (!first) throw new NothingToBackUpError(path, "the directory is empty");
  } else if (st.isFile() && st.size === 0) {
    throw new NothingToBackUpError(path, "the file is empty");
  }
}

function parseJson(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Items restic reported it could not read, from its JSON error messages on stderr. */
export function unreadableItems(stderr: string): string[] {
  const items: string[] = [];
  for (const line of stderr.split("\n")) {
    const m = parseJson(line.trim());
    if (m?.message_type === "error") items.push(String(m.item ?? (m.error as { message?: string } | undefined)?.message ?? "?"));
  }
  return items;
}

export async function backup(ctx: ResticContext, opts: BackupOptions): Promise<BackupResult> {
  await checkBackupSource(opts.path);
  const interval = opts.progressIntervalMs ?? 10_000;
  const args = ["backup", opts.path, "--json"];
  if (!opts.onProgress) args.push("--quiet");
  if (opts.host) args.push("--host", opts.host);
  for (const t of opts.tags ?? []) args.push("--tag", t);
  for (const x of opts.exclude ?? []) args.push("--exclude", x);
  if (!ctx.backend.args.includes("--no-cache")) args.push("--cleanup-cache");
  args.push(...(opts.args ?? []));

  let summary: BackupSummary | undefined;
  let lastProgress = 0;
  const onLine = (line: string) => {
    const m = parseJson(line);
    if (!m) return;
    if (m.message_type === "summary") summary = m as unknown as BackupSummary;
    else if (m.message_type === "status" && opts.onProgress) {
      const now = Date.now();
      if (now - lastProgress < interval) return;
      lastProgress = now;
      opts.onProgress({
        percentDone: Number(m.percent_done ?? 0),
        filesDone: Number(m.files_done ?? 0),
        totalFiles: Number(m.total_files ?? 0),
        bytesDone: Number(m.bytes_done ?? 0),
        totalBytes: Number(m.total_bytes ?? 0),
        secondsElapsed: Number(m.seconds_elapsed ?? 0),
        secondsRemaining: m.seconds_remaining === undefined ? undefined : Number(m.seconds_remaining),
        errors: Number(m.error_count ?? 0),
      });
    }
  };
  const env = opts.onProgress ? { RESTIC_PROGRESS_FPS: String(Math.max(1000 / interval, 0.001)) } : undefined;
  const res = await runRestic(ctx, args, { onLine, okExitCodes: [0, 3], env });
  if (!summary) throw new IncompleteBackupError(opts.path, ["restic printed no summary"]);
  // A backup quicker than one progress interval prints no status line: the callback always hears
  // the end, from the summary, so progress in status reaches 100% whatever the speed.
  opts.onProgress?.({
    percentDone: 1,
    filesDone: summary.total_files_processed,
    totalFiles: summary.total_files_processed,
    bytesDone: summary.total_bytes_processed,
    totalBytes: summary.total_bytes_processed,
    secondsElapsed: summary.total_duration,
    secondsRemaining: 0,
    errors: 0,
  });
  if (res.exitCode === 3) throw new IncompleteBackupError(opts.path, unreadableItems(res.stderr), summary.snapshot_id);
  if (summary.total_files_processed === 0) {
    // Only empty directories: restic saved a snapshot of nothing. Drop it and fail.
    await runRestic(ctx, ["forget", summary.snapshot_id]).catch(() => {});
    throw new NothingToBackUpError(opts.path, "no files under the path (only empty directories)");
  }
  return {
    snapshot: snapshotStatsOf(summary, opts.path),
    snapshotId: summary.snapshot_id,
    totalBytes: summary.total_bytes_processed,
    uploadedBytes: summary.data_added,
    processingSeconds: summary.total_duration,
    summary,
  };
}
