// Checks shared by the invoker kinds (BackupConfiguration, RestoreSession, and per member the
// batches): the Repository they use must allow their namespace, the Task they name must exist,
// and a target in another namespace is only allowed where Stash allows it.
import type { V1ObjectMeta } from "@kubernetes/client-node";
import type { BackupConfiguration, RepositoryRef, RestoreSession, TargetRef } from "../schema/types.generated.ts";
import type { AdmissionContext, Violation } from "./types.ts";

/** An invoker with one target and Task (BackupConfiguration, RestoreSession). */
type SingleTarget = BackupConfiguration | RestoreSession;
/** What the Repository check reads of any invoker kind. */
type UsesRepository = { metadata: V1ObjectMeta; spec?: { repository?: RepositoryRef } };
import { usageAllowed, usageDeniedMessage } from "./usage-policy.ts";
import { backupModel } from "../stash/names.ts";

/** Stash's sidecar model: no task and a workload target (the controllers' own rule). */
export function isSidecarModel(obj: SingleTarget): boolean {
  return backupModel(obj.spec?.target?.ref?.kind, obj.spec?.task?.name) === "sidecar";
}

/** A Repository in another namespace must allow this one. A missing Repository is the controller's business (RepositoryFound=False). */
export async function repositoryReferenceViolations(obj: UsesRepository, ctx: AdmissionContext): Promise<Violation[]> {
  const ref = obj.spec?.repository;
  if (!ref?.name) return [];
  const namespace = obj.metadata.namespace ?? ctx.namespace;
  const repoNamespace = ref.namespace || namespace;
  if (repoNamespace === namespace) return [];
  const repo = await ctx.lookups.getRepository(repoNamespace, ref.name);
  if (!repo) return [];
  const ns = await ctx.lookups.getNamespace(namespace);
  const decision = usageAllowed(repo, namespace, (ns?.metadata.labels ?? {}) as Record<string, string>);
  if (decision.allowed) return [];
  return [{ field: "spec.repository", message: usageDeniedMessage(namespace, repoNamespace, ref.name, decision.reason) }];
}

/** A named Task must exist (Tasks are cluster-scoped). */
export async function taskReferenceViolations(obj: SingleTarget, ctx: AdmissionContext): Promise<Violation[]> {
  return taskNameViolations(obj.spec?.task?.name, "spec.task.name", ctx);
}

export async function taskNameViolations(name: unknown, field: string, ctx: AdmissionContext): Promise<Violation[]> {
  if (typeof name !== "string" || !name) return [];
  if (await ctx.lookups.getTask(name)) return [];
  return [{ field, message: `Task ${JSON.stringify(name)} not found` }];
}

/** A target in another namespace: allowed for kubedump tasks, refused for PVCs and the sidecar model. */
export function crossNamespaceTargetViolations(obj: SingleTarget): Violation[] {
  return targetNamespaceViolations(obj.spec?.target?.ref, obj.spec?.task?.name, obj.metadata.namespace, "spec.target.ref.namespace");
}

/** The same rule for one target (`ref` and its `taskName`) of an invoker in `namespace`. */
export function targetNamespaceViolations(ref: TargetRef | undefined, taskName: unknown, namespace: string | undefined, field: string): Violation[] {
  if (!ref?.namespace || ref.namespace === namespace) return [];
  if (String(taskName ?? "").startsWith("kubedump")) return [];
  if (ref.kind === "PersistentVolumeClaim" || backupModel(ref.kind, taskName as string | undefined) === "sidecar") {
    return [{ field, message: `cross-namespace target reference is not allowed for ${JSON.stringify(`${ref.kind}/${ref.name}`)}` }];
  }
  return [];
}
