// Server-side apply of one revision, in two phases so a revision is all or nothing:
//   plan:    list the live objects, skip unchanged ones by content hash (and no drift), and
//            dry-run every other apply as the source's service account;
//   execute: only if every dry-run passed, apply for real.
// An object another source or another applier owns is a conflict, never forced. A field changed
// by hand (an Update by kubectl edit/patch) on an object this source applied is drift: restored
// with force and reported.
import { ApiError, FIELD_MANAGER, type Kube } from "../lib/kube/client.ts";
import { errorMessage } from "../lib/errors.ts";
import type { KubeObject, RenderedObject } from "./model.ts";
import { inventoryId, objectName } from "./model.ts";
import { HASH_ANNOTATION, REVISION_ANNOTATION, driftedFields, trackedBy, withTracking, type SourceKey } from "./tracking.ts";
import { PRUNABLE_ANNOTATION } from "./render-policy.ts";

export type PlanAction = "create" | "update" | "unchanged" | "drift" | "conflict" | "failed";

export interface PlannedObject {
  id: string;
  ref: string;
  file: string;
  line: number;
  hash: string;
  prunable: boolean;
  object: KubeObject;
  live: KubeObject | null;
  /** The object as the API server would store it (dry-run answer), for diffs. */
  dryRun?: KubeObject;
  action: PlanAction;
  force: boolean;
  message?: string;
  /** HTTP code of a failed request (none for network errors). */
  code?: number;
}

export interface PlanOptions {
  source: SourceKey;
  /** Revision written on changed objects ("main@sha1:…"). */
  revision: string;
  /** Requests in flight (kubectl applies one at a time). */
  parallelism?: number;
}

const groupKey = (o: KubeObject) => `${o.apiVersion}|${o.kind}|${o.metadata.namespace ?? ""}`;

/** Lists the live objects of each (apiVersion, kind, namespace) once; null where listing is not allowed. */
async function liveObjects(kube: Kube, objects: KubeObject[]): Promise<Map<string, Map<string, KubeObject> | null>> {
  const groups = new Map<string, KubeObject>();
  for (const o of objects) if (!groups.has(groupKey(o))) groups.set(groupKey(o), o);
  const out = new Map<string, Map<string, KubeObject> | null>();
  await Promise.all(
    [...groups].map(async ([key, o]) => {
      try {
        const list = await kube.list<KubeObject>(o.apiVersion, o.kind, o.metadata.namespace);
        out.set(key, new Map(list.items.map((i) => [i.metadata.name!, i])));
      } catch {
        out.set(key, null);
      }
    }),
  );
  return out;
}

/** Managers named in a 409 apply conflict ("conflict with \"kubectl-edit\" using v1: .spec.x"). */
function conflictDetails(e: ApiError): { managers: string[]; fields: string[] } {
  const managers = new Set<string>();
  const fields: string[] = [];
  for (const c of e.body?.details?.causes ?? []) {
    const m = /conflict with "([^"]+)"/.exec(String(c.message ?? ""));
    if (m) managers.add(m[1]);
    if (c.field) fields.push(String(c.field));
  }
  if (!managers.size) for (const m of String(e.body?.message ?? "").matchAll(/conflict with "([^"]+)"/g)) managers.add(m[1]);
  return { managers: [...managers], fields };
}

export async function pool<T>(items: T[], n: number, fn: (t: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

function shortError(e: unknown): string {
  if (e instanceof ApiError) return `${e.code} ${e.body?.message ?? e.message}`;
  return errorMessage(e);
}

export async function planApply(kube: Kube, rendered: RenderedObject[], opts: PlanOptions): Promise<PlannedObject[]> {
  const prepared = rendered.map((r) => ({ r, ...withTracking(r, opts.source, opts.revision) }));
  const live = await liveObjects(
    kube,
    prepared.map((p) => p.object),
  );
  const plan: PlannedObject[] = new Array(prepared.length);

  await pool(prepared, opts.parallelism ?? 16, async ({ r, object, hash }, i) => {
    const p: PlannedObject = (plan[i] = {
      id: inventoryId(object),
      ref: objectName(object),
      file: r.file,
      line: r.line,
      hash,
      prunable: object.kind !== "Repository" || object.metadata.annotations?.[PRUNABLE_ANNOTATION] === "true",
      object,
      live: null,
      action: "update",
      force: false,
    });
    const groupLive = live.get(groupKey(object));
    let current: KubeObject | null | undefined = groupLive ? (groupLive.get(object.metadata.name!) ?? null) : undefined;
    if (current === undefined)
      current = await kube.getOrNull<KubeObject>(object.apiVersion, object.kind, object.metadata.name!, object.metadata.namespace).catch(() => null);
    p.live = current;
    const owner = trackedBy(current);
    if (current && owner && (owner.namespace !== opts.source.namespace || owner.name !== opts.source.name)) {
      p.action = "conflict";
      p.message = `${p.ref} belongs to PolicySource ${owner.namespace}/${owner.name}; not overwritten`;
      return;
    }
    let drift: string[] = [];
    if (current && owner) {
      const { [REVISION_ANNOTATION]: _revision, ...annotations } = object.metadata.annotations ?? {};
      drift = driftedFields({ ...object, metadata: { ...object.metadata, annotations } }, current);
      if (drift.length === 0) {
        p.action = "unchanged";
        return;
      }
      // Different content from Git is an update; the same content but different live fields is drift.
      if (current.metadata.annotations?.[HASH_ANNOTATION] !== hash) drift = [];
    }
    p.action = !current ? "create" : drift.length ? "drift" : "update";
    if (drift.length) p.message = `${p.ref}: ${drift.join(", ")} changed outside Git`;
    try {
      p.dryRun = await kube.apply(object, { dryRun: true });
    } catch (e) {
      if (!(e instanceof ApiError) || e.code !== 409) {
        p.action = "failed";
        p.message = `${p.ref}: ${shortError(e)}`;
        if (e instanceof ApiError) p.code = e.code;
        return;
      }
      const { managers, fields } = conflictDetails(e);
      const ops = new Map<string, string>();
      for (const mf of (
        current ?? (await kube.getOrNull<KubeObject>(object.apiVersion, object.kind, object.metadata.name!, object.metadata.namespace).catch(() => null))
      )?.metadata?.managedFields ?? [])
        if (mf.manager) ops.set(mf.manager, mf.operation ?? "");
      const handEdits = managers.length > 0 && managers.every((m) => ops.get(m) === "Update" && m !== FIELD_MANAGER);
      if (owner && handEdits) {
        p.action = "drift";
        p.force = true;
        p.message = `${p.ref}: ${(fields.length ? fields : drift).join(", ")} changed outside Git by ${managers.join(", ")}`;
        try {
          p.dryRun = await kube.apply(object, { dryRun: true, force: true });
        } catch (e2) {
          p.action = "failed";
          p.message = `${p.ref}: ${shortError(e2)}`;
        }
        return;
      }
      p.action = "conflict";
      p.message = `${p.ref}: ${fields.join(", ") || "fields"} owned by ${managers.join(", ") || "another manager"}; not overwritten`;
    }
  });
  return plan;
}

export const planFailed = (plan: PlannedObject[]) => plan.filter((p) => p.action === "failed" || p.action === "conflict");

/**
 * Whether a failed dry-run may pass on its own (server or network trouble) rather than needing a
 * change. The API server answers a field its schema does not know with a 500 ("failed to create
 * typed patch object … field not declared in schema"): that is a refusal, like a 4xx.
 */
export const mayPassLater = (p: PlannedObject) =>
  p.action === "failed" &&
  (p.code === undefined || p.code === 429 || (p.code >= 500 && !/failed to create typed patch object|not declared in schema/.test(p.message ?? "")));

/** Applies every planned change for real. Returns the objects whose apply failed (with messages set). */
export async function executePlan(kube: Kube, plan: PlannedObject[], parallelism = 16): Promise<PlannedObject[]> {
  const todo = plan.filter((p) => p.action === "create" || p.action === "update" || p.action === "drift");
  const failed: PlannedObject[] = [];
  await pool(todo, parallelism, async (p) => {
    try {
      await kube.apply(p.object, { force: p.force });
    } catch (e) {
      p.action = "failed";
      p.message = `${p.ref}: ${shortError(e)}`;
      failed.push(p);
    }
  });
  return failed;
}
