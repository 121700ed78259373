// `restore-pvc`: the data step of the pvc-restore Task. Restores the named snapshots, or for each
// path the newest snapshot of the source host holding it, into the PVC mounted at --target-path.
// One path lands directly in the target path; several land in `<target>/<basename of path>`.
import { basename, join } from "node:path";
import { restore } from "../../restic/restore.ts";
import { snapshots } from "../../restic/snapshots.ts";
import { SnapshotNotFoundError } from "../../restic/errors.ts";
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
      // `<snapshot>:<path>` restores the contents of path, so they land in the target path itself.
      const ids = listArg(args.snapshots);
      if (ids.length) {
        for (const snap of await snapshots(restic, { ids })) {
          for (const p of snap.paths) await restore(restic, { snapshot: `${snap.id}:${p}`, target: restoreDestination(target, p, snap.paths), ...opts });
        }
        return;
      }
      let paths = listArg(args.paths);
      if (paths.length === 0) {
        const latest = (await snapshots(restic, { host: source, latest: 1 })).sort((a, b) => (a.time < b.time ? -1 : 1)).at(-1);
        if (!latest) throw new SnapshotNotFoundError(`host ${source}`);
        paths = latest.paths;
      }
      for (const p of paths) await restore(restic, { snapshot: `latest:${p}`, host: source, path: p, target: restoreDestination(target, p, paths), ...opts });
    },
    applyStepOutput,
  );
