// Repository reconcile: finalizer `stash`; on deletion wait for running backups that use it,
// delete the backend data only when spec.wipeOut is true (refused for local and B2, as Stash),
// then release the finalizer. Status: observedGeneration, the invokers that use it
// (status.references) and kstatus health, through lib/reconcile.ts; a wipeOut it refuses is
// Stalled. The backup statistics fields are written by the runner after each backup.
import { stalled, waiting } from "../../lib/errors.ts";
import { reconciler } from "../../lib/reconcile.ts";
import type { BackupSession, Condition, Repository, RepositoryReference, RepositoryStatus } from "../../schema/types.generated.ts";
import { setStashCondition } from "../invoker/dependencies.ts";
import type { ControllerContext } from "../context.ts";
import { LABEL_INVOKER_NAME, LABEL_INVOKER_TYPE, REPOSITORY_FINALIZER, V1ALPHA1, V1BETA1 } from "../../stash/names.ts";

export function wipeOutRefusal(repo: Pick<Repository, "spec">): string | null {
  if (!repo.spec?.wipeOut) return null;
  if (repo.spec?.backend?.local) return "wipe out operation is not supported for local backend";
  if (repo.spec?.backend?.b2) return "wipe out operation is not supported for B2 backend";
  return null;
}

/** What one reconcile of a Repository builds up: its conditions and who uses it. */
interface RepositoryState {
  conditions: Condition[];
  now: Date;
  references?: (RepositoryReference & { kind: string; namespace: string })[];
}

export const reconcileRepository = reconciler<ControllerContext, RepositoryState, Repository>({
  apiVersion: V1ALPHA1,
  kind: "Repository",
  finalizer: REPOSITORY_FINALIZER,
  async finalize(ctx, repo) {
    const { namespace, name } = repo.metadata;
    const running = await runningSessions(ctx, repo);
    if (running.length)
      throw waiting("BackupRunning", `Repository ${namespace}/${name} is being deleted; waiting for running BackupSession(s) ${running.join(", ")}`, 2_000);
    if (repo.spec?.wipeOut && !wipeOutRefusal(repo)) {
      if (!ctx.wipeOut)
        throw new Error(
          `Repository ${namespace}/${name}: spec.wipeOut is true but this operator cannot delete ${Object.keys(repo.spec.backend ?? {})
            .filter((k) => k !== "storageSecretName")
            .join(",")} backend data`,
        );
      await ctx.wipeOut(repo);
    }
  },
  begin: (_ctx, repo, now) => ({ conditions: repo.status?.conditions ?? [], now }),
  async steps(ctx, repo, s) {
    const { namespace, name } = repo.metadata;
    s.references = ctx.invokersOf?.(namespace!, name!).sort((a, b) => `${a.kind}/${a.namespace}/${a.name}`.localeCompare(`${b.kind}/${b.namespace}/${b.name}`));
    const refusal = wipeOutRefusal(repo);
    if (refusal) {
      s.conditions = setStashCondition(
        s.conditions,
        { type: "ValidationPassed", status: false, reason: "ResourceValidationFailed", message: `field spec.wipeOut: ${refusal}` },
        s.now,
        repo.metadata.generation,
      );
      throw stalled("ResourceValidationFailed", refusal, { object: { kind: "Repository", namespace, name: name! }, field: "spec.wipeOut" });
    }
    s.conditions = s.conditions.filter((c) => c.type !== "ValidationPassed");
  },
  status(_ctx, repo, s) {
    const status: RepositoryStatus = { ...(repo.status ?? {}), observedGeneration: repo.metadata.generation, conditions: s.conditions };
    // Without the operator's caches (invokersOf) the references are left as they are.
    if (s.references?.length) status.references = s.references;
    else if (s.references) delete status.references;
    return { status, health: { health: "Ready", reason: "Succeeded", message: "Repository is usable." } };
  },
});

/** Running BackupSessions of invokers that reference this Repository. */
async function runningSessions(ctx: ControllerContext, repo: Repository): Promise<string[]> {
  const out: string[] = [];
  for (const ref of repo.status?.references ?? []) {
    if (ref.kind !== "BackupConfiguration") continue;
    const list = await ctx.kube.list<BackupSession>(
      V1BETA1,
      "BackupSession",
      ref.namespace,
      `${LABEL_INVOKER_TYPE}=${ref.kind},${LABEL_INVOKER_NAME}=${ref.name}`,
    );
    for (const s of list.items) if (s.status?.phase === "Running") out.push(`${ref.namespace}/${s.metadata.name}`);
  }
  return out;
}
