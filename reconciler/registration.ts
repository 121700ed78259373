// How a kind registers with the operator, as controller-runtime's builder does: For (the kind's
// own collection), Owns (kinds it controls: an event maps to the controller owner reference) and
// Watches (mapFrom: other collections whose events map to its keys). reconciler/operator.ts turns
// the registrations into one list-watch per collection, shared by every kind that reads it, and
// one work queue per kind. The collections are named once, here, so that kinds share them.
import type { V1OwnerReference } from "@kubernetes/client-node";
import type { AnyObject, KubeObject } from "../lib/kube/client.ts";
import type { EventType, ObjectCache, RunningInformer } from "../lib/kube/informer.ts";
import type { Result } from "../lib/workqueue.ts";
import { LABEL_MANAGED_BY, MANAGED_BY } from "../stash/names.ts";
import type { ControllerContext } from "./context.ts";

/** A collection the operator lists and watches. */
export interface Resource {
  group: string;
  version: string;
  plural: string;
  labelSelector?: string;
  /** Only metadata is read: the API server sends PartialObjectMetadata (no spec, status or data). */
  metadataOnly?: boolean;
}

/**
 * Which events of a collection a handler sees. A factory: a filter that remembers what it saw
 * (generationChanged) gets memory of its own in each operator, not in the module.
 */
/** What a filter reads of an object: its identity, generation and deletion (timestamps as served: strings; client-node declares Date). */
export interface Watched {
  metadata?: { namespace?: string; name?: string; generation?: number; deletionTimestamp?: Date | string };
}

export type Filter = () => (obj: Watched, type: EventType) => boolean;

/** Events of another collection mapped to keys (namespace/name) of the registered kind, whose objects are `O`. */
export interface Mapping<O extends AnyObject = KubeObject> {
  source: Resource;
  when?: Filter;
  /** `own` is the registered kind's cache (its `for` has `cache`). */
  map(obj: KubeObject, own: ObjectCache<O>): string[];
}

/** The operator's caches of the kinds registered with `cache`, by kind; `T` names the kind's type (`informer<Repository>("Repository")`). */
export interface Caches {
  informer<T extends AnyObject = KubeObject>(kind: string): RunningInformer<T>;
}

export interface Registration {
  /** The kind reconciled; its work queue and its reconcile metrics go by this name. */
  kind: string;
  reconcile(ctx: ControllerContext, namespace: string, name: string): Promise<Result>;
  /** The kind's own collection. `cache` keeps its objects, for mappings and reconciles that read them; otherwise events only. */
  for: Resource & { cache?: boolean; when?: Filter };
  /** Kinds it controls; watched metadata only. */
  owns?: Resource[];
  mapFrom?: Mapping[];
  /** The context its reconcile gets: the operator's with what the kind reads from the caches. */
  context?(ctx: ControllerContext, caches: Caches): ControllerContext;
}

const stash = (version: string, plural: string): Resource => ({ group: "stash.appscode.com", version, plural });
/** What restash creates carries its managed-by label; the watches of owned kinds select on it. */
const managed = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;

export const BACKUP_CONFIGURATIONS = stash("v1beta1", "backupconfigurations");
export const BACKUP_BATCHES = stash("v1beta1", "backupbatches");
export const BACKUP_SESSIONS: Resource = { ...stash("v1beta1", "backupsessions"), metadataOnly: true };
export const RESTORE_SESSIONS = stash("v1beta1", "restoresessions");
export const RESTORE_BATCHES = stash("v1beta1", "restorebatches");
export const REPOSITORIES = stash("v1alpha1", "repositories");
export const CRONJOBS: Resource = { group: "batch", version: "v1", plural: "cronjobs", labelSelector: managed, metadataOnly: true };
export const JOBS: Resource = { group: "batch", version: "v1", plural: "jobs", labelSelector: managed, metadataOnly: true };
/** Only existence matters to the invokers, so metadata is enough (a large Secret is a few hundred bytes). */
export const SECRETS: Resource = { group: "", version: "v1", plural: "secrets", metadataOnly: true };
/** What invokers target; whole objects, as whether the pod template carries restash's containers is read. */
export const WORKLOADS: Resource[] = [
  { group: "apps", version: "v1", plural: "deployments" },
  { group: "apps", version: "v1", plural: "statefulsets" },
  { group: "apps", version: "v1", plural: "daemonsets" },
  { group: "apps", version: "v1", plural: "replicasets" },
  { group: "", version: "v1", plural: "persistentvolumeclaims" },
];

/**
 * Like controller-runtime's GenerationChangedPredicate: an update that changes neither the
 * generation nor the deletion (a status or finalizer write, often our own) is dropped; adds and
 * deletes pass.
 */
export const generationChanged: Filter = () => {
  const seen = new Map<string, string>();
  return (obj, type) => {
    const key = `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name}`;
    if (type === "delete") {
      seen.delete(key);
      return true;
    }
    const mark = `${obj.metadata?.generation}/${obj.metadata?.deletionTimestamp ?? ""}`;
    if (type === "update" && seen.get(key) === mark) return false;
    seen.set(key, mark);
    return true;
  };
};

/** The key of the owner of `obj` of this kind (its controller reference), if any. */
export function ownerKey(
  obj: { metadata?: { namespace?: string; name?: string; ownerReferences?: Pick<V1OwnerReference, "controller" | "kind" | "name">[] } },
  kind: string,
): string | undefined {
  const ref = (obj.metadata?.ownerReferences ?? []).find((r) => r.controller && r.kind === kind);
  return ref ? `${obj.metadata?.namespace}/${ref.name}` : undefined;
}
