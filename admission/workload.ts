// Workload mutation: the webhook side of stash/workload.ts. It finds the invokers targeting the
// workload in the informer caches and stores the workload as desiredWorkload builds it.
import type { AdmissionContext, KindAdmission } from "./types.ts";
import type { KubeObject } from "../lib/kube/client.ts";
import type { InjectOptions } from "../stash/pod-template.ts";
import type { BackupInvoker, RestoreInvoker } from "../stash/invoker-targets.ts";
import type { Repository } from "../schema/types.generated.ts";
import { backupInvokerFor, desiredWorkload, isWorkloadKind, restoreInvokerFor, type Workload } from "../stash/workload.ts";

async function repositoryOf(invoker: BackupInvoker | RestoreInvoker | undefined, ctx: AdmissionContext): Promise<Repository | null> {
  const ref = invoker?.spec?.repository;
  if (!ref?.name) return null;
  return ctx.lookups.getRepository(ref.namespace || invoker!.metadata.namespace || ctx.namespace, ref.name);
}

export function workloadAdmission(opts: InjectOptions): KindAdmission {
  return {
    async mutate(obj, ctx) {
      if (obj.metadata.deletionTimestamp || !isWorkloadKind(obj.kind)) return obj;
      // A ReplicaSet a Deployment controls is the Deployment's template: changing it (e.g. removing
      // the sidecar because no invoker names the ReplicaSet) makes the Deployment controller see a
      // hash collision and create ReplicaSets forever. Stash's webhook skips owned workloads too.
      if (obj.metadata.ownerReferences?.some((o) => o.controller)) return obj;
      const namespace = obj.metadata.namespace ?? ctx.namespace;
      // A workload kind: the API server has decoded it as one (a Deployment, StatefulSet, ...) before admission.
      const workload = { ...obj, metadata: { ...obj.metadata, namespace } } as KubeObject & Workload;
      // The lookups are informer caches once synced (admission/cached-lookups.ts), and "no invoker"
      // is trusted like any other answer, as Stash's webhook trusts its listers. An invoker created
      // a few milliseconds before its workload may not be cached yet: the workload is then stored
      // without the sidecar and the BackupConfiguration/RestoreSession controller injects it when
      // it reconciles (it watches both kinds), with the same pod-template functions. Confirming
      // "none" with a fresh LIST instead costs up to ~100 ms per request: the API server answers a
      // consistent LIST from its watch cache only after etcd's next progress notification, which it
      // requests every 100 ms (docs/decisions/webhook-lookups.md).
      const l = ctx.lookups;
      const [configs, sessions, backupBatches, restoreBatches] = await Promise.all([
        l.listBackupConfigurations(namespace),
        l.listRestoreSessions(namespace),
        l.listBackupBatches(namespace),
        l.listRestoreBatches(namespace),
      ]);
      // The lookups answer objects of the kinds they list.
      const backup = backupInvokerFor(workload, [...configs, ...backupBatches] as BackupInvoker[]);
      const restore = restoreInvokerFor(workload, [...sessions, ...restoreBatches] as RestoreInvoker[]);
      const [backupRepository, restoreRepository] = await Promise.all([repositoryOf(backup, ctx), repositoryOf(restore, ctx)]);
      const out = desiredWorkload(workload, { backup, backupRepository, restore, restoreRepository }, opts);
      // The namespace is filled in for matching only; never patch it in.
      return { ...out, metadata: { ...out.metadata, namespace: obj.metadata.namespace } };
    },
  };
}
