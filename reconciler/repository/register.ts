// Repository's registration: its own objects cached (the invokers' reconciles read them from
// there), and every invoker's events mapped to the Repository it uses: status.references is
// computed here from the invokers' caches, so an invoker event requeues its Repository (coalesced
// by the queue) instead of each invoker writing the shared list.
import type { KubeObject } from "../../lib/kube/client.ts";
import type { Invoker } from "../../stash/invoker-targets.ts";
import { uses, repositoryKeyOf } from "../invoker/watches.ts";
import {
  BACKUP_BATCHES,
  BACKUP_CONFIGURATIONS,
  REPOSITORIES,
  RESTORE_BATCHES,
  RESTORE_SESSIONS,
  generationChanged,
  type Mapping,
  type Registration,
} from "../registration.ts";
import { reconcileRepository } from "./reconcile.ts";

const INVOKERS = ["BackupConfiguration", "BackupBatch", "RestoreSession", "RestoreBatch"];

// The mapped objects are invokers of the source's kind (KubeObject is the mapping's common type).
const usedRepository = (obj: KubeObject) => {
  const inv = obj as Invoker;
  return inv.spec?.repository?.name ? [repositoryKeyOf(inv)] : [];
};

export const repository: Registration = {
  kind: "Repository",
  reconcile: reconcileRepository,
  for: { ...REPOSITORIES, cache: true },
  mapFrom: [
    // A backup invoker's own status writes do not change what the Repository lists.
    ...[BACKUP_CONFIGURATIONS, BACKUP_BATCHES].map((source): Mapping => ({ source, when: generationChanged, map: usedRepository })),
    ...[RESTORE_SESSIONS, RESTORE_BATCHES].map((source): Mapping => ({ source, map: usedRepository })),
  ],
  context: (ctx, caches) => ({
    ...ctx,
    invokersOf: (namespace, name) =>
      INVOKERS.flatMap((k) => caches.informer<Invoker>(k).cache.list())
        .filter((inv) => !inv.metadata.deletionTimestamp && uses(inv, namespace, name))
        .map((inv) => ({ kind: inv.kind, namespace: inv.metadata.namespace!, name: inv.metadata.name! })),
  }),
};
