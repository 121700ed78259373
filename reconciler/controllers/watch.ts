// Informers that only turn events into work-queue keys. client-node stops an informer on a
// non-410 error, so each one is restarted with capped backoff until stopped.
import { Watch, makeInformer, type KubernetesObject, type Informer, type ObjectCache } from "@kubernetes/client-node";
import type { Kube } from "../../lib/kube/client.ts";
import type { Logger } from "../../lib/logger.ts";
import type { Clock } from "../../lib/workqueue.ts";

export interface WatchSpec {
  /** Collection path, e.g. /apis/stash.appscode.com/v1beta1/backupconfigurations (all namespaces). */
  path: string;
  labelSelector?: string;
  onEvent: (obj: any, type: "add" | "update" | "delete") => void;
}

export interface RunningInformer {
  cache: ObjectCache<KubernetesObject>;
  /** Resolves after the first successful list. */
  synced: Promise<void>;
  stop(): Promise<void>;
}

/** Collection path of a resource across namespaces (namespace undefined) or in one. */
export function collectionPath(group: string, version: string, plural: string, namespace?: string): string {
  const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
  return namespace ? `${base}/namespaces/${namespace}/${plural}` : `${base}/${plural}`;
}

export function startInformer(kube: Kube, spec: WatchSpec, log: Logger, clock: Clock): RunningInformer {
  const list = () => kube.request<any>(spec.path, { query: { labelSelector: spec.labelSelector } });
  const inf = makeInformer<KubernetesObject>(kube.kc, spec.path, list, spec.labelSelector) as Informer<KubernetesObject> & ObjectCache<KubernetesObject>;
  let stopped = false;
  let delay = 200;
  let resolveSynced!: () => void;
  const synced = new Promise<void>((r) => (resolveSynced = r));
  const handler = (type: "add" | "update" | "delete") => (o: any) => {
    // The cache holds this very object: managedFields are never read and are often half its size.
    if (o?.metadata?.managedFields) delete o.metadata.managedFields;
    try {
      spec.onEvent(o, type);
    } catch (e) {
      log.error("event handler failed", { path: spec.path, err: e as Error });
    }
  };
  inf.on("add", handler("add"));
  inf.on("update", handler("update"));
  inf.on("delete", handler("delete"));
  const start = () => {
    if (stopped) return;
    inf.start().then(
      () => {
        delay = 200;
        resolveSynced();
      },
      (e) => restart(e),
    );
  };
  const restart = (err: unknown) => {
    if (stopped) return;
    log.warn("informer stopped; restarting", { path: spec.path, err: err as Error, delayMs: delay });
    clock.setTimeout(start, delay);
    delay = Math.min(delay * 2, 30_000);
  };
  inf.on("error", restart);
  start();
  return {
    cache: inf,
    synced,
    stop: async () => {
      stopped = true;
      await inf.stop().catch(() => {});
    },
  };
}

export interface RunningWatcher {
  /** Resolves after the first list was delivered. */
  synced: Promise<void>;
  stop(): Promise<void>;
}

/**
 * List-then-watch that keeps no cache: for kinds whose events only map to an owner's key
 * (CronJobs, Jobs, Secrets, workloads). Relists on 410 Gone, restarts with capped backoff on any
 * other error, and never holds the objects (the operator's memory stays flat as they grow).
 */
export function startWatcher(kube: Kube, spec: WatchSpec, log: Logger, clock: Clock): RunningWatcher {
  const watch = new Watch(kube.kc);
  let stopped = false;
  let abort: AbortController | undefined;
  let delay = 200;
  let rv = "";
  let resolveSynced!: () => void;
  const synced = new Promise<void>((r) => (resolveSynced = r));
  const emit = (o: any, type: "add" | "update" | "delete") => {
    try {
      spec.onEvent(o, type);
    } catch (e) {
      log.error("event handler failed", { path: spec.path, err: e as Error });
    }
  };
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
        const list = await kube.request<any>(spec.path, { query: { labelSelector: spec.labelSelector } });
        for (const o of list.items ?? []) emit(o, "add");
        rv = list.metadata?.resourceVersion ?? "";
        resolveSynced();
      }
      abort = await watch.watch(
        spec.path,
        { resourceVersion: rv, labelSelector: spec.labelSelector, allowWatchBookmarks: true },
        (phase, obj) => {
          if (obj?.metadata?.resourceVersion) rv = obj.metadata.resourceVersion;
          if (phase === "ADDED") emit(obj, "add");
          else if (phase === "MODIFIED") emit(obj, "update");
          else if (phase === "DELETED") emit(obj, "delete");
          else if (phase === "ERROR" && obj?.code === 410) rv = "";
        },
        (err) => {
          if (stopped) return;
          if (err && (err.statusCode === 410 || err.code === 410)) rv = "";
          if (err) return retry(err);
          delay = 200;
          void run();
        },
      );
    } catch (e: any) {
      if (e?.code === 410) rv = "";
      retry(e);
    }
  };
  void run();
  return {
    synced,
    stop: async () => {
      stopped = true;
      abort?.abort();
    },
  };
}
