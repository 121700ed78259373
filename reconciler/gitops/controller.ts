// The PolicySource controller: a list-watch of PolicySources feeding the one work queue, a
// chokidar watcher per local-directory source, the push-webhook router, and recordBackupResult
// for the backup controller to write backup outcomes into the note of the revision that
// configured them. No module state: everything lives in the returned handle.
import { mkdir } from "node:fs/promises";
import { watch as chokidarWatch, type FSWatcher } from "chokidar";
import type { Router } from "express";
import type { Kube, KubeObject } from "../../lib/kube/client.ts";
import type { BackupSession } from "../../schema/types.generated.ts";
import type { Logger } from "../../lib/logger.ts";
import { WorkQueue, realClock, type Clock } from "../../lib/workqueue.ts";
import { errorMessage } from "../../lib/errors.ts";
import { rfc3339 } from "../../lib/conditions.ts";
import { syncPolicySource, appendSourceNote } from "./sync.ts";
import { newSyncMemory, type SyncDeps } from "./sync-deps.ts";
import { receiverRouter } from "./receiver.ts";
import { listWatch } from "../../lib/kube/list-watch.ts";
import { REVISION_ANNOTATION, trackedBy } from "../../policies/tracking.ts";
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
  /** Record finished BackupSessions in the git notes (default true). */
  watchBackupSessions?: boolean;
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
  // One keep-alive connection pool for every request (impersonated ones included): a first sync
  // of thousands of objects otherwise pays a TLS handshake per request.

  const log = opts.log.child({ controller: "policysource" });
  await mkdir(opts.workDir, { recursive: true });
  const locks = new Map<string, Promise<unknown>>();
  const withRepoLock = <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const prev = locks.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    locks.set(
      key,
      next.catch(() => undefined),
    );
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
      await ensureWatcher(key, res.watchPath);
      return { requeueAfterMs: res.requeueAfterMs };
    },
    onError: (key, e) => log.error("reconcile failed", { policySource: key, error: errorMessage(e) }),
  });

  /** Watches `want` for saves (the sync says which directory, if any, the source reads). */
  const ensureWatcher = async (key: string, want: string | undefined) => {
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

  // Every change of a PolicySource queues its key, except our own status and finalizer writes: only
  // generation (spec), deletion and annotation changes (manual trigger, accepted rewrite) count.
  const nsPath = (plural: string, group: string) => (opts.namespace ? `/apis/${group}/namespaces/${opts.namespace}/${plural}` : `/apis/${group}/${plural}`);
  const seen = new Map<string, string>();
  const sources = listWatch({
    kube: opts.kube,
    clock,
    log,
    path: nsPath("policysources", "restash.dev/v1alpha1"),
    onItem: (phase, obj) => {
      const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
      const fp = `${obj.metadata.generation}|${obj.metadata.deletionTimestamp ?? ""}|${JSON.stringify(obj.metadata.annotations ?? {})}`;
      if (phase === "DELETED") seen.delete(key);
      else if (phase !== "LISTED" && seen.get(key) === fp) return;
      else seen.set(key, fp);
      queue.add(key);
    },
  });
  await sources.started;

  // Finished BackupSessions of BackupConfigurations applied from Git are written into the note of
  // the revision that configured them (the session's start time keeps the line idempotent).
  const recorded = new Set<string>();
  const sessionQueue = new WorkQueue({
    clock,
    handler: async (key) => {
      const [namespace, name] = key.split("/");
      const bs = await opts.kube.getOrNull<BackupSession>("stash.appscode.com/v1beta1", "BackupSession", name, namespace);
      const phase = bs?.status?.phase;
      if (!bs || !phase || !FINISHED.has(phase) || recorded.has(`${key}|${bs.metadata.uid}`)) return;
      const inv = bs.spec?.invoker;
      if (inv?.kind !== "BackupConfiguration") return;
      const bc = await opts.kube.getOrNull<KubeObject>("stash.appscode.com/v1beta1", "BackupConfiguration", inv.name, namespace);
      if (!bc || !trackedBy(bc)) return;
      const snapshots = (bs.status?.targets ?? [])
        .flatMap((t) => (t.stats ?? []).flatMap((h) => (h.snapshots ?? []).map((s) => s.name)))
        .filter((s): s is string => !!s);
      await handle.recordBackupResult({
        backupConfiguration: bc,
        session: name,
        phase,
        snapshots,
        time: bs.metadata.creationTimestamp ? String(bs.metadata.creationTimestamp) : undefined,
      });
      recorded.add(`${key}|${bs.metadata.uid}`);
    },
    onError: (key, e) => log.warn("recording a backup result failed", { backupSession: key, error: errorMessage(e) }),
  });
  const sessions =
    opts.watchBackupSessions === false
      ? undefined
      : listWatch<BackupSession>({
          kube: opts.kube,
          clock,
          log,
          path: nsPath("backupsessions", "stash.appscode.com/v1beta1"),
          onItem: (phase, obj) => {
            if (phase !== "DELETED" && FINISHED.has(obj.status?.phase ?? "")) sessionQueue.add(`${obj.metadata.namespace}/${obj.metadata.name}`);
          },
        });

  const trigger = (namespace: string, name: string) => queue.add(`${namespace}/${name}`);

  const handle: PolicySourceController = {
    receiver: receiverRouter({ kube: opts.kube, log, trigger }),
    trigger,
    idle: async () => {
      await queue.idle();
      await sessionQueue.idle();
    },
    async stop() {
      stopped = true;
      sources.stop();
      sessions?.stop();
      queue.stop();
      sessionQueue.stop();
      await Promise.all([...watchers.values()].map((w) => w.watcher.close()));
      watchers.clear();
      await Promise.all([...locks.values()]);
      for (const c of deps.memory.actAs.values()) c.kube.close();
      deps.memory.actAs.clear();
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
  return handle;
}

const FINISHED = new Set(["Succeeded", "Failed", "Skipped"]);
