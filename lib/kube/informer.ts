// Informers that only turn events into work-queue keys, on lib/kube's own list and watch (no
// @kubernetes/client-node: see lib/kube/config.ts). Two shapes:
// - startInformer: list-then-watch with a cache. One informer per (client, collection, selector) is
//   shared by every caller in the process (controllers, admission lookups, auto-backup): each caller
//   gets its own event handler, a late one is first handed the cached objects as adds.
// - startWatcher: list-then-watch without a cache, for kinds whose events only map to an owner's key.
// Cached objects drop what nobody reads (metadata.managedFields, kubectl's last-applied annotation),
// and a spec can ask for metadata only (PartialObjectMetadata) where nothing else is read.
// Both restart with capped backoff after any error and relist after 410 Gone.
import type { AnyObject, Kube, KubeList, KubeObject } from "./client.ts";
import { METADATA_ONLY } from "./watch.ts";
import type { Logger } from "../logger.ts";
import type { Clock } from "../workqueue.ts";

export type EventType = "add" | "update" | "delete";

export interface WatchSpec<T extends AnyObject = KubeObject> {
  /** Collection path, e.g. /apis/stash.appscode.com/v1beta1/backupconfigurations (all namespaces). */
  path: string;
  labelSelector?: string;
  /** Only metadata is read: the API server sends PartialObjectMetadata (kind and spec are absent). */
  metadataOnly?: boolean;
  /** The object as served; with metadataOnly a PartialObjectMetadata (name T accordingly). */
  onEvent: (obj: T, type: EventType) => void;
}

/** The read side of an informer's cache (the same two calls as client-node's ObjectCache). */
export interface ObjectCache<T extends AnyObject = KubeObject> {
  get(name: string, namespace?: string): T | undefined;
  /** Every object, or those of one namespace. */
  list(namespace?: string): T[];
}

export interface RunningInformer<T extends AnyObject = KubeObject> {
  cache: ObjectCache<T>;
  /** Resolves after the first successful list. */
  synced: Promise<void>;
  /** Whether the first list has been cached. */
  hasSynced(): boolean;
  stop(): Promise<void>;
}

export interface RunningWatcher {
  /** Resolves after the first list was delivered. */
  synced: Promise<void>;
  stop(): Promise<void>;
}

/** Collection path of a resource across namespaces (namespace undefined) or in one. */
export function collectionPath(group: string, version: string, plural: string, namespace?: string): string {
  const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
  return namespace ? `${base}/namespaces/${namespace}/${plural}` : `${base}/${plural}`;
}

const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/** Drops what no restash code reads from a cached object; often more than half of it. */
export function slim<T extends AnyObject | undefined>(o: T): T {
  const m = o?.metadata;
  if (m) {
    if (m.managedFields) delete m.managedFields;
    if (m.annotations?.[LAST_APPLIED] !== undefined) delete m.annotations[LAST_APPLIED];
  }
  return o;
}

const isGone = (e: unknown) => {
  const err = e as { statusCode?: unknown; code?: unknown } | null | undefined;
  return err?.statusCode === 410 || err?.code === 410;
};

/**
 * The list-then-watch loop both shapes run: `onList` gets every listed item (after a relist too),
 * `onWatch` every watch event. Restarts with capped backoff (200 ms .. 30 s) after an error,
 * re-watches from the last resourceVersion (bookmarks keep it fresh), relists after 410 Gone.
 */
function listWatchLoop(
  kube: Kube,
  spec: Pick<WatchSpec, "path" | "labelSelector" | "metadataOnly">,
  log: Logger,
  clock: Clock,
  h: { onList(items: AnyObject[]): void; onWatch(type: EventType, obj: AnyObject): void; onSynced(): void },
): { stop(): void } {
  let stopped = false;
  let abort: AbortController | undefined;
  let delay = 200;
  let rv = "";
  const retry = (err: unknown) => {
    if (stopped) return;
    log.warn("watch stopped; restarting", { path: spec.path, err: err as Error, delayMs: delay });
    clock.setTimeout(run, delay);
    delay = Math.min(delay * 2, 30_000);
  };
  const run = async () => {
    if (stopped) return;
    try {
      if (!rv) {
        const list = await kube.request<KubeList<AnyObject>>(spec.path, {
          query: { labelSelector: spec.labelSelector },
          headers: spec.metadataOnly ? { Accept: METADATA_ONLY.list } : undefined,
        });
        if (stopped) return;
        h.onList(list.items ?? []);
        rv = list.metadata?.resourceVersion ?? "";
        h.onSynced();
      }
      // An ERROR event carries a metav1.Status (code 410 when the resourceVersion is too old).
      abort = await kube.watch<AnyObject & { code?: number }>(
        spec.path,
        { resourceVersion: rv, labelSelector: spec.labelSelector, allowWatchBookmarks: true },
        (phase, obj) => {
          if (phase === "ERROR") {
            if (obj?.code === 410) rv = "";
            return;
          }
          if (obj?.metadata?.resourceVersion) rv = obj.metadata.resourceVersion;
          if (phase === "ADDED") h.onWatch("add", obj);
          else if (phase === "MODIFIED") h.onWatch("update", obj);
          else if (phase === "DELETED") h.onWatch("delete", obj);
        },
        (err) => {
          if (stopped) return;
          if (isGone(err)) rv = "";
          // The inactivity timeout of a quiet watch is not a failure: watch again at once.
          if (err && err.name !== "TimeoutError" && !isGone(err)) return retry(err);
          delay = 200;
          void run();
        },
        spec.metadataOnly ? { Accept: METADATA_ONLY.watch } : undefined,
      );
      if (stopped) abort.abort();
    } catch (e) {
      if (isGone(e)) rv = "";
      retry(e);
    }
  };
  void run();
  return {
    stop() {
      stopped = true;
      abort?.abort();
    },
  };
}

/**
 * List-then-watch that keeps no cache: for kinds whose events only map to an owner's key
 * (CronJobs, Jobs, Secrets, workloads). The objects are dropped once handled, so the operator's
 * memory stays flat as they grow. A relist reports every item as an add (there is no cache to
 * compare with).
 */
export function startWatcher<T extends AnyObject = KubeObject>(kube: Kube, spec: WatchSpec<T>, log: Logger, clock: Clock): RunningWatcher {
  let resolveSynced!: () => void;
  const synced = new Promise<void>((r) => (resolveSynced = r));
  // The collection's objects are of the kind the caller watches: T names it.
  const emit = (o: AnyObject, type: EventType) => {
    try {
      spec.onEvent(o as T, type);
    } catch (e) {
      log.error("event handler failed", { path: spec.path, err: e as Error });
    }
  };
  const loop = listWatchLoop(kube, spec, log, clock, {
    onList: (items) => {
      for (const o of items) emit(o, "add");
    },
    onWatch: (type, o) => emit(o, type),
    onSynced: () => resolveSynced(),
  });
  return {
    synced,
    stop: async () => loop.stop(),
  };
}

type Handler = (obj: AnyObject, type: EventType) => void;

/** One cached list-watch and the handlers of everyone who asked for it. */
class SharedInformer implements ObjectCache<AnyObject> {
  private readonly objects = new Map<string, Map<string, AnyObject>>();
  private readonly handlers = new Set<Handler>();
  listed = false;
  private loop?: { stop(): void };
  private readonly log: Logger;
  private readonly path: string;
  readonly synced: Promise<void>;
  private resolveSynced!: () => void;

  constructor(kube: Kube, spec: Pick<WatchSpec, "path" | "labelSelector" | "metadataOnly">, log: Logger, clock: Clock) {
    this.log = log;
    this.path = spec.path;
    this.synced = new Promise<void>((r) => (this.resolveSynced = r));
    this.loop = listWatchLoop(kube, spec, log, clock, {
      onList: (items) => this.replace(items),
      onWatch: (type, o) => (type === "delete" ? this.remove(o) : this.upsert(o)),
      onSynced: () => {
        this.listed = true;
        this.resolveSynced();
      },
    });
  }

  get(name: string, namespace?: string): AnyObject | undefined {
    return this.objects.get(namespace || "")?.get(name);
  }

  list(namespace?: string): AnyObject[] {
    if (namespace) return [...(this.objects.get(namespace)?.values() ?? [])];
    const all: AnyObject[] = [];
    for (const ns of this.objects.values()) for (const o of ns.values()) all.push(o);
    return all;
  }

  get size(): number {
    return this.handlers.size;
  }

  subscribe(h: Handler): void {
    this.handlers.add(h);
    // A late subscriber sees what is cached as adds, after its caller has returned.
    if (this.listed) {
      const current = this.list();
      queueMicrotask(() => {
        if (!this.handlers.has(h)) return;
        for (const o of current) this.call(h, o, "add");
      });
    }
  }

  unsubscribe(h: Handler): void {
    this.handlers.delete(h);
  }

  stop(): void {
    this.loop?.stop();
    this.loop = undefined;
  }

  private call(h: Handler, o: AnyObject, type: EventType) {
    try {
      h(o, type);
    } catch (e) {
      this.log.error("event handler failed", { path: this.path, err: e as Error });
    }
  }

  private emit(o: AnyObject, type: EventType) {
    for (const h of [...this.handlers]) this.call(h, o, type);
  }

  /** A (re)list: adds and updates, and deletes for what is no longer there. */
  private replace(items: AnyObject[]) {
    const seen = new Map<string, Set<string>>();
    for (const o of items) {
      const ns = o.metadata?.namespace || "";
      let names = seen.get(ns);
      if (!names) seen.set(ns, (names = new Set()));
      names.add(o.metadata?.name || "");
    }
    for (const [ns, objs] of this.objects) {
      const names = seen.get(ns);
      for (const [name, o] of objs) {
        if (names?.has(name)) continue;
        objs.delete(name);
        this.emit(o, "delete");
      }
      if (objs.size === 0) this.objects.delete(ns);
    }
    for (const o of items) this.upsert(o);
  }

  private upsert(o: AnyObject) {
    const ns = o.metadata?.namespace || "";
    const name = o.metadata?.name || "";
    let objs = this.objects.get(ns);
    if (!objs) this.objects.set(ns, (objs = new Map()));
    const found = objs.get(name);
    if (found && found.metadata?.resourceVersion != null && found.metadata.resourceVersion === o.metadata?.resourceVersion) return;
    objs.set(name, slim(o));
    this.emit(o, found ? "update" : "add");
  }

  private remove(o: AnyObject) {
    const ns = o.metadata?.namespace || "";
    const objs = this.objects.get(ns);
    if (!objs?.delete(o.metadata?.name || "")) return;
    if (objs.size === 0) this.objects.delete(ns);
    this.emit(slim(o), "delete");
  }
}

/** Shared informers per client: the same Kube and collection give the same cache. */
const shared = new WeakMap<Kube, Map<string, SharedInformer>>();

export function startInformer<T extends AnyObject = KubeObject>(kube: Kube, spec: WatchSpec<T>, log: Logger, clock: Clock): RunningInformer<T> {
  let byKey = shared.get(kube);
  if (!byKey) shared.set(kube, (byKey = new Map()));
  const key = JSON.stringify([spec.path, spec.labelSelector ?? "", !!spec.metadataOnly]);
  let inf = byKey.get(key);
  if (!inf) byKey.set(key, (inf = new SharedInformer(kube, spec, log, clock)));
  const informer = inf;
  // One informer per collection: its objects are of the kind the caller names with T.
  const handler: Handler = (o, type) => spec.onEvent(o as T, type);
  informer.subscribe(handler);
  let stopped = false;
  return {
    cache: informer as ObjectCache<AnyObject> as ObjectCache<T>,
    synced: informer.synced,
    hasSynced: () => informer.listed,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      informer.unsubscribe(handler);
      if (informer.size === 0) {
        informer.stop();
        if (byKey.get(key) === informer) byKey.delete(key);
      }
    },
  };
}

export interface CachedKind {
  apiVersion: string;
  kind: string;
  informer: RunningInformer<AnyObject>;
}

/**
 * A Kube whose get/getOrNull of the given kinds answer from informer caches, as controller-runtime's
 * client reads: the reconcilers of invokers read the same Repository for every invoker, and with a
 * thousand invokers its status.references makes that read ~60 KB each. Only a present object that is
 * not being deleted comes from the cache: a miss or a deletion is confirmed by a direct read, so
 * "absent" and "being deleted" are never stale. A cached object that is behind by a spec change is
 * corrected by that change's event, which requeues every user. Cached objects are shared: read-only.
 */
export function cachedGets(kube: Kube, kinds: CachedKind[]): Kube {
  const cached = (apiVersion: string, kind: string, name: string, namespace?: string) => {
    const k = kinds.find((c) => c.kind === kind && c.apiVersion === apiVersion);
    if (!k || !k.informer.hasSynced()) return undefined;
    const hit = k.informer.cache.get(name, namespace);
    return hit && !hit.metadata?.deletionTimestamp ? hit : undefined;
  };
  return new Proxy(kube, {
    get(target, prop) {
      if (prop === "get" || prop === "getOrNull") {
        const direct = (target[prop] as Kube["getOrNull"]).bind(target);
        return async (apiVersion: string, kind: string, name: string, namespace?: string) =>
          cached(apiVersion, kind, name, namespace) ?? direct(apiVersion, kind, name, namespace);
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
