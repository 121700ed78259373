// Puts the backup sidecar / restore init-container into a workload's pod template and takes it
// out again, with a read-modify-write guarded by resourceVersion (the webhook may have injected
// it under another field manager, so server-side apply alone cannot remove it).
import { isDeepStrictEqual } from "node:util";
import type { Kube, KubeObject } from "../../lib/kube/client.ts";
import {
  backupInvokerAnnotations,
  injectInitContainer,
  injectSidecar,
  removeInitContainer,
  removeSidecar,
  restoreInvokerAnnotations,
  type InjectOptions,
} from "../../stash/pod-template.ts";
import {
  ANN_LAST_APPLIED_BACKUP_INVOKER,
  ANN_LAST_APPLIED_BACKUP_INVOKER_KIND,
  ANN_LAST_APPLIED_RESTORE_INVOKER,
  ANN_LAST_APPLIED_RESTORE_INVOKER_KIND,
  backupModel,
  sortKeys,
} from "../../stash/names.ts";
import { targetsOf, type TargetInfo } from "../../stash/invoker-targets.ts";

export interface TargetRef {
  apiVersion?: string;
  kind: string;
  name: string;
  namespace?: string;
}

/** Default apiVersion for the kinds Stash targets. */
export function targetApiVersion(ref: TargetRef): string {
  if (ref.apiVersion) return ref.apiVersion;
  return ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"].includes(ref.kind) ? "apps/v1" : "v1";
}

async function mutateWorkload(
  kube: Kube,
  ref: TargetRef,
  namespace: string,
  change: (w: KubeObject) => KubeObject,
  current?: KubeObject,
): Promise<"changed" | "unchanged" | "absent"> {
  for (let attempt = 0; ; attempt++) {
    // The caller may hand over the object it just read; a conflict re-reads.
    const w = attempt === 0 && current ? current : await kube.getOrNull<KubeObject>(targetApiVersion(ref), ref.kind, ref.name, namespace);
    if (!w) return "absent";
    const next = change(structuredClone(w));
    if (isDeepStrictEqual(next, w)) return "unchanged";
    try {
      await kube.request(await kube.pathOf(w, "patch"), { method: "PUT", body: next, query: { fieldManager: "restash" } });
      return "changed";
    } catch (e: any) {
      if (e?.code !== 409 || attempt >= 5) throw e;
    }
  }
}

/** Puts the sidecar of `bc` (for its target `info`: a BackupBatch member) into the target workload. */
export function ensureSidecar(
  kube: Kube,
  bc: any,
  repo: any,
  opts: InjectOptions,
  current?: KubeObject,
  info: TargetInfo = targetsOf(bc)[0],
): Promise<"changed" | "unchanged" | "absent"> {
  const ref = info.target.ref as TargetRef;
  return mutateWorkload(
    kube,
    ref,
    ref.namespace ?? bc.metadata.namespace,
    (w) => {
      const spec = w.spec as any;
      spec.template = injectSidecar(spec.template ?? {}, bc, repo, opts, info);
      w.metadata.annotations = sortKeys({ ...(w.metadata.annotations ?? {}), ...backupInvokerAnnotations(bc) });
      return w;
    },
    current,
  );
}

/** Whether the workload's record (`last-applied-*-invoker` and its kind) names this invoker; an unreadable record is ours to clean. */
function recordedIs(w: KubeObject, annotation: string, kindAnnotation: string, inv: any): boolean {
  const recorded = w.metadata.annotations?.[annotation];
  if (!recorded) return true;
  const kind = w.metadata.annotations?.[kindAnnotation];
  if (kind && inv.kind && kind !== inv.kind) return false;
  try {
    return JSON.parse(recorded)?.metadata?.name === inv.metadata.name;
  } catch {
    return true;
  }
}

/** The workload targets of an invoker that carry its sidecar / init-container (no task: Stash's sidecar model). */
const workloadTargets = (inv: any): TargetRef[] =>
  targetsOf(inv)
    .filter((t) => t.target?.ref?.name && backupModel(t.target.ref.kind, t.task?.name) === "sidecar")
    .map((t) => t.target.ref as TargetRef);

/**
 * Takes what `inv` put into each of its workload targets out again (`remove` on the pod template),
 * with the record annotations, but only where the record still names `inv`.
 */
async function removeRecordedParts(kube: Kube, inv: any, annotation: string, kindAnnotation: string, remove: (template: any) => any): Promise<void> {
  for (const ref of workloadTargets(inv)) {
    await mutateWorkload(kube, ref, ref.namespace ?? inv.metadata.namespace, (w) => {
      if (!recordedIs(w, annotation, kindAnnotation, inv)) return w;
      const spec = w.spec as any;
      spec.template = remove(spec.template ?? {});
      const ann = { ...(w.metadata.annotations ?? {}) };
      delete ann[annotation];
      delete ann[kindAnnotation];
      w.metadata.annotations = ann;
      return w;
    });
  }
}

/** Removes the sidecar from every workload target of `bc` whose record names this invoker. */
export function removeSidecarFor(kube: Kube, bc: any): Promise<void> {
  return removeRecordedParts(kube, bc, ANN_LAST_APPLIED_BACKUP_INVOKER, ANN_LAST_APPLIED_BACKUP_INVOKER_KIND, removeSidecar);
}

/** Puts the init-container of `rs` (for its target `info`: a RestoreBatch member) into the target workload. */
export function ensureInitContainer(
  kube: Kube,
  rs: any,
  repo: any,
  opts: InjectOptions,
  info: TargetInfo = targetsOf(rs)[0],
): Promise<"changed" | "unchanged" | "absent"> {
  const ref = info.target.ref as TargetRef;
  return mutateWorkload(kube, ref, ref.namespace ?? rs.metadata.namespace, (w) => {
    const spec = w.spec as any;
    spec.template = injectInitContainer(spec.template ?? {}, rs, repo, opts, info);
    w.metadata.annotations = sortKeys({ ...(w.metadata.annotations ?? {}), ...restoreInvokerAnnotations(rs) });
    return w;
  });
}

/** Removes the init-container from every workload target of `rs` whose record names this invoker. */
export function removeInitContainerFor(kube: Kube, rs: any): Promise<void> {
  return removeRecordedParts(kube, rs, ANN_LAST_APPLIED_RESTORE_INVOKER, ANN_LAST_APPLIED_RESTORE_INVOKER_KIND, removeInitContainer);
}
