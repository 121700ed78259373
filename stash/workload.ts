// Which invoker drives a workload's executor, and the workload as it should be stored: a
// Deployment, StatefulSet, DaemonSet or ReplicaSet targeted by a BackupConfiguration (or a
// BackupBatch member) gets the `stash` sidecar, one targeted by a RestoreSession (or RestoreBatch
// member) gets the `stash-init` init-container, and one no longer targeted loses them. Pure; the
// webhook and the controllers both use it, so a workload looks the same whoever touched it last.
import type { V1ObjectMeta } from "@kubernetes/client-node";
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
} from "./pod-template.ts";
import {
  ANN_LAST_APPLIED_BACKUP_INVOKER,
  ANN_LAST_APPLIED_BACKUP_INVOKER_KIND,
  ANN_LAST_APPLIED_RESTORE_INVOKER,
  ANN_LAST_APPLIED_RESTORE_INVOKER_KIND,
  INIT_CONTAINER,
  SIDECAR_CONTAINER,
  WORKLOAD_KINDS,
} from "./names.ts";
import { targetsOf, type BackupInvoker, type Invoker, type RestoreInvoker, type TargetInfo } from "./invoker-targets.ts";
import { backupModel } from "./names.ts";

/** A Deployment, StatefulSet, DaemonSet or ReplicaSet: what the injection reads and writes of it. */
export interface Workload {
  apiVersion?: string;
  kind?: string;
  metadata?: V1ObjectMeta;
  spec?: { template?: PodTemplate; [k: string]: unknown };
}

export function isWorkloadKind(kind: string): boolean {
  return (WORKLOAD_KINDS as readonly string[]).includes(kind);
}

/** The invoker's target that is this workload in Stash's sidecar model (a batch: one of its members), if any. */
export function workloadTarget(invoker: Invoker, workload: Workload): TargetInfo | undefined {
  if (invoker.metadata.deletionTimestamp) return undefined;
  if ((invoker.spec?.driver ?? "Restic") !== "Restic") return undefined;
  return targetsOf(invoker).find(({ target, task }) => {
    const ref = target?.ref;
    if (!ref || ref.kind !== workload.kind || ref.name !== workload.metadata?.name) return false;
    if (ref.namespace && ref.namespace !== workload.metadata?.namespace) return false;
    return backupModel(ref.kind, task?.name) === "sidecar";
  });
}

const targets = (invoker: Invoker, workload: Workload) => workloadTarget(invoker, workload) !== undefined;

const created = (o: Invoker) => Date.parse(String(o.metadata.creationTimestamp ?? "")) || Number.MAX_SAFE_INTEGER;
const newestFirst = (a: Invoker, b: Invoker) => created(b) - created(a) || String(a.metadata.name).localeCompare(String(b.metadata.name));

/** The BackupConfiguration or BackupBatch that should drive the workload's sidecar: the newest one targeting it. */
export function backupInvokerFor<T extends BackupInvoker>(workload: Workload, configs: T[]): T | undefined {
  return configs.filter((bc) => targets(bc, workload)).sort(newestFirst)[0];
}

const RESTORE_RANK: Record<string, number> = { Running: 0, Pending: 1, "": 1, Failed: 2 };

/** The RestoreSession or RestoreBatch for the init-container: Running before Pending before Failed before finished, then newest. */
export function restoreInvokerFor<T extends RestoreInvoker>(workload: Workload, sessions: T[]): T | undefined {
  const rank = (rs: T) => RESTORE_RANK[String(rs.status?.phase ?? "")] ?? 3;
  return sessions.filter((rs) => targets(rs, workload)).sort((a, b) => rank(a) - rank(b) || newestFirst(a, b))[0];
}

export interface WorkloadInvokers {
  backup?: BackupInvoker;
  backupRepository?: RepositoryLike | null;
  restore?: RestoreInvoker;
  restoreRepository?: RepositoryLike | null;
}

function withoutKeys(o: Record<string, string>, keys: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));
}

/** Pure: the workload as it should be stored, given the invokers that target it. The input is not modified. */
export function desiredWorkload<T extends Workload>(workload: T, inv: WorkloadInvokers, opts: InjectOptions): T {
  let template: PodTemplate = structuredClone(workload.spec?.template ?? {});
  let annotations: Record<string, string> = { ...(workload.metadata?.annotations ?? {}) };
  const hasSidecar = (template.spec?.containers ?? []).some((c) => c?.name === SIDECAR_CONTAINER);
  const hasInit = (template.spec?.initContainers ?? []).some((c) => c?.name === INIT_CONTAINER);

  if (inv.backup) {
    template = injectSidecar(template, inv.backup, inv.backupRepository ?? undefined, opts, workloadTarget(inv.backup, workload));
    annotations = { ...annotations, ...backupInvokerAnnotations(inv.backup) };
  } else if (hasSidecar || annotations[ANN_LAST_APPLIED_BACKUP_INVOKER]) {
    template = removeSidecar(template);
    annotations = withoutKeys(annotations, [ANN_LAST_APPLIED_BACKUP_INVOKER, ANN_LAST_APPLIED_BACKUP_INVOKER_KIND]);
  }
  if (inv.restore) {
    template = injectInitContainer(template, inv.restore, inv.restoreRepository ?? undefined, opts, workloadTarget(inv.restore, workload));
    annotations = { ...annotations, ...restoreInvokerAnnotations(inv.restore) };
  } else if (hasInit || annotations[ANN_LAST_APPLIED_RESTORE_INVOKER]) {
    template = removeInitContainer(template);
    annotations = withoutKeys(annotations, [ANN_LAST_APPLIED_RESTORE_INVOKER, ANN_LAST_APPLIED_RESTORE_INVOKER_KIND]);
  }

  const metadata: V1ObjectMeta = { ...workload.metadata, annotations };
  if (Object.keys(annotations).length === 0) delete metadata.annotations;
  return { ...workload, metadata, spec: { ...workload.spec, template } };
}
