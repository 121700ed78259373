// BackupBatch's registration: the BackupConfiguration reconcile with one target per member
// (reconciler/backup-configuration/), watching the same kinds.
import { backupInvokerRegistration } from "../backup-configuration/register.ts";
import { reconcileBackupBatch } from "../backup-configuration/reconcile.ts";
import { BACKUP_BATCHES } from "../registration.ts";

export const backupBatch = backupInvokerRegistration("BackupBatch", BACKUP_BATCHES, reconcileBackupBatch);
