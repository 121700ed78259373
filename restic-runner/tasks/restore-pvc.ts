// `restore-pvc`: the data step of the pvc-restore Task. Restores the named snapshots, or for each
// path the newest snapshot of the source host holding it, into the PVC mounted at --target-path.
// One path lands directly in the target path; several land in `<target>/<basename of path>`.
import { basename, join } from "node:path";
import { findSnapshot, restorePath } from "./restic-ops.ts";
import { listArg } from "./step-args.ts";
import { openRepository, runDataStep, type StepHandler } from "./step-context.ts";
import { applyStepOutput } from "./update-status.ts";

/** Where path `p` of the snapshot goes, given every path being restored. */
export function restoreDestination(target: string, p: string, all: readonly string[]): string {
  return all.length <= 1 ? target : join(target, basename(p) || "root");
}

export const restorePvcStep: StepHandler = (argv, deps) =>
  runDataStep(
    "restore",
    "restore-pvc",
    argv,
    deps,
    async (args, secrets) => {
      const target = args["target-path"] || "/stash-data";
      const source = args["source-hostname"] || args.hostname || "host-0";
      const { restic } = await openRepository(args, deps, secrets);
      const opts = { include: listArg(args.include), exclude: listArg(args.exclude) };
      const ids = listArg(args.snapshots);
      if (ids.length) {
        for (const id of ids) {
          const snap = await findSnapshot(restic, { id });
          for (const p of snap.paths) await restorePath(restic, snap.id, p, restoreDestination(target, p, snap.paths), opts);
        }
        return;
      }
      let paths = listArg(args.paths);
      if (paths.length === 0) paths = (await findSnapshot(restic, { host: source })).paths;
      for (const p of paths) {
        const snap = await findSnapshot(restic, { host: source, path: p });
        await restorePath(restic, snap.id, p, restoreDestination(target, p, paths), opts);
      }
    },
    applyStepOutput,
  );
