// RestoreBatch's registration: as RestoreSession's, for a batch of members.
import { invokerWatches, readsCachedRepositories } from "../invoker/watches.ts";
import { JOBS, RESTORE_BATCHES, type Registration } from "../registration.ts";
import { reconcileRestoreBatch } from "./reconcile.ts";

export const restoreBatch: Registration = {
  kind: "RestoreBatch",
  reconcile: reconcileRestoreBatch,
  for: { ...RESTORE_BATCHES, cache: true },
  owns: [JOBS],
  mapFrom: invokerWatches,
  context: readsCachedRepositories,
};
