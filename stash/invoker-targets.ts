// The targets of an invoker, as Stash's invoker package sees them (A:pkg/invoker GetTargetInfo):
// a BackupConfiguration or RestoreSession has one (its spec.target with the spec's task, runtime
// settings, tempDir and hooks); a BackupBatch or RestoreBatch has one per member. Everything that
// backs up or restores one target (sidecar, init-container, Jobs, the runner) reads it through
// these functions, so the single-target kinds and the batches share one code path. Pure.
import type {
  BackupBatch,
  BackupConfiguration,
  BackupConfigurationSpec,
  BackupHooks,
  BackupTarget,
  EmptyDirSettings,
  InterimVolumeTemplate,
  RestoreBatch,
  RestoreBatchSpec,
  RestoreHooks,
  RestoreSession,
  RestoreSessionSpec,
  RestoreTarget,
  RuntimeSettings,
  TaskRef,
} from "../schema/types.generated.ts";

export const BACKUP_BATCH = "BackupBatch";
export const RESTORE_BATCH = "RestoreBatch";

/** What starts backups: a BackupConfiguration (one target) or a BackupBatch (one per member). */
export type BackupInvoker = BackupConfiguration | BackupBatch;
/** What starts restores: a RestoreSession (one target) or a RestoreBatch (one per member). */
export type RestoreInvoker = RestoreSession | RestoreBatch;
export type Invoker = BackupInvoker | RestoreInvoker;

/**
 * A backup invoker as the executor of one target sees it (memberView): the kind, name and status
 * stay the invoker's, the spec is a BackupConfiguration's (a batch's member fields laid over its own).
 */
export type BackupView = Omit<BackupInvoker, "spec"> & { spec: BackupConfigurationSpec & Pick<BackupBatch["spec"], "executionOrder"> };
/** A restore invoker as the executor of one target sees it (memberView). */
export type RestoreView = Omit<RestoreInvoker, "spec"> & { spec: RestoreSessionSpec & Pick<RestoreBatchSpec, "executionOrder"> };
export type InvokerView = BackupView | RestoreView;

export const isBatch = (kind: string | undefined) => kind === BACKUP_BATCH || kind === RESTORE_BATCH;

export interface Ref {
  apiVersion?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

/** One target of an invoker: what Stash calls BackupTargetInfo / RestoreTargetInfo. */
interface TargetInfoOf<T, H> {
  /** Position among the invoker's targets (the Job suffix, the order of Sequential execution). */
  index: number;
  /** BackupTarget / RestoreTarget; ref.namespace defaults to the invoker's namespace. Absent for a target-less invoker. */
  target?: T;
  task?: TaskRef;
  runtimeSettings?: RuntimeSettings;
  tempDir?: EmptyDirSettings;
  interimVolumeTemplate?: InterimVolumeTemplate;
  /** Target-level hooks (run by the sidecar, init-container or Job), never a batch's global ones. */
  hooks?: H;
  /** Where this target lives in the invoker's spec, for messages: "spec.target" or "spec.members[1].target". */
  field: string;
}
export type BackupTargetInfo = TargetInfoOf<BackupTarget, BackupHooks>;
export type RestoreTargetInfo = TargetInfoOf<RestoreTarget, RestoreHooks>;
export type TargetInfo = BackupTargetInfo | RestoreTargetInfo;

function withNamespace<T extends { ref?: Ref }>(target: T | undefined, namespace: string | undefined): T | undefined {
  if (!target?.ref) return target;
  if (target.ref.namespace || !namespace) return target;
  return { ...target, ref: { ...target.ref, namespace } };
}

/** The invoker's targets in spec order. */
export function targetsOf(inv: BackupInvoker | BackupView): BackupTargetInfo[];
export function targetsOf(inv: RestoreInvoker | RestoreView): RestoreTargetInfo[];
export function targetsOf(inv: Invoker | InvokerView): TargetInfo[];
export function targetsOf(inv: Invoker | InvokerView): TargetInfo[] {
  const ns = inv?.metadata?.namespace;
  if (isBatch(inv?.kind)) {
    const spec = (inv?.spec ?? {}) as Partial<BackupBatch["spec"] | RestoreBatchSpec>;
    return (spec.members ?? []).map(
      (m, index): TargetInfo =>
        ({
          index,
          target: withNamespace<BackupTarget | RestoreTarget>(m?.target, ns),
          task: m?.task,
          runtimeSettings: m?.runtimeSettings,
          tempDir: m?.tempDir,
          interimVolumeTemplate: m?.interimVolumeTemplate,
          hooks: m?.hooks,
          field: `spec.members[${index}].target`,
        }) as TargetInfo,
    );
  }
  const spec: Partial<BackupConfigurationSpec | RestoreSessionSpec> = inv?.spec ?? {};
  return [
    {
      index: 0,
      target: withNamespace<BackupTarget | RestoreTarget>(spec.target, ns),
      task: spec.task,
      runtimeSettings: spec.runtimeSettings,
      tempDir: spec.tempDir,
      interimVolumeTemplate: spec.interimVolumeTemplate,
      hooks: spec.hooks,
      field: "spec.target",
    } as TargetInfo,
  ];
}

/** Stash's TargetMatched: same kind, name and namespace (a missing namespace is `defaultNamespace`). */
export function sameRef(a: Ref | undefined, b: Ref | undefined, defaultNamespace?: string): boolean {
  if (!a || !b) return false;
  return a.kind === b.kind && a.name === b.name && (a.namespace || defaultNamespace) === (b.namespace || defaultNamespace);
}

/** The invoker's target for `ref` (a workload, a PVC), if it has one. */
export function targetFor(inv: BackupInvoker | BackupView, ref: Ref): BackupTargetInfo | undefined;
export function targetFor(inv: RestoreInvoker | RestoreView, ref: Ref): RestoreTargetInfo | undefined;
export function targetFor(inv: Invoker | InvokerView, ref: Ref): TargetInfo | undefined;
export function targetFor(inv: Invoker | InvokerView, ref: Ref): TargetInfo | undefined {
  return targetsOf(inv).find((t) => sameRef(t.target?.ref, ref, inv?.metadata?.namespace));
}

const MEMBER_FIELDS = ["target", "task", "runtimeSettings", "tempDir", "interimVolumeTemplate", "hooks"] as const;

/**
 * The invoker as the executor of one target sees it: spec.target, task, runtimeSettings, tempDir,
 * interimVolumeTemplate and hooks are that target's; kind, name, repository, retention policy and
 * the rest stay the invoker's. For a single-target invoker it is the invoker itself.
 */
export function memberView(inv: BackupInvoker | BackupView, info: TargetInfo | undefined): BackupView;
export function memberView(inv: RestoreInvoker | RestoreView, info: TargetInfo | undefined): RestoreView;
export function memberView(inv: Invoker | InvokerView, info: TargetInfo | undefined): InvokerView;
export function memberView(inv: Invoker | InvokerView, info: TargetInfo | undefined): InvokerView {
  if (!info || !isBatch(inv?.kind)) return inv as InvokerView;
  // The batch's spec with the member's fields: an open record while it is rebuilt.
  const spec: Record<string, unknown> = { ...(inv.spec ?? {}) };
  for (const k of MEMBER_FIELDS) {
    const v = info[k];
    if (v === undefined) delete spec[k];
    else spec[k] = v;
  }
  delete spec.members;
  return { ...inv, spec } as InvokerView;
}

/** Stash's execution order: BackupConfiguration and RestoreSession are Sequential (one target); batches default to Parallel. */
export function executionOrder(inv: Invoker | InvokerView): "Parallel" | "Sequential" {
  if (!isBatch(inv?.kind)) return "Sequential";
  return (inv?.spec as { executionOrder?: string } | undefined)?.executionOrder === "Sequential" ? "Sequential" : "Parallel";
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
