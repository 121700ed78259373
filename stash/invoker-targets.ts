// The targets of an invoker, as Stash's invoker package sees them (A:pkg/invoker GetTargetInfo):
// a BackupConfiguration or RestoreSession has one (its spec.target with the spec's task, runtime
// settings, tempDir and hooks); a BackupBatch or RestoreBatch has one per member. Everything that
// backs up or restores one target (sidecar, init-container, Jobs, the runner) reads it through
// these functions, so the single-target kinds and the batches share one code path. Pure.

export const BACKUP_BATCH = "BackupBatch";
export const RESTORE_BATCH = "RestoreBatch";

export const isBatch = (kind: string | undefined) => kind === BACKUP_BATCH || kind === RESTORE_BATCH;

export interface Ref {
  apiVersion?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

/** One target of an invoker: what Stash calls BackupTargetInfo / RestoreTargetInfo. */
export interface TargetInfo {
  /** Position among the invoker's targets (the Job suffix, the order of Sequential execution). */
  index: number;
  /** BackupTarget / RestoreTarget; ref.namespace defaults to the invoker's namespace. Absent for a target-less invoker. */
  target?: any;
  task?: any;
  runtimeSettings?: any;
  tempDir?: any;
  interimVolumeTemplate?: any;
  /** Target-level hooks (run by the sidecar, init-container or Job), never a batch's global ones. */
  hooks?: any;
  /** Where this target lives in the invoker's spec, for messages: "spec.target" or "spec.members[1].target". */
  field: string;
}

function withNamespace(target: any, namespace: string | undefined): any {
  if (!target?.ref) return target;
  if (target.ref.namespace || !namespace) return target;
  return { ...target, ref: { ...target.ref, namespace } };
}

/** The invoker's targets in spec order. */
export function targetsOf(inv: any): TargetInfo[] {
  const spec = inv?.spec ?? {};
  const ns = inv?.metadata?.namespace;
  if (isBatch(inv?.kind)) {
    return ((spec.members ?? []) as any[]).map((m, index) => ({
      index,
      target: withNamespace(m?.target, ns),
      task: m?.task,
      runtimeSettings: m?.runtimeSettings,
      tempDir: m?.tempDir,
      interimVolumeTemplate: m?.interimVolumeTemplate,
      hooks: m?.hooks,
      field: `spec.members[${index}].target`,
    }));
  }
  return [
    {
      index: 0,
      target: withNamespace(spec.target, ns),
      task: spec.task,
      runtimeSettings: spec.runtimeSettings,
      tempDir: spec.tempDir,
      interimVolumeTemplate: spec.interimVolumeTemplate,
      hooks: spec.hooks,
      field: "spec.target",
    },
  ];
}

/** Stash's TargetMatched: same kind, name and namespace (a missing namespace is `defaultNamespace`). */
export function sameRef(a: Ref | undefined, b: Ref | undefined, defaultNamespace?: string): boolean {
  if (!a || !b) return false;
  return a.kind === b.kind && a.name === b.name && (a.namespace || defaultNamespace) === (b.namespace || defaultNamespace);
}

/** The invoker's target for `ref` (a workload, a PVC), if it has one. */
export function targetFor(inv: any, ref: Ref): TargetInfo | undefined {
  return targetsOf(inv).find((t) => sameRef(t.target?.ref, ref, inv?.metadata?.namespace));
}

/**
 * The invoker as the executor of one target sees it: spec.target, task, runtimeSettings, tempDir,
 * interimVolumeTemplate and hooks are that target's; kind, name, repository, retention policy and
 * the rest stay the invoker's. For a single-target invoker it is the invoker itself.
 */
export function memberView<T extends { spec?: any }>(inv: T, info: TargetInfo | undefined): T {
  if (!info || !isBatch((inv as any)?.kind)) return inv;
  const spec = { ...(inv.spec ?? {}) };
  for (const k of ["target", "task", "runtimeSettings", "tempDir", "interimVolumeTemplate", "hooks"] as const) {
    const v = k === "target" ? info.target : info[k];
    if (v === undefined) delete spec[k];
    else spec[k] = v;
  }
  delete spec.members;
  return { ...inv, spec };
}

/** Stash's execution order: BackupConfiguration and RestoreSession are Sequential (one target); batches default to Parallel. */
export function executionOrder(inv: any): "Parallel" | "Sequential" {
  if (!isBatch(inv?.kind)) return "Sequential";
  return inv?.spec?.executionOrder === "Sequential" ? "Sequential" : "Parallel";
}

/**
 * Stash's NextInOrder: whether the target at `index` may start, given whether each target is
 * complete. Parallel: always. Sequential: once every earlier target is complete.
 */
export function nextInOrder(order: "Parallel" | "Sequential", index: number, completed: (i: number) => boolean): boolean {
  if (order === "Parallel") return true;
  for (let i = 0; i < index; i++) if (!completed(i)) return false;
  return true;
}
