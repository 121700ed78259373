// Workload mutation: a Deployment, StatefulSet, DaemonSet or ReplicaSet targeted by a
// BackupConfiguration gets the `stash` sidecar, one targeted by a RestoreSession gets the
// `stash-init` init-container, and one no longer targeted loses them. The pod-template edits are
// the controllers' own pure functions (restic-runner/pod-template.ts), so a workload looks the same
// whether the webhook or the controller touched it last.
import type { KubeObject } from "../lib/kube/client.ts";
import type { AdmissionContext, KindAdmission } from "./types.ts";
import {
  backupInvokerAnnotations,
  injectInitContainer,
  injectSidecar,
  removeInitContainer,
  removeSidecar,
  restoreInvokerAnnotations,
  type InjectOptions,
  type PodTemplate,
} from "../restic-runner/pod-template.ts";
import {
  ANN_LAST_APPLIED_BACKUP_INVOKER,
  ANN_LAST_APPLIED_BACKUP_INVOKER_KIND,
  ANN_LAST_APPLIED_RESTORE_INVOKER,
  ANN_LAST_APPLIED_RESTORE_INVOKER_KIND,
  INIT_CONTAINER,
  SIDECAR_CONTAINER,
  WORKLOAD_KINDS,
} from "../reconciler/controllers/stash-names.ts";
import { targetsOf, type TargetInfo } from "../reconciler/controllers/invoker-targets.ts";
import { backupModel } from "../reconciler/controllers/stash-names.ts";

export function isWorkloadKind(kind: string): boolean {
  return (WORKLOAD_KINDS as readonly string[]).includes(kind);
}

/** The invoker's target that is this workload in Stash's sidecar model (a batch: one of its members), if any. */
export function workloadTarget(invoker: KubeObject, workload: KubeObject): TargetInfo | undefined {
  if (invoker.metadata.deletionTimestamp) return undefined;
  if ((invoker.spec?.driver ?? "Restic") !== "Restic") return undefined;
  return targetsOf(invoker).find(({ target, task }) => {
    const ref = target?.ref;
    if (!ref || ref.kind !== workload.kind || ref.name !== workload.metadata.name) return false;
    if (ref.namespace && ref.namespace !== workload.metadata.namespace) return false;
    return backupModel(ref.kind, task?.name) === "sidecar";
  });
}

const targets = (invoker: KubeObject, workload: KubeObject) => workloadTarget(invoker, workload) !== undefined;

const created = (o: KubeObject) => Date.parse(String(o.metadata.creationTimestamp ?? "")) || Number.MAX_SAFE_INTEGER;
const newestFirst = (a: KubeObject, b: KubeObject) => created(b) - created(a) || String(a.metadata.name).localeCompare(String(b.metadata.name));

/** The BackupConfiguration or BackupBatch that should drive the workload's sidecar: the newest one targeting it. */
export function backupInvokerFor(workload: KubeObject, configs: KubeObject[]): KubeObject | undefined {
  return configs.filter((bc) => targets(bc, workload)).sort(newestFirst)[0];
}

const RESTORE_RANK: Record<string, number> = { Running: 0, Pending: 1, "": 1, Failed: 2 };

/** The RestoreSession or RestoreBatch for the init-container: Running before Pending before Failed before finished, then newest. */
export function restoreInvokerFor(workload: KubeObject, sessions: KubeObject[]): KubeObject | undefined {
  const rank = (rs: KubeObject) => RESTORE_RANK[String(rs.status?.phase ?? "")] ?? 3;
  return sessions.filter((rs) => targets(rs, workload)).sort((a, b) => rank(a) - rank(b) || newestFirst(a, b))[0];
}

export interface WorkloadInvokers {
  backup?: KubeObject;
  backupRepository?: KubeObject | null;
  restore?: KubeObject;
  restoreRepository?: KubeObject | null;
}

function withoutKeys(o: Record<string, string>, keys: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));
}

/** Pure: the workload as it should be stored, given the invokers that target it. The input is not modified. */
export function desiredWorkload(workload: KubeObject, inv: WorkloadInvokers, opts: InjectOptions): KubeObject {
  let template: PodTemplate = structuredClone(workload.spec?.template ?? {});
  let annotations: Record<string, string> = { ...((workload.metadata.annotations ?? {}) as Record<string, string>) };
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

  const metadata = { ...workload.metadata, annotations };
  if (Object.keys(annotations).length === 0) delete (metadata as Record<string, unknown>).annotations;
  return { ...workload, metadata, spec: { ...workload.spec, template } };
}

async function repositoryOf(invoker: KubeObject | undefined, ctx: AdmissionContext): Promise<KubeObject | null> {
  const ref = invoker?.spec?.repository;
  if (!ref?.name) return null;
  return ctx.lookups.getRepository(ref.namespace || invoker!.metadata.namespace || ctx.namespace, ref.name);
}

export function workloadAdmission(opts: InjectOptions): KindAdmission {
  return {
    async mutate(obj, ctx) {
      if (obj.metadata.deletionTimestamp || !isWorkloadKind(obj.kind)) return obj;
      const namespace = obj.metadata.namespace ?? ctx.namespace;
      const workload = { ...obj, metadata: { ...obj.metadata, namespace } };
      // The lookups are informer caches once synced (admission/cached-lookups.ts), and "no invoker"
      // is trusted like any other answer, as Stash's webhook trusts its listers. An invoker created
      // a few milliseconds before its workload may not be cached yet: the workload is then stored
      // without the sidecar and the BackupConfiguration/RestoreSession controller injects it when
      // it reconciles (it watches both kinds), with the same pod-template functions. Confirming
      // "none" with a fresh LIST instead costs up to ~100 ms per request: the API server answers a
      // consistent LIST from its watch cache only after etcd's next progress notification, which it
      // requests every 100 ms (docs/decisions/webhook-lookups.md).
      const l = ctx.lookups;
      const [configs, sessions, backupBatches, restoreBatches] = await Promise.all([l.listBackupConfigurations(namespace), l.listRestoreSessions(namespace), l.listBackupBatches(namespace), l.listRestoreBatches(namespace)]);
      const backup = backupInvokerFor(workload, [...configs, ...backupBatches]);
      const restore = restoreInvokerFor(workload, [...sessions, ...restoreBatches]);
      const [backupRepository, restoreRepository] = await Promise.all([repositoryOf(backup, ctx), repositoryOf(restore, ctx)]);
      const out = desiredWorkload(workload, { backup, backupRepository, restore, restoreRepository }, opts);
      // The namespace is filled in for matching only; never patch it in.
      return { ...out, metadata: { ...out.metadata, namespace: obj.metadata.namespace } };
    },
  };
}
