// BackupSession's registration: its events only, metadata only (the reconcile reads the object
// itself), and the backup Jobs it owns.
import { BACKUP_SESSIONS, JOBS, type Registration } from "../registration.ts";
import { reconcileBackupSession } from "./reconcile.ts";

export const backupSession: Registration = {
  kind: "BackupSession",
  reconcile: reconcileBackupSession,
  for: BACKUP_SESSIONS,
  owns: [JOBS],
};
