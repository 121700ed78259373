// `restic snapshots --json`, with restic's own filters. The Snapshot aggregated API and the
// Repository status (snapshotCount) read through this.
//
//   snapshots(ctx, filter?) -> Promise<Snapshot[]>   (oldest first, as restic lists them)
import { runRestic, type ResticContext } from "./run.ts";

export interface Snapshot {
  id: string;
  shortId: string;
  time: string;
  hostname: string;
  username?: string;
  paths: string[];
  tags: string[];
  tree: string;
  parent?: string;
  programVersion?: string;
  /** restic >= 0.17 records the backup summary in the snapshot. */
  summary?: Record<string, unknown>;
}

export interface SnapshotFilter {
  host?: string;
  paths?: string[];
  tags?: string[];
  /** --latest N per host/path group. */
  latest?: number;
  /** Specific ids (short or full). */
  ids?: string[];
}

interface RawSnapshot {
  id: string;
  short_id?: string;
  time: string;
  hostname: string;
  username?: string;
  paths?: string[];
  tags?: string[] | null;
  tree: string;
  parent?: string;
  program_version?: string;
  summary?: Record<string, unknown>;
}

export async function snapshots(ctx: ResticContext, filter: SnapshotFilter = {}): Promise<Snapshot[]> {
  const args = ["snapshots", "--json", "--no-lock"];
  if (filter.host) args.push("--host", filter.host);
  for (const p of filter.paths ?? []) args.push("--path", p);
  for (const t of filter.tags ?? []) args.push("--tag", t);
  if (filter.latest) args.push("--latest", String(filter.latest));
  args.push(...(filter.ids ?? []));
  const res = await runRestic(ctx, args);
  const text = res.stdout.trim();
  const raw = text ? (JSON.parse(text) as RawSnapshot[] | null) : [];
  return (raw ?? []).map((s) => ({
    id: s.id,
    shortId: s.short_id ?? s.id.slice(0, 8),
    time: s.time,
    hostname: s.hostname,
    username: s.username,
    paths: s.paths ?? [],
    tags: s.tags ?? [],
    tree: s.tree,
    parent: s.parent,
    programVersion: s.program_version,
    summary: s.summary,
  }));
}
