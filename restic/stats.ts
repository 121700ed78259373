// `restic stats --mode raw-data`: the repository size Stash shows in Repository status.totalSize
// and pushes as stash_repository_size_bytes.
//
//   stats(ctx, opts?) -> Promise<RepoStats>
import { formatBytes } from "./format.ts";
import { runRestic, type ResticContext } from "./run.ts";

export interface RepoStats {
  totalSize: number;
  /** Stash's format, e.g. "2.567 KiB". */
  totalSizeText: string;
  totalBlobs: number;
  snapshotsCount: number;
  totalUncompressedSize?: number;
}

export async function stats(ctx: ResticContext, opts: { snapshot?: string; mode?: "raw-data" | "restore-size" } = {}): Promise<RepoStats> {
  const args = ["stats", ...(opts.snapshot ? [opts.snapshot] : []), "--json", "--quiet", "--mode", opts.mode ?? "raw-data", "--no-lock"];
  const res = await runRestic(ctx, args);
  const line = res.stdout.split("\n").find((l) => l.trim().startsWith("{")) ?? "{}";
  const m = JSON.parse(line) as { total_size?: number; total_blob_count?: number; snapshots_count?: number; total_uncompressed_size?: number };
  const totalSize = m.total_size ?? 0;
  return {
    totalSize,
    totalSizeText: formatBytes(totalSize),
    totalBlobs: m.total_blob_count ?? 0,
    snapshotsCount: m.snapshots_count ?? 0,
    totalUncompressedSize: m.total_uncompressed_size,
  };
}
