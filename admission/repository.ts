// Repository admission: the rules Stash enforces on create and update. wipeOut deletes backend data
// when the Repository goes, which restash cannot do for a local volume or B2; `/stash` is where the
// sidecar's own files live, so a local backend may not be mounted there.
import type { Backend, Repository } from "../schema/types.generated.ts";
import { validating, type KindAdmission, type Violation } from "./types.ts";

export function repositoryViolations(repo: Repository): Violation[] {
  const out: Violation[] = [];
  const backend: Backend = repo.spec?.backend ?? {};
  if (repo.spec?.wipeOut === true) {
    if (backend.local) out.push({ field: "spec.wipeOut", message: "wipe out operation is not supported for local backend" });
    if (backend.b2) out.push({ field: "spec.wipeOut", message: "wipe out operation is not supported for B2 backend" });
  }
  const mountPath = backend.local?.mountPath;
  if (typeof mountPath === "string" && mountPath.split("/")[1] === "stash") {
    out.push({
      field: "spec.backend.local.mountPath",
      message: `invalid mountPath ${JSON.stringify(mountPath)} for local backend: /stash and /stash/* are reserved for the backup sidecar; use another path such as /stash-backup`,
    });
  }
  return out;
}

export const repositoryAdmission: KindAdmission = {
  validate: validating<Repository>(async (obj) => {
    if (obj.metadata.deletionTimestamp) return [];
    return repositoryViolations(obj);
  }),
};
