// Repository reconcile: finalizer `stash`; on deletion wait for running backups that use it,
// delete the backend data only when spec.wipeOut is true (refused for local and B2, as Stash),
// then release the finalizer. Status: observedGeneration and kstatus health; the backup
// statistics fields are written by the runner after each backup.
import { setCondition, setHealth } from "../../lib/conditions.ts";
import { errorMessage, waiting } from "../../lib/errors.ts";
import type { KubeObject } from "../../lib/kube/client.ts";
import type { Result } from "../../lib/workqueue.ts";
import { setFinalizer } from "../invoker/dependencies.ts";
import { now, type ControllerContext } from "../context.ts";
import { LABEL_INVOKER_NAME, LABEL_INVOKER_TYPE, REPOSITORY_FINALIZER, V1ALPHA1, V1BETA1 } from "../../stash/names.ts";
import { writeStatus } from "../../lib/status.ts";

export function wipeOutRefusal(repo: any): string | null {
  if (!repo.spec?.wipeOut) return null;
  if (repo.spec?.backend?.local) return "wipe out operation is not supported for local backend";
  if (repo.spec?.backend?.b2) return "wipe out operation is not supported for B2 backend";
  return null;
}

export async function reconcileRepository(ctx: ControllerContext, namespace: string, name: string): Promise<Result> {
  const { kube } = ctx;
  let repo = await kube.getOrNull<KubeObject>(V1ALPHA1, "Repository", name, namespace);
  if (!repo) return {};
  const t = now(ctx);
  if (repo.metadata.deletionTimestamp) {
    if (!(repo.metadata.finalizers ?? []).includes(REPOSITORY_FINALIZER)) return {};
    const running = await runningSessions(ctx, repo);
    if (running.length) throw waiting("BackupRunning", `Repository ${namespace}/${name} is being deleted; waiting for running BackupSession(s) ${running.join(", ")}`, 2_000);
    if (repo.spec?.wipeOut && !wipeOutRefusal(repo)) {
      if (!ctx.wipeOut) throw new Error(`Repository ${namespace}/${name}: spec.wipeOut is true but this operator cannot delete ${Object.keys(repo.spec.backend ?? {}).filter((k) => k !== "storageSecretName").join(",")} backend data`);
      await ctx.wipeOut(repo);
    }
    await setFinalizer(kube, repo, REPOSITORY_FINALIZER, false);
    return {};
  }
  repo = await setFinalizer(kube, repo, REPOSITORY_FINALIZER, true);
  let conditions = repo.status?.conditions ?? [];
  const refusal = wipeOutRefusal(repo);
  if (refusal) {
    conditions = setCondition(conditions, { type: "ValidationPassed", status: false, reason: "ResourceValidationFailed", message: `field spec.wipeOut: ${refusal}` }, t, repo.metadata.generation);
    conditions = setHealth(conditions, { health: "Stalled", reason: "ResourceValidationFailed", message: `Repository ${namespace}/${name}, field spec.wipeOut: ${refusal}` }, t, repo.metadata.generation);
  } else {
    conditions = conditions.filter((c: any) => c.type !== "ValidationPassed");
    conditions = setHealth(conditions, { health: "Ready", reason: "Succeeded", message: "Repository is usable." }, t, repo.metadata.generation);
  }
  const status: Record<string, any> = { ...(repo.status ?? {}), observedGeneration: repo.metadata.generation, conditions };
  if (ctx.invokersOf) {
    const refs = ctx.invokersOf(namespace, name).sort((a, b) => `${a.kind}/${a.namespace}/${a.name}`.localeCompare(`${b.kind}/${b.namespace}/${b.name}`));
    if (refs.length) status.references = refs;
    else delete status.references;
  }
  try {
    await writeStatus(kube, repo, status);
  } catch (e) {
    throw new Error(`Repository ${namespace}/${name}: status update failed: ${errorMessage(e)}`);
  }
  return {};
}

/** Running BackupSessions of invokers that reference this Repository. */
async function runningSessions(ctx: ControllerContext, repo: KubeObject): Promise<string[]> {
  const out: string[] = [];
  for (const ref of repo.status?.references ?? []) {
    if (ref.kind !== "BackupConfiguration") continue;
    const list = await ctx.kube.list<KubeObject>(V1BETA1, "BackupSession", ref.namespace, `${LABEL_INVOKER_TYPE}=${ref.kind},${LABEL_INVOKER_NAME}=${ref.name}`);
    for (const s of list.items) if (s.status?.phase === "Running") out.push(`${ref.namespace}/${s.metadata.name}`);
  }
  return out;
}
