// RestoreSession's registration: its own objects cached (the Repository's references are
// computed from them), the restore Jobs it owns, its Repository, backend Secret and target.
import { invokerWatches, readsCachedRepositories } from "../invoker/watches.ts";
import { JOBS, RESTORE_SESSIONS, type Registration } from "../registration.ts";
import { reconcileRestoreSession } from "./reconcile.ts";

export const restoreSession: Registration = {
  kind: "RestoreSession",
  reconcile: reconcileRestoreSession,
  for: { ...RESTORE_SESSIONS, cache: true },
  owns: [JOBS],
  mapFrom: invokerWatches,
  context: readsCachedRepositories,
};
