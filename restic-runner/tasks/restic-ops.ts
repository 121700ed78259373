// The restic verbs the Task steps need, on top of the one restic launcher (../restic/run.ts):
// make sure the repository exists, back up a path or a command's stdout, retention, check,
// statistics, restore and dump. Each returns what status needs (Stash's snapshot stats shape).
import type { Writable } from "node:stream";
import { RepositoryNotFoundError, SnapshotNotFoundError } from "../restic/errors.ts";
import { runRestic, type ResticContext } from "../restic/run.ts";
import type { SnapshotStat } from "./step-output.ts";

/** restic's byte formatting (ui.FormatBytes): "512 B", "2.567 KiB", "1.000 GiB". */
export function formatBytes(n: number): string {
  const units = ["KiB", "MiB", "GiB", "TiB"];
  if (n < 1024) return `${n} B`;
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(3)} ${units[i]}`;
}

/** Stash's processingTime: "m:ss" or "h:mm:ss". */
export function processingTime(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** Opens the repository, creating it when there is none yet. */
export async function ensureRepository(ctx: ResticContext): Promise<"found" | "initialized"> {
  try {
    await runRestic(ctx, ["cat", "config"]);
    return "found";
  } catch (e) {
    if (!(e instanceof RepositoryNotFoundError)) throw e;
  }
  await runRestic(ctx, ["init"]);
  return "initialized";
}

function summaryToStat(summary: any, path: string): SnapshotStat {
  if (!summary?.snapshot_id) throw new Error(`restic backup of ${path} printed no snapshot id`);
  return {
    name: String(summary.snapshot_id).slice(0, 8),
    path,
    totalSize: formatBytes(summary.total_bytes_processed ?? 0),
    uploaded: formatBytes(summary.data_added ?? 0),
    processingTime: processingTime(summary.total_duration ?? 0),
    fileStats: {
      totalFiles: summary.total_files_processed ?? 0,
      newFiles: summary.files_new ?? 0,
      modifiedFiles: summary.files_changed ?? 0,
      unmodifiedFiles: summary.files_unmodified ?? 0,
    },
  };
}

function summaryCollector(): { onLine: (l: string) => void; get: () => any } {
  let summary: any;
  return {
    onLine: (l) => {
      if (!l.startsWith("{")) return;
      try {
        const m = JSON.parse(l);
        if (m.message_type === "summary") summary = m;
      } catch {
        /* progress noise */
      }
    },
    get: () => summary,
  };
}

/** `restic backup <path>`: one snapshot for one path. */
export async function backupPath(ctx: ResticContext, path: string, host: string, opts: { exclude?: string[]; args?: string[] } = {}): Promise<SnapshotStat> {
  const c = summaryCollector();
  const args = ["backup", path, "--json", "--host", host];
  for (const x of opts.exclude ?? []) args.push("--exclude", x);
  args.push(...(opts.args ?? []));
  await runRestic(ctx, args, { onLine: c.onLine });
  return summaryToStat(c.get(), path);
}

/**
 * `restic backup --stdin-from-command`: restic runs the command and stores its stdout as
 * `/<filename>`; a non-zero exit of the command fails the backup (no snapshot is kept).
 */
export async function backupCommandOutput(ctx: ResticContext, filename: string, host: string, command: string[], env: Record<string, string> = {}): Promise<SnapshotStat> {
  const c = summaryCollector();
  await runRestic(ctx, ["backup", "--stdin-from-command", "--stdin-filename", filename, "--json", "--host", host, "--", ...command], { onLine: c.onLine, env });
  return summaryToStat(c.get(), `/${filename}`);
}

export interface KeepPolicy {
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  tags?: string[];
  prune?: boolean;
  dryRun?: boolean;
}

export function hasKeepRule(p: KeepPolicy): boolean {
  return !!(p.last || p.hourly || p.daily || p.weekly || p.monthly || p.yearly || p.tags?.length);
}

/** `restic forget` (and `prune`) for one host; returns how many snapshots were removed. */
export async function applyRetention(ctx: ResticContext, host: string, p: KeepPolicy): Promise<number> {
  const args = ["forget", "--json", "--host", host, "--group-by", "host,paths"];
  const add = (flag: string, n: number | undefined) => {
    if (n) args.push(flag, String(n));
  };
  add("--keep-last", p.last);
  add("--keep-hourly", p.hourly);
  add("--keep-daily", p.daily);
  add("--keep-weekly", p.weekly);
  add("--keep-monthly", p.monthly);
  add("--keep-yearly", p.yearly);
  for (const t of p.tags ?? []) args.push("--keep-tag", t);
  if (p.dryRun) args.push("--dry-run");
  const r = await runRestic(ctx, args, { keepStdout: true });
  let removed = 0;
  const text = r.stdout.trim();
  if (text) {
    const groups = JSON.parse(text.split("\n").find((l) => l.startsWith("[")) ?? "[]") as { remove?: unknown[] | null }[];
    for (const g of groups) removed += g.remove?.length ?? 0;
  }
  if (p.prune && !p.dryRun && removed > 0) await runRestic(ctx, ["prune"]);
  return removed;
}

/** `restic check`: true when the repository has no errors. Other failures (unreachable) throw. */
export async function checkRepository(ctx: ResticContext): Promise<boolean> {
  const r = await runRestic(ctx, ["check"], { okExitCodes: [0, 1], keepStdout: true });
  return r.exitCode === 0;
}

export interface ResticSnapshot {
  id: string;
  short_id?: string;
  time: string;
  hostname: string;
  paths: string[];
}

export async function listSnapshots(ctx: ResticContext, filter: { host?: string; path?: string } = {}): Promise<ResticSnapshot[]> {
  const args = ["snapshots", "--json"];
  if (filter.host) args.push("--host", filter.host);
  if (filter.path) args.push("--path", filter.path);
  const r = await runRestic(ctx, args, { keepStdout: true });
  return JSON.parse(r.stdout.trim() || "[]") as ResticSnapshot[];
}

/** Total stored size (`restic stats --mode raw-data`). */
export async function repositorySize(ctx: ResticContext): Promise<number> {
  const r = await runRestic(ctx, ["stats", "--json", "--mode", "raw-data"], { keepStdout: true });
  const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
  return line ? Number(JSON.parse(line).total_size ?? 0) : 0;
}

/**
 * The newest snapshot of `host` (optionally containing `path`), or the one with id `id`.
 * Throws SnapshotNotFoundError naming what was asked for.
 */
export async function findSnapshot(ctx: ResticContext, q: { id?: string; host?: string; path?: string }): Promise<ResticSnapshot> {
  const all = await listSnapshots(ctx, q.id ? {} : { host: q.host, path: q.path });
  const hit = q.id ? all.find((s) => s.id.startsWith(q.id!) || s.short_id === q.id) : all.sort((a, b) => (a.time < b.time ? -1 : 1)).at(-1);
  if (!hit) throw new SnapshotNotFoundError(q.id ? `id ${q.id}` : `host ${q.host}${q.path ? ` and path ${q.path}` : ""}`);
  return hit;
}

/** `restic restore <id>:<path> --target <dir>`: the contents of `path` land in `dir`. */
export async function restorePath(ctx: ResticContext, snapshotId: string, path: string, target: string, opts: { include?: string[]; exclude?: string[] } = {}): Promise<void> {
  const args = ["restore", `${snapshotId}:${path}`, "--target", target];
  for (const x of opts.include ?? []) args.push("--include", x);
  for (const x of opts.exclude ?? []) args.push("--exclude", x);
  await runRestic(ctx, args);
}

/** `restic dump <id> <file>` into a stream (the stream is not ended). */
export async function dumpFile(ctx: ResticContext, snapshotId: string, file: string, out: Writable): Promise<void> {
  await runRestic(ctx, ["dump", snapshotId, file], { stdout: out });
}
