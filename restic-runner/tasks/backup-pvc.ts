// `backup-pvc`: the data step of the pvc-backup Task. Backs up each path of the mounted PVC as
// its own snapshot, then applies retention and checks the repository. An absent, empty or
// unreadable path fails the step: a backup of nothing is never reported as a success.
import { backup, checkBackupSource } from "../../restic/backup.ts";
import { initializeRepository, postBackupActions, snapshotNumbers } from "./post-backup.ts";
import { listArg } from "./step-args.ts";
import { openRepository, runDataStep, type StepHandler } from "./step-context.ts";
import type { OutputCondition } from "./step-output.ts";
import { applyStepOutput } from "./update-status.ts";

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
      // Before the repository is touched: a backup of nothing creates nothing.
      for (const p of paths) await checkBackupSource(p);
      const { restic } = await openRepository(args, deps, secrets);
      const conditions: OutputCondition[] = (result.conditions = []);
      await initializeRepository(restic, conditions, secrets);
      const host = args.hostname || "host-0";
      result.snapshots = [];
      result.numbers = [];
      for (const p of paths) {
        const r = await backup(restic, { path: p, host, exclude: listArg(args.exclude), args: splitDriverArgs(args.args) });
        result.snapshots.push(r.snapshot);
        result.numbers.push(snapshotNumbers(r));
      }
      result.repository = await postBackupActions(restic, args, conditions, secrets);
    },
    applyStepOutput,
  );
