// Stash's auto-backup annotations (stash-behaviour.md 2.9) on a workload, PVC or AppBinding,
// parsed into what the BackupConfiguration needs. Pure; a malformed value is an error naming
// the object, the annotation and the value.
import { stalled, type ObjectRef } from "../../lib/errors.ts";

export const KEY_BACKUP_BLUEPRINT = "stash.appscode.com/backup-blueprint";
export const KEY_SCHEDULE = "stash.appscode.com/schedule";
export const KEY_TARGET_PATHS = "stash.appscode.com/target-paths";
export const KEY_VOLUME_MOUNTS = "stash.appscode.com/volume-mounts";
export const KEY_PARAMS_PREFIX = "params.stash.appscode.com/";

export interface VolumeMount {
  name: string;
  mountPath: string;
  subPath?: string;
}

export interface AutoBackupRequest {
  /** Blueprint names, in the order written, without duplicates. */
  blueprints: string[];
  schedule?: string;
  paths?: string[];
  volumeMounts?: VolumeMount[];
  /** params.stash.appscode.com/<key>: value, sorted by key. */
  params: { name: string; value: string }[];
}

const list = (v: string) =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/** The auto-backup request of an object, or undefined when it names no blueprint. */
export function autoBackupRequest(annotations: Record<string, string> | undefined, object: ObjectRef): AutoBackupRequest | undefined {
  const a = annotations ?? {};
  const blueprints = [...new Set(list(a[KEY_BACKUP_BLUEPRINT] ?? ""))];
  if (blueprints.length === 0) return undefined;
  const bad = (key: string, why: string) => stalled("InvalidAnnotation", `annotation ${key}: ${why}`, { object, field: `metadata.annotations["${key}"]` });
  const req: AutoBackupRequest = { blueprints, params: [] };
  if (a[KEY_SCHEDULE] !== undefined) {
    const s = a[KEY_SCHEDULE].trim();
    if (!s) throw bad(KEY_SCHEDULE, "is empty");
    req.schedule = s;
  }
  if (a[KEY_TARGET_PATHS] !== undefined) {
    const paths = list(a[KEY_TARGET_PATHS]);
    for (const p of paths) if (!p.startsWith("/")) throw bad(KEY_TARGET_PATHS, `path ${JSON.stringify(p)} is not absolute`);
    if (paths.length) req.paths = paths;
  }
  if (a[KEY_VOLUME_MOUNTS] !== undefined) {
    const mounts: VolumeMount[] = [];
    for (const item of list(a[KEY_VOLUME_MOUNTS])) {
      const [name, mountPath, subPath, ...rest] = item.split(":");
      if (!name || !mountPath || rest.length || !mountPath.startsWith("/"))
        throw bad(KEY_VOLUME_MOUNTS, `${JSON.stringify(item)} is not <volume>:<absolute mountPath>[:<subPath>]`);
      mounts.push(subPath ? { name, mountPath, subPath } : { name, mountPath });
    }
    if (mounts.length) req.volumeMounts = mounts;
  }
  for (const [k, v] of Object.entries(a).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
    if (!k.startsWith(KEY_PARAMS_PREFIX)) continue;
    const name = k.slice(KEY_PARAMS_PREFIX.length);
    if (!name) throw bad(k, "names no parameter");
    req.params.push({ name, value: v });
  }
  return req;
}
