// The one status write of a reconcile: a JSON merge patch of /status carrying the resourceVersion
// that was read, so a concurrent writer (the runner, another reconcile) makes it fail with 409
// instead of being overwritten. Unchanged status is not written.
import { isDeepStrictEqual } from "node:util";
import type { Kube, KubeObject } from "./kube/client.ts";
import { recordConditionEvents, type Cond } from "./events.ts";

/** The status type of a kind (`BackupSession` -> `BackupSessionStatus`); an unnamed kind's is open. */
export type StatusOf<T> = T extends { status?: infer S }
  ? IsAny<S> extends true
    ? S
    : unknown extends S
      ? Record<string, unknown>
      : NonNullable<S>
  : Record<string, unknown>;
/** Whether T is `any` (KubeObject's status is, until #16 makes it unknown). */
type IsAny<T> = 0 extends 1 & T ? true : false;

export function statusPatch(oldStatus: Record<string, unknown> | undefined, newStatus: Record<string, unknown>): Record<string, unknown> {
  const patch: Record<string, unknown> = { ...newStatus };
  for (const k of Object.keys(oldStatus ?? {})) if (!(k in newStatus)) patch[k] = null;
  return patch;
}

/** Writes `status` if it differs from `obj.status`; returns the object as stored. Throws ApiError 409 on a concurrent change. */
export async function writeStatus<T extends KubeObject>(kube: Kube, obj: T, status: StatusOf<T>): Promise<T> {
  if (isDeepStrictEqual(obj.status ?? {}, status)) return obj;
  const next = status as Record<string, unknown> & { conditions?: Cond[] };
  const prev = obj.status as (Record<string, unknown> & { conditions?: Cond[] }) | undefined;
  const patch = { metadata: { resourceVersion: obj.metadata.resourceVersion }, status: statusPatch(prev, next) };
  const stored = await kube.mergePatch<T>(obj, patch, "status");
  // Only a write that landed tells of a change: Events follow the stored status.
  await recordConditionEvents(kube, stored, prev?.conditions, next.conditions);
  return stored;
}

/**
 * Read-modify-write for writers that share a status (the runner beside the operator): re-reads
 * on conflict and applies `mutate` to the fresh status, up to `attempts` times.
 */
export async function updateStatus<T extends KubeObject = KubeObject>(
  kube: Kube,
  ref: { apiVersion: string; kind: string; name: string; namespace: string },
  mutate: (status: StatusOf<T>, obj: T) => StatusOf<T> | undefined,
  attempts = 10,
): Promise<T | null> {
  for (let i = 0; ; i++) {
    const obj = await kube.getOrNull<T>(ref.apiVersion, ref.kind, ref.name, ref.namespace);
    if (!obj) return null;
    // An object without status yet starts from an empty one (every status field is optional).
    const next = mutate(structuredClone(obj.status ?? {}) as StatusOf<T>, obj);
    if (!next) return obj;
    try {
      return await writeStatus(kube, obj, next);
    } catch (e) {
      if ((e as { code?: unknown } | undefined)?.code !== 409 || i + 1 >= attempts) throw e;
    }
  }
}
