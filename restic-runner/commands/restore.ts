// `restore`: the init-container (workloads) or restore Job (PVCs) of a RestoreSession. Runs the
// preRestore hook, finds the rule for this host, restores each path (newest snapshot of the
// source host holding it) or each named snapshot into the target, runs the postRestore hook, and
// records the hooks' conditions and then the host's result in the RestoreSession.
// The restored files land at the pod path, mapped to a host directory by RESTASH_PATH_MAP.
// A failed preRestore fails the host before the repository is even opened (no data is touched);
// postRestore runs after the restore whatever its outcome, by its executionPolicy (Stash runs it
// in a defer, so also after a failed preRestore).
import { errorMessage, redact } from "../../lib/errors.ts";
import type { Repository } from "../../schema/types.generated.ts";
import { goDuration } from "../../stash/phases.ts";
import { ruleForHost, rulesOf } from "../../stash/restore-rules.ts";
import { hostName } from "../../stash/names.ts";
import { restore } from "../../restic/restore.ts";
import { snapshots } from "../../restic/snapshots.ts";
import { SnapshotNotFoundError } from "../../restic/errors.ts";
import type { StepOutput } from "../tasks/step-output.ts";
import { restoreStatusWith } from "../tasks/update-status.ts";
import { openRepo, type RunnerMetrics, type TargetFlags } from "./run-backup.ts";
import { readRestoreInvoker, updateRestoreStatus } from "./restore-invoker.ts";
import { restoreTargetState, runRestoreHook, statusWithConditions } from "./restore-hooks.ts";
import type { OutputCondition } from "../tasks/step-output.ts";
import type { RunnerDeps } from "./runner-deps.ts";

const FINAL = ["Succeeded", "Failed", "Unknown", "Invalid"];

/** Restores this host's part of a RestoreSession. Returns the host phase ("skipped" if not its turn). */
export async function restoreForSession(deps: RunnerDeps, f: TargetFlags, metrics?: RunnerMetrics): Promise<"skipped" | "Succeeded" | "Failed"> {
  const ns = f.targetNamespace;
  // A RestoreSession, or a RestoreBatch as this target's member sees it (restore-invoker.ts).
  const rs = await readRestoreInvoker(deps.kube, f);
  const alias = rs.spec?.target?.alias;
  const hostname = hostName(f.targetKind, alias, deps.env.POD_NAME, deps.env.NODE_NAME);
  if (FINAL.includes(rs.status?.phase ?? "") || (rs.status?.stats ?? []).some((s) => s.hostname === hostname)) return "skipped";
  const log = deps.log.child({ restoresession: `${ns}/${f.invokerName}`, host: hostname });
  const started = deps.now();
  const secrets: string[] = [];
  let repo: Repository | undefined;
  let out: StepOutput;
  const hooks = { kube: deps.kube, env: deps.env, now: deps.now };
  const executor = { namespace: ns, name: deps.env.POD_NAME };
  // A RestoreBatch member's hook conditions go to its entry in status.members (restore-invoker.ts).
  const record = (c: OutputCondition) =>
    updateRestoreStatus(deps.kube, f, (status) => statusWithConditions(status, [c], new Date(deps.now()), rs.metadata.generation));
  try {
    const pre = await runRestoreHook(hooks, rs, "preRestore", { phase: "Running" }, executor, secrets);
    if (pre) {
      // Recorded at once: whoever watches the session sees the hook's outcome before the data moves.
      await record(pre);
      if (pre.status === "False") throw new Error(pre.message);
    }
    const opened = await openRepo(deps, rs, f.enableCache, secrets);
    repo = opened.repo;
    const rule = ruleForHost(rulesOf(rs), hostname);
    if (!rule) {
      log.info("no rule matches this host: nothing to restore");
    } else {
      const source = rule.sourceHost || hostname;
      const opts = { include: rule.include, exclude: rule.exclude, args: rs.spec?.target?.args };
      // `<snapshot>:<path>` restores the contents of `path` into its destination: the same
      // path in a pod (Stash's `--target /`), the mapped host directory outside one.
      if (rule.snapshots?.length) {
        for (const id of rule.snapshots) {
          const [snap] = await snapshots(opened.restic, { ids: [id] }).catch(() => []);
          if (!snap) throw new SnapshotNotFoundError(`snapshot ${id} (rule for host ${hostname})`);
          for (const p of snap.paths) {
            log.info("restoring", { snapshot: snap.shortId, path: p });
            await restore(opened.restic, { snapshot: `${snap.id}:${p}`, target: deps.mapPath(p), ...opts });
          }
        }
      } else {
        // A RestoreTarget declares no paths (the API server prunes them); an object built elsewhere may carry them.
        const paths = rule.paths?.length ? rule.paths : ((rs.spec?.target as { paths?: string[] } | undefined)?.paths ?? []);
        if (paths.length === 0)
          throw new Error(`RestoreSession ${ns}/${f.invokerName}, field spec.target.rules: the rule for host ${hostname} names no paths and no snapshots`);
        for (const p of paths) {
          log.info("restoring", { snapshot: "latest", path: p, sourceHost: source });
          await restore(opened.restic, { snapshot: `latest:${p}`, path: p, host: source, target: deps.mapPath(p), ...opts });
        }
      }
    }
    out = { kind: "restore", command: "restore", hostname, phase: "Succeeded", duration: goDuration(deps.now() - started) };
  } catch (e) {
    const error = redact(errorMessage(e), secrets);
    log.error("restore failed", { error });
    out = { kind: "restore", command: "restore", hostname, phase: "Failed", duration: goDuration(deps.now() - started), error };
  }
  // postRestore sees this host's outcome with the session's; its condition is in before the host's
  // result, so the operator never finishes the session without it.
  const fresh = rs.spec?.hooks?.postRestore ? await readRestoreInvoker(deps.kube, f) : rs;
  const post = await runRestoreHook(hooks, fresh, "postRestore", restoreTargetState(fresh.status, out), executor, secrets);
  if (post) {
    await record(post);
    if (post.status === "False") log.error("postRestore hook failed", { error: post.message });
  }
  if (metrics && repo) {
    try {
      await metrics.pushRestoreHost(rs, repo, out);
    } catch (e) {
      log.warn("could not push restore metrics", { error: redact(errorMessage(e), secrets) });
    }
  }
  await updateRestoreStatus(deps.kube, f, (status) => restoreStatusWith(status, out));
  return out.phase;
}
