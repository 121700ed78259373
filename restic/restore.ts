// `restic restore <id|latest> [--path P] [--host H] --target T [--include]... [--exclude]...`
// (Stash's restore command). "latest" is narrowed by host and path; a snapshot that does not
// exist is a SnapshotNotFoundError, not restic's generic failure.
//
//   restore(ctx, opts: RestoreOptions) -> Promise<RestoreResult>
import { mkdir } from "node:fs/promises";
import { ResticFailedError, SnapshotNotFoundError } from "./errors.ts";
import { runRestic, type ResticContext } from "./run.ts";

export interface RestoreOptions {
  /** Snapshot id (short or full) or "latest". */
  snapshot: string;
  /** Where to restore (Stash: "/" to put files back at their original paths). */
  target: string;
  /** Narrow "latest" (and check an id) to this path / host. */
  path?: string;
  host?: string;
  include?: string[];
  exclude?: string[];
  /** Extra restic args (target.args). */
  args?: string[];
  /** --delete: remove files in the target that are not in the snapshot. */
  deleteExtra?: boolean;
}

export interface RestoreResult {
  filesRestored: number;
  totalFiles: number;
  bytesRestored: number;
  totalBytes: number;
  seconds: number;
}

export async function restore(ctx: ResticContext, opts: RestoreOptions): Promise<RestoreResult> {
  await mkdir(opts.target, { recursive: true });
  const args = ["restore", opts.snapshot, "--target", opts.target, "--json"];
  if (opts.path) args.push("--path", opts.path);
  if (opts.host) args.push("--host", opts.host);
  for (const i of opts.include ?? []) args.push("--include", i);
  for (const x of opts.exclude ?? []) args.push("--exclude", x);
  if (opts.deleteExtra) args.push("--delete");
  args.push(...(opts.args ?? []));
  let summary: Record<string, number> | undefined;
  const onLine = (line: string) => {
    if (!line.includes('"summary"')) return;
    try {
      const m = JSON.parse(line) as Record<string, number> & { message_type?: string };
      if (m.message_type === "summary") summary = m;
    } catch {
      /* ignore */
    }
  };
  try {
    await runRestic(ctx, args, { onLine, env: { RESTIC_PROGRESS_FPS: "0.016666" } });
  } catch (e) {
    if (e instanceof ResticFailedError && /no snapshot found|no matching ID found|invalid id|snapshot .* not found|failed to find snapshot/i.test(e.message)) {
      const what = [`snapshot ${opts.snapshot}`, opts.host ? `host ${opts.host}` : "", opts.path ? `path ${opts.path}` : ""].filter(Boolean).join(", ");
      throw new SnapshotNotFoundError(what);
    }
    throw e;
  }
  return {
    filesRestored: summary?.files_restored ?? 0,
    totalFiles: summary?.total_files ?? 0,
    bytesRestored: summary?.bytes_restored ?? 0,
    totalBytes: summary?.total_bytes ?? 0,
    seconds: summary?.seconds_elapsed ?? 0,
  };
}
