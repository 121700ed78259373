// The PolicySource controller: a list-watch of PolicySources feeding the one work queue, a
// chokidar watcher per local-directory source, the push-webhook router, and recordBackupResult
// for the backup controller to write backup outcomes into the note of the revision that
// configured them. No module state: everything lives in the returned handle.
import { mkdir } from "node:fs/promises";
import { watch as chokidarWatch, type FSWatcher } from "chokidar";
import { Watch } from "@kubernetes/client-node";
import type { Router } from "express";
import type { Kube, KubeObject } from "../../lib/kube/client.ts";
import type { Logger } from "../../lib/logger.ts";
import { WorkQueue, realClock, type Clock } from "../../lib/workqueue.ts";
import { errorMessage } from "../../lib/errors.ts";
import { rfc3339 } from "../../lib/conditions.ts";
import { syncPolicySource, newSyncMemory, appendSourceNote, type SyncDeps } from "./sync.ts";
import { receiverRouter } from "./receiver.ts";
import { POLICY_SOURCE_API, POLICY_SOURCE_KIND, type PolicySource } from "./policy-source.ts";
import { REVISION_ANNOTATION, trackedBy } from "./tracking.ts";
import { shaOf } from "./git-source.ts";

export interface PolicySourceControllerOptions {
  kube: Kube;
  log: Logger;
  clock?: Clock;
  /** Directory for the clones. */
  workDir: string;
  /** Watch only this namespace (default: all). */
  namespace?: string;
  parallelism?: number;
  /** Debounce for file-save events of local sources. */
  debounceMs?: number;
}

export interface BackupResult {
  /** The live BackupConfiguration the session ran for (its labels name the source, its annotation the revision). */
  backupConfiguration: KubeObject;
  session: string;
  phase: string;
  snapshots?: string[];
  time?: string;
}

export interface PolicySourceController {
  stop(): Promise<void>;
  receiver: Router;
  /** Queue a source now (what the webhook does). */
  trigger(namespace: string, name: string): void;
  /** Resolves when no reconcile is queued or running. */
  idle(): Promise<void>;
  recordBackupResult(r: BackupResult): Promise<void>;
}

export async function startPolicySourceController(opts: PolicySourceControllerOptions): Promise<PolicySourceController> {
  const clock = opts.clock ?? realClock;
  const log = opts.log.child({ controller: "policysource" });
  await mkdir(opts.workDir, { recursive: true });
  const locks = new Map<string, Promise<unknown>>();
  const withRepoLock = <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const prev = locks.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    locks.set(key, next.catch(() => undefined));
    return next;
  };
  const deps: SyncDeps = {
    kube: opts.kube,
    log,
    now: () => new Date(clock.now()),
    workDir: opts.workDir,
    parallelism: opts.parallelism,
    memory: newSyncMemory(),
    withRepoLock,
  };
  const watchers = new Map<string, { path: string; watcher: FSWatcher }>();
  let stopped = false;

  const queue = new WorkQueue({
    clock,
    handler: async (key) => {
      const [namespace, name] = key.split("/");
      const res = await syncPolicySource(deps, { namespace, name });
      await ensureWatcher(key);
      return res;
    },
    onError: (key, e) => log.error("reconcile failed", { policySource: key, error: errorMessage(e) }),
  });

  const ensureWatcher = async (key: string) => {
    const [namespace, name] = key.split("/");
    const src = await opts.kube.getOrNull<any>(POLICY_SOURCE_API, POLICY_SOURCE_KIND, name, namespace).catch(() => null) as PolicySource | null;
    const want = src && !src.spec.suspend ? src.spec.localPath : undefined;
    const have = watchers.get(key);
    if (have && have.path === want) return;
    if (have) {
      await have.watcher.close();
      watchers.delete(key);
    }
    if (!want || stopped) return;
    let timer: unknown;
    const watcher = chokidarWatch(want, { ignoreInitial: true, ignored: (p: string) => /(^|\/)\.git(\/|$)/.test(p) });
    watcher.on("all", () => {
      if (timer) clock.clearTimeout(timer);
      timer = clock.setTimeout(() => queue.add(key), opts.debounceMs ?? 20);
    });
    await new Promise<void>((r) => watcher.once("ready", () => r()));
    watchers.set(key, { path: want, watcher });
  };

  // List-watch: every change of a PolicySource queues its key; a failed watch relists.
  const base = opts.namespace ? `/apis/restash.dev/v1alpha1/namespaces/${opts.namespace}/policysources` : "/apis/restash.dev/v1alpha1/policysources";
  let abort: AbortController | undefined;
  const seen = new Map<string, string>();
  const listWatch = async (): Promise<void> => {
    if (stopped) return;
    try {
      const list = await opts.kube.request<any>(base);
      for (const item of list.items ?? []) {
        const key = `${item.metadata.namespace}/${item.metadata.name}`;
        seen.set(key, `${item.metadata.generation}|${JSON.stringify(item.metadata.annotations ?? {})}`);
        queue.add(key);
      }
      abort = await new Watch(opts.kube.kc).watch(
        base,
        { resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: true },
        (phase, obj) => {
          if (phase === "BOOKMARK" || !obj?.metadata) return;
          // Our own status writes must not queue the key again: only generation (spec) and
          // annotation changes (manual trigger, accepted rewrite) do.
          const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
          const fp = `${obj.metadata.generation}|${JSON.stringify(obj.metadata.annotations ?? {})}`;
          if (phase === "DELETED") seen.delete(key);
          else if (seen.get(key) === fp) return;
          else seen.set(key, fp);
          queue.add(key);
        },
        () => {
          if (!stopped) clock.setTimeout(() => void listWatch(), 1000);
        },
      );
    } catch (e) {
      log.warn("listing PolicySources failed; retrying", { error: errorMessage(e) });
      if (!stopped) clock.setTimeout(() => void listWatch(), 2000);
    }
  };
  await listWatch();

  const trigger = (namespace: string, name: string) => queue.add(`${namespace}/${name}`);

  return {
    receiver: receiverRouter({ kube: opts.kube, log, trigger }),
    trigger,
    idle: () => queue.idle(),
    async stop() {
      stopped = true;
      abort?.abort();
      queue.stop();
      await Promise.all([...watchers.values()].map((w) => w.watcher.close()));
      watchers.clear();
      await Promise.all([...locks.values()]);
    },
    async recordBackupResult(r) {
      const source = trackedBy(r.backupConfiguration);
      const revision = r.backupConfiguration.metadata.annotations?.[REVISION_ANNOTATION];
      const sha = shaOf(revision);
      if (!source || !revision || !sha) return; // not applied from Git
      await appendSourceNote(deps, source, sha, [
        {
          time: r.time ?? rfc3339(deps.now()),
          kind: "backup",
          source: `${source.namespace}/${source.name}`,
          revision,
          backupConfiguration: `${r.backupConfiguration.metadata.namespace}/${r.backupConfiguration.metadata.name}`,
          session: r.session,
          phase: r.phase,
          ...(r.snapshots?.length ? { snapshots: r.snapshots } : {}),
        },
      ]);
    },
  };
}
