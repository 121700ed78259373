// What a data step hands to `update-status`: one JSON file per step in the output dir (the
// shared stash-tmp-dir), holding the host's result, the session conditions it settled
// (repository initialised, retention, integrity) and the Repository statistics it measured.
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { SnapshotStats } from "../../restic/backup.ts";
import type { SnapshotNumbers } from "../../stash/metrics.ts";

export type SnapshotStat = SnapshotStats;

export interface OutputCondition {
  type: string;
  status: "True" | "False";
  reason: string;
  message: string;
}

export interface StepOutput {
  kind: "backup" | "restore";
  /** The runner subcommand that wrote it, e.g. backup-pvc. */
  command: string;
  hostname: string;
  phase: "Succeeded" | "Failed";
  /** Go duration, e.g. "3s". */
  duration: string;
  error?: string;
  snapshots?: SnapshotStat[];
  /** The same snapshots as numbers (bytes, seconds), for the host metrics. */
  numbers?: SnapshotNumbers[];
  conditions?: OutputCondition[];
  repository?: { integrity?: boolean; totalSize?: string; sizeBytes?: number; snapshotCount?: number; snapshotsRemovedOnLastCleanup?: number };
}

const SUFFIX = ".output.json";

export async function writeStepOutput(dir: string, out: StepOutput): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${out.command}${SUFFIX}`);
  await writeFile(file + ".tmp", JSON.stringify(out, null, 2) + "\n", { mode: 0o644 });
  await rename(file + ".tmp", file);
  return file;
}

/** Every step output in the directory, in name order; none when it does not exist. */
export async function readStepOutputs(dir: string): Promise<StepOutput[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(SUFFIX)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException | undefined)?.code === "ENOENT") return [];
    throw e;
  }
  const out: StepOutput[] = [];
  for (const n of names) out.push(JSON.parse(await readFile(join(dir, n), "utf8")) as StepOutput);
  return out;
}
