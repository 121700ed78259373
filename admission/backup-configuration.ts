// BackupConfiguration admission. On update, the target of a Ready configuration is frozen (its
// sidecar, CronJob and RBAC were built for it); otherwise the same reference checks as on create.
import { isDeepStrictEqual } from "node:util";
import type { BackupConfiguration } from "../schema/types.generated.ts";
import { validating, type KindAdmission, type Violation } from "./types.ts";
import { crossNamespaceTargetViolations, repositoryReferenceViolations, taskReferenceViolations } from "./references.ts";

export const backupConfigurationAdmission: KindAdmission = {
  validate: validating<BackupConfiguration>(async (obj, old, ctx) => {
    if (obj.metadata.deletionTimestamp) return [];
    const out: Violation[] = [];
    if (ctx.operation === "UPDATE" && old?.status?.phase === "Ready" && !isDeepStrictEqual(old.spec?.target, obj.spec?.target)) {
      out.push({ field: "spec.target", message: "updating target is forbidden when BackupConfiguration is in READY state" });
    }
    out.push(...crossNamespaceTargetViolations(obj));
    out.push(...(await repositoryReferenceViolations(obj, ctx)));
    out.push(...(await taskReferenceViolations(obj, ctx)));
    return out;
  }),
};
