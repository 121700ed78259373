// `backup-pvc`: the data step of the pvc-backup Task. Backs up each path of the mounted PVC as
// its own snapshot, then applies retention and checks the repository. An absent, empty or
// unreadable path fails the step: a backup of nothing is never reported as a success.
import { access, readdir, stat } from "node:fs/promises";
import { constants } from "node:fs";
import { NothingToBackUpError } from "../restic/errors.ts";
import { initializeRepository, postBackupActions } from "./post-backup.ts";
import { backupPath } from "./restic-ops.ts";
import { listArg } from "./step-args.ts";
import { openRepository, runDataStep, type StepHandler } from "./step-context.ts";
import type { OutputCondition } from "./step-output.ts";
import { applyStepOutput } from "./update-status.ts";

/** Throws NothingToBackUpError unless `path` is a readable file or a readable, non-empty directory. */
export async function assertBackupable(path: string): Promise<void> {
  let st;
  try {
    st = await stat(path);
  } catch (e: any) {
    throw new NothingToBackUpError(path, e?.code === "ENOENT" ? "it does not exist" : `it cannot be read (${e?.code ?? e})`);
  }
  try {
    await access(path, constants.R_OK | (st.isDirectory() ? constants.X_OK : 0));
  } catch {
    throw new NothingToBackUpError(path, "it is not readable");
  }
  if (st.isDirectory() && (await readdir(path)).length === 0) throw new NothingToBackUpError(path, "the directory is empty");
}

/** Extra restic flags from --args (space separated, Stash's DRIVER_ARGS). */
export function splitDriverArgs(v: string | undefined): string[] {
  return (v ?? "").split(/\s+/).filter(Boolean);
}

export const backupPvcStep: StepHandler = (argv, deps) =>
  runDataStep(
    "backup",
    "backup-pvc",
    argv,
    deps,
    async (args, secrets, result) => {
      const paths = listArg(args.paths);
      if (paths.length === 0) throw new Error("flag --paths is empty: nothing to back up (target.paths / TARGET_PATHS)");
      for (const p of paths) await assertBackupable(p);
      const { restic } = await openRepository(args, deps, secrets);
      const conditions: OutputCondition[] = (result.conditions = []);
      await initializeRepository(restic, conditions, secrets);
      const host = args.hostname || "host-0";
      result.snapshots = [];
      for (const p of paths) result.snapshots.push(await backupPath(restic, p, host, { exclude: listArg(args.exclude), args: splitDriverArgs(args.args) }));
      result.repository = await postBackupActions(restic, args, host, conditions, secrets);
    },
    applyStepOutput,
  );
