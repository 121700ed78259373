// Puts the backup sidecar / restore init-container into a workload's pod template and takes it
// out again, with a read-modify-write guarded by resourceVersion (the webhook may have injected
// it under another field manager, so server-side apply alone cannot remove it).
import { isDeepStrictEqual } from "node:util";
import { isConflict, type Kube } from "../../lib/kube/client.ts";
import type { TargetRef } from "../../schema/types.generated.ts";
import {
  backupInvokerAnnotations,
  injectInitContainer,
  injectSidecar,
  removeInitContainer,
  removeSidecar,
  restoreInvokerAnnotations,
  type InjectOptions,
  type PodTemplate,
  type RepositoryLike,
} from "../../stash/pod-template.ts";
import {
  ANN_LAST_APPLIED_BACKUP_INVOKER,
  ANN_LAST_APPLIED_BACKUP_INVOKER_KIND,
  ANN_LAST_APPLIED_RESTORE_INVOKER,
  ANN_LAST_APPLIED_RESTORE_INVOKER_KIND,
  backupModel,
  sortKeys,
} from "../../stash/names.ts";
import {
  targetsOf,
  type BackupInvoker,
  type BackupTargetInfo,
  type Invoker,
  type RestoreInvoker,
  type RestoreTargetInfo,
} from "../../stash/invoker-targets.ts";
import type { Workload } from "../../stash/workload.ts";

export type { TargetRef };

/** Default apiVersion for the kinds Stash targets. */
export function targetApiVersion(ref: TargetRef): string {
  if (ref.apiVersion) return ref.apiVersion;
  return ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"].includes(ref.kind) ? "apps/v1" : "v1";
}

async function mutateWorkload(
  kube: Kube,
  ref: TargetRef,
  namespace: string,
  change: (w: Workload) => Workload,
  current?: Workload,
): Promise<"changed" | "unchanged" | "absent"> {
  for (let attempt = 0; ; attempt++) {
    // The caller may hand over the object it just read; a conflict re-reads.
    const w = attempt === 0 && current ? current : await kube.getOrNull<Workload>(targetApiVersion(ref), ref.kind, ref.name, namespace);
    if (!w) return "absent";
    const next = change(structuredClone(w));
    if (isDeepStrictEqual(next, w)) return "unchanged";
    try {
      await kube.request(await kube.pathOf(w, "patch"), { method: "PUT", body: next, query: { fieldManager: "restash" } });
      return "changed";
    } catch (e) {
      if (!isConflict(e) || attempt >= 5) throw e;
    }
  }
}

/** Puts the sidecar of `bc` (for its target `info`: a BackupBatch member) into the target workload. */
export function ensureSidecar(
  kube: Kube,
  bc: BackupInvoker,
  repo: RepositoryLike | undefined,
  opts: InjectOptions,
  current?: Workload,
  info: BackupTargetInfo = targetsOf(bc)[0],
): Promise<"changed" | "unchanged" | "absent"> {
  const ref = info.target!.ref!;
  return mutateWorkload(
    kube,
    ref,
    ref.namespace ?? bc.metadata.namespace!,
    (w) => {
      const spec = (w.spec ??= {});
      spec.template = injectSidecar(spec.template ?? {}, bc, repo, opts, info);
      w.metadata = { ...w.metadata, annotations: sortKeys({ ...(w.metadata?.annotations ?? {}), ...backupInvokerAnnotations(bc) }) };
      return w;
    },
    current,
  );
}

/** Whether the workload's record (`last-applied-*-invoker` and its kind) names this invoker; an unreadable record is ours to clean. */
function recordedIs(w: Workload, annotation: string, kindAnnotation: string, inv: Invoker): boolean {
  const recorded = w.metadata?.annotations?.[annotation];
  if (!recorded) return true;
  const kind = w.metadata?.annotations?.[kindAnnotation];
  if (kind && inv.kind && kind !== inv.kind) return false;
  try {
    return JSON.parse(recorded)?.metadata?.name === inv.metadata.name;
  } catch {
    return true;
  }
}

/** The workload targets of an invoker that carry its sidecar / init-container (no task: Stash's sidecar model). */
const workloadTargets = (inv: Invoker): TargetRef[] =>
  targetsOf(inv).flatMap((t) => (t.target?.ref?.name && backupModel(t.target.ref.kind, t.task?.name) === "sidecar" ? [t.target.ref] : []));

/**
 * Takes what `inv` put into each of its workload targets out again (`remove` on the pod template),
 * with the record annotations, but only where the record still names `inv`.
 */
async function removeRecordedParts(
  kube: Kube,
  inv: Invoker,
  annotation: string,
  kindAnnotation: string,
  remove: (template: PodTemplate) => PodTemplate,
): Promise<void> {
  for (const ref of workloadTargets(inv)) {
    await mutateWorkload(kube, ref, ref.namespace ?? inv.metadata.namespace!, (w) => {
      if (!recordedIs(w, annotation, kindAnnotation, inv)) return w;
      const spec = (w.spec ??= {});
      spec.template = remove(spec.template ?? {});
      const ann = { ...(w.metadata?.annotations ?? {}) };
      delete ann[annotation];
      delete ann[kindAnnotation];
      w.metadata = { ...w.metadata, annotations: ann };
      return w;
    });
  }
}

/** Removes the sidecar from every workload target of `bc` whose record names this invoker. */
export function removeSidecarFor(kube: Kube, bc: BackupInvoker): Promise<void> {
  return removeRecordedParts(kube, bc, ANN_LAST_APPLIED_BACKUP_INVOKER, ANN_LAST_APPLIED_BACKUP_INVOKER_KIND, removeSidecar);
}

/** Puts the init-container of `rs` (for its target `info`: a RestoreBatch member) into the target workload. */
export function ensureInitContainer(
  kube: Kube,
  rs: RestoreInvoker,
  repo: RepositoryLike | undefined,
  opts: InjectOptions,
  info: RestoreTargetInfo = targetsOf(rs)[0],
): Promise<"changed" | "unchanged" | "absent"> {
  const ref = info.target!.ref!;
  return mutateWorkload(kube, ref, ref.namespace ?? rs.metadata.namespace!, (w) => {
    const spec = (w.spec ??= {});
    spec.template = injectInitContainer(spec.template ?? {}, rs, repo, opts, info);
    w.metadata = { ...w.metadata, annotations: sortKeys({ ...(w.metadata?.annotations ?? {}), ...restoreInvokerAnnotations(rs) }) };
    return w;
  });
}

/** Removes the init-container from every workload target of `rs` whose record names this invoker. */
export function removeInitContainerFor(kube: Kube, rs: RestoreInvoker): Promise<void> {
  return removeRecordedParts(kube, rs, ANN_LAST_APPLIED_RESTORE_INVOKER, ANN_LAST_APPLIED_RESTORE_INVOKER_KIND, removeInitContainer);
}
