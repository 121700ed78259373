// BackupConfiguration's registration (and, through backupInvokerRegistration, BackupBatch's: the
// same reconcile): its own objects cached, spec changes only; the trigger CronJob it owns; its
// Repository, backend Secret and targets; and the other backup invokers of a workload, to tell
// which one's sidecar it carries.
import { targetsOf, type BackupInvoker } from "../../stash/invoker-targets.ts";
import { invokerWatches, readsCachedRepositories } from "../invoker/watches.ts";
import { BACKUP_CONFIGURATIONS, CRONJOBS, generationChanged, type Registration, type Resource } from "../registration.ts";
import { reconcileBackupConfiguration } from "./reconcile.ts";

/** The kinds whose objects put a backup sidecar into a workload. */
const BACKUP_INVOKERS = ["BackupConfiguration", "BackupBatch"];

export function backupInvokerRegistration(kind: string, resource: Resource, reconcile: Registration["reconcile"]): Registration {
  return {
    kind,
    reconcile,
    // Our own status and finalizer writes do not requeue (generationChanged).
    for: { ...resource, cache: true, when: generationChanged },
    owns: [CRONJOBS],
    mapFrom: invokerWatches,
    context: (ctx, caches) => ({
      ...readsCachedRepositories(ctx, caches),
      backupInvokersTargeting: (ref) =>
        BACKUP_INVOKERS.flatMap((k) => caches.informer<BackupInvoker>(k).cache.list()).filter(
          (inv) =>
            !inv.metadata.deletionTimestamp &&
            targetsOf(inv).some(({ target }) => target?.ref?.kind === ref.kind && target.ref.name === ref.name && target.ref.namespace === ref.namespace),
        ),
    }),
  };
}

export const backupConfiguration = backupInvokerRegistration("BackupConfiguration", BACKUP_CONFIGURATIONS, reconcileBackupConfiguration);
