// AdmissionLookups from informer caches, for the request rates a busy cluster sends: an answer costs
// no API call. A GET that misses falls back to a direct read (the object may be a moment old and
// not cached yet; a GET is a cheap etcd read). Lists are answered from the cache once it has
// synced, including "nothing targets this workload": see docs/decisions/webhook-lookups.md for
// why that is trusted rather than confirmed with a fresh LIST. Before the first sync, lists are
// direct and coalesced per namespace.
import type { Kube, KubeObject } from "../lib/kube/client.ts";
import type { BackupBatch, BackupConfiguration, Function as StashFunction, Repository, RestoreBatch, RestoreSession, Task } from "../schema/types.generated.ts";
import type { Logger } from "../lib/logger.ts";
import { realClock } from "../lib/workqueue.ts";
import { startInformer, type RunningInformer } from "../lib/kube/informer.ts";
import type { AdmissionLookups } from "./types.ts";
import { kubeLookups } from "./kube-lookups.ts";

export interface CachedLookups extends AdmissionLookups {
  /** Resolves once every cache has listed once. */
  synced: Promise<void>;
  stop(): Promise<void>;
}

const PATHS = {
  repositories: "/apis/stash.appscode.com/v1alpha1/repositories",
  backupconfigurations: "/apis/stash.appscode.com/v1beta1/backupconfigurations",
  restoresessions: "/apis/stash.appscode.com/v1beta1/restoresessions",
  backupbatches: "/apis/stash.appscode.com/v1beta1/backupbatches",
  restorebatches: "/apis/stash.appscode.com/v1beta1/restorebatches",
  tasks: "/apis/stash.appscode.com/v1beta1/tasks",
  functions: "/apis/stash.appscode.com/v1beta1/functions",
  namespaces: "/api/v1/namespaces",
};

/**
 * Coalesces fresh reads without losing freshness: a caller never joins a read that started before
 * it arrived; everyone who arrives while one read is in flight shares the next one. Under a burst
 * that is one API call per round trip instead of one per request.
 */
export function coalesce<T>(read: () => Promise<T>): () => Promise<T> {
  let inflight: Promise<T> | undefined;
  let next: Promise<T> | undefined;
  const start = (): Promise<T> => {
    const p = read().finally(() => {
      if (inflight === p) inflight = undefined;
    });
    inflight = p;
    return p;
  };
  return () => {
    if (!inflight) return start();
    next ??= inflight
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        next = undefined;
        return start();
      });
    return next;
  };
}

function coalescedByNamespace<T>(read: (ns: string) => Promise<T[]>): (ns: string) => Promise<T[]> {
  const perNs = new Map<string, () => Promise<T[]>>();
  return (ns) => {
    let f = perNs.get(ns);
    if (!f) {
      f = coalesce(() => read(ns));
      perNs.set(ns, f);
    }
    return f();
  };
}

export function cachedLookups(kube: Kube, log: Logger): CachedLookups {
  const uncached = kubeLookups(kube);
  const direct = {
    ...uncached,
    listBackupConfigurations: coalescedByNamespace((ns) => uncached.listBackupConfigurations(ns)),
    listRestoreSessions: coalescedByNamespace((ns) => uncached.listRestoreSessions(ns)),
    listBackupBatches: coalescedByNamespace((ns) => uncached.listBackupBatches(ns)),
    listRestoreBatches: coalescedByNamespace((ns) => uncached.listRestoreBatches(ns)),
  };
  const cache = <T extends KubeObject>(path: string) => startInformer<T>(kube, { path, onEvent: () => {} }, log, realClock);
  const informers = {
    repositories: cache<Repository>(PATHS.repositories),
    backupconfigurations: cache<BackupConfiguration>(PATHS.backupconfigurations),
    restoresessions: cache<RestoreSession>(PATHS.restoresessions),
    backupbatches: cache<BackupBatch>(PATHS.backupbatches),
    restorebatches: cache<RestoreBatch>(PATHS.restorebatches),
    tasks: cache<Task>(PATHS.tasks),
    functions: cache<StashFunction>(PATHS.functions),
    namespaces: cache<KubeObject>(PATHS.namespaces),
  } satisfies Record<keyof typeof PATHS, RunningInformer<KubeObject>>;
  let ready = false;
  const synced = Promise.all(Object.values(informers).map((i) => i.synced)).then(() => {
    ready = true;
  });
  const get = async <T extends KubeObject>(inf: RunningInformer<T>, name: string, ns: string | undefined, fallback: () => Promise<T | null>) => {
    const hit = ready ? inf.cache.get(name, ns) : undefined;
    return hit ?? fallback();
  };
  const list = async <T extends KubeObject>(inf: RunningInformer<T>, ns: string, fallback: () => Promise<T[]>) => (ready ? inf.cache.list(ns) : fallback());
  return {
    synced,
    getRepository: (ns, name) => get(informers.repositories, name, ns, () => direct.getRepository(ns, name)),
    getNamespace: (name) => get(informers.namespaces, name, undefined, () => direct.getNamespace(name)),
    getTask: (name) => get(informers.tasks, name, undefined, () => direct.getTask(name)),
    getFunction: (name) => get(informers.functions, name, undefined, () => direct.getFunction(name)),
    listBackupConfigurations: (ns) => list(informers.backupconfigurations, ns, () => direct.listBackupConfigurations(ns)),
    listRestoreSessions: (ns) => list(informers.restoresessions, ns, () => direct.listRestoreSessions(ns)),
    listBackupBatches: (ns) => list(informers.backupbatches, ns, () => direct.listBackupBatches(ns)),
    listRestoreBatches: (ns) => list(informers.restorebatches, ns, () => direct.listRestoreBatches(ns)),
    async stop() {
      await Promise.all(Object.values(informers).map((i) => i.stop()));
    },
  };
}
