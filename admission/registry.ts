// Which admission function answers for which kind.
import type { InjectOptions } from "../stash/pod-template.ts";
import { WORKLOAD_KINDS } from "../stash/names.ts";
import { registryKey, type AdmissionRegistry } from "./review.ts";
import { STASH_GROUP } from "./types.ts";
import { repositoryAdmission } from "./repository.ts";
import { backupConfigurationAdmission } from "./backup-configuration.ts";
import { restoreSessionAdmission } from "./restore-session.ts";
import { backupBatchAdmission, restoreBatchAdmission } from "./batches.ts";
import { taskAdmission } from "./task.ts";
import { workloadAdmission } from "./workload.ts";

export function admissionRegistry(inject: InjectOptions): AdmissionRegistry {
  const registry: AdmissionRegistry = new Map([
    [registryKey(STASH_GROUP, "Repository"), repositoryAdmission],
    [registryKey(STASH_GROUP, "BackupConfiguration"), backupConfigurationAdmission],
    [registryKey(STASH_GROUP, "RestoreSession"), restoreSessionAdmission],
    [registryKey(STASH_GROUP, "BackupBatch"), backupBatchAdmission],
    [registryKey(STASH_GROUP, "RestoreBatch"), restoreBatchAdmission],
    [registryKey(STASH_GROUP, "Task"), taskAdmission],
  ]);
  const workloads = workloadAdmission(inject);
  for (const kind of WORKLOAD_KINDS) registry.set(registryKey("apps", kind), workloads);
  return registry;
}
