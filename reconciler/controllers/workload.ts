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
} from "../../restic-runner/pod-template.ts";
import {
  ANN_LAST_APPLIED_BACKUP_INVOKER,
  ANN_LAST_APPLIED_BACKUP_INVOKER_KIND,
  ANN_LAST_APPLIED_RESTORE_INVOKER,
  ANN_LAST_APPLIED_RESTORE_INVOKER_KIND,
  sortKeys,
} from "./stash-names.ts";

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

async function mutateWorkload(kube: Kube, ref: TargetRef, namespace: string, change: (w: KubeObject) => KubeObject, current?: KubeObject): Promise<"changed" | "unchanged" | "absent"> {
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

export function ensureSidecar(kube: Kube, bc: any, repo: any, opts: InjectOptions, current?: KubeObject): Promise<"changed" | "unchanged" | "absent"> {
  const ref = bc.spec.target.ref as TargetRef;
  return mutateWorkload(kube, ref, ref.namespace ?? bc.metadata.namespace, (w) => {
    const spec = w.spec as any;
    spec.template = injectSidecar(spec.template ?? {}, bc, repo, opts);
    w.metadata.annotations = sortKeys({ ...(w.metadata.annotations ?? {}), ...backupInvokerAnnotations(bc) });
    return w;
  }, current);
}

/** Removes the sidecar only if this invoker (by name) is the one recorded on the workload. */
export function removeSidecarFor(kube: Kube, bc: any): Promise<"changed" | "unchanged" | "absent"> {
  const ref = bc.spec?.target?.ref as TargetRef | undefined;
  if (!ref?.name) return Promise.resolve("absent");
  return mutateWorkload(kube, ref, ref.namespace ?? bc.metadata.namespace, (w) => {
    const recorded = w.metadata.annotations?.[ANN_LAST_APPLIED_BACKUP_INVOKER];
    if (recorded) {
      try {
        if (JSON.parse(recorded)?.metadata?.name !== bc.metadata.name) return w;
      } catch {
        /* unreadable record: ours to clean */
      }
    }
    const spec = w.spec as any;
    spec.template = removeSidecar(spec.template ?? {});
    const ann = { ...(w.metadata.annotations ?? {}) };
    delete ann[ANN_LAST_APPLIED_BACKUP_INVOKER];
    delete ann[ANN_LAST_APPLIED_BACKUP_INVOKER_KIND];
    w.metadata.annotations = ann;
    return w;
  });
}

export function ensureInitContainer(kube: Kube, rs: any, repo: any, opts: InjectOptions): Promise<"changed" | "unchanged" | "absent"> {
  const ref = rs.spec.target.ref as TargetRef;
  return mutateWorkload(kube, ref, ref.namespace ?? rs.metadata.namespace, (w) => {
    const spec = w.spec as any;
    spec.template = injectInitContainer(spec.template ?? {}, rs, repo, opts);
    w.metadata.annotations = sortKeys({ ...(w.metadata.annotations ?? {}), ...restoreInvokerAnnotations(rs) });
    return w;
  });
}

export function removeInitContainerFor(kube: Kube, rs: any): Promise<"changed" | "unchanged" | "absent"> {
  const ref = rs.spec?.target?.ref as TargetRef | undefined;
  if (!ref?.name) return Promise.resolve("absent");
  return mutateWorkload(kube, ref, ref.namespace ?? rs.metadata.namespace, (w) => {
    const recorded = w.metadata.annotations?.[ANN_LAST_APPLIED_RESTORE_INVOKER];
    if (recorded) {
      try {
        if (JSON.parse(recorded)?.metadata?.name !== rs.metadata.name) return w;
      } catch {
        /* ours to clean */
      }
    }
    const spec = w.spec as any;
    spec.template = removeInitContainer(spec.template ?? {});
    const ann = { ...(w.metadata.annotations ?? {}) };
    delete ann[ANN_LAST_APPLIED_RESTORE_INVOKER];
    delete ann[ANN_LAST_APPLIED_RESTORE_INVOKER_KIND];
    w.metadata.annotations = ann;
    return w;
  });
}
