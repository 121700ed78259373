// `restic check`: the repository integrity Stash reports in Repository status.integrity and the
// stash_repository_integrity metric. Integrity is true only when restic exits 0 and says
// "no errors were found" (Stash's rule); a check that finds damage resolves with integrity
// false, a check that cannot run (locked, unreachable) throws.
//
//   check(ctx, opts?) -> Promise<{ integrity: boolean; output: string }>
import { ResticFailedError } from "./errors.ts";
import { runRestic, type ResticContext } from "./run.ts";

export interface CheckOptions {
  /** --read-data: read every pack (slow; off in Stash). */
  readData?: boolean;
  /** --read-data-subset, e.g. "10%". */
  readDataSubset?: string;
}

export async function check(ctx: ResticContext, opts: CheckOptions = {}): Promise<{ integrity: boolean; output: string }> {
  const args = ["check"];
  if (opts.readData) args.push("--read-data");
  if (opts.readDataSubset) args.push(`--read-data-subset=${opts.readDataSubset}`);
  try {
    const res = await runRestic(ctx, args, { keepStdout: true });
    const integrity = res.stdout.split("\n").some((l) => l.trim() === "no errors were found");
    return { integrity, output: res.stdout };
  } catch (e) {
    // restic exits 1 when it found errors: that is an answer (integrity false), not a failure to run.
    if (
      e instanceof ResticFailedError &&
      e.exitCode === 1 &&
      /contains errors|errors were found|damaged|invalid|not found|missing|unreferenced|incomplete|error for tree|wrong data/i.test(e.message)
    ) {
      return { integrity: false, output: e.message };
    }
    throw e;
  }
}
