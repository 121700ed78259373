// Informers that only turn events into work-queue keys. client-node stops an informer on a
// non-410 error, so each one is restarted with capped backoff until stopped.
import { makeInformer, type KubernetesObject, type Informer, type ObjectCache } from "@kubernetes/client-node";
import type { Kube } from "../../lib/kube/client.ts";
import type { Logger } from "../../lib/logger.ts";
import type { Clock } from "../../lib/workqueue.ts";

export interface WatchSpec {
  /** Collection path, e.g. /apis/stash.appscode.com/v1beta1/backupconfigurations (all namespaces). */
  path: string;
  labelSelector?: string;
  onEvent: (obj: any) => void;
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
  const handler = (o: any) => {
    try {
      spec.onEvent(o);
    } catch (e) {
      log.error("event handler failed", { path: spec.path, err: e as Error });
    }
  };
  inf.on("add", handler);
  inf.on("update", handler);
  inf.on("delete", handler);
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
