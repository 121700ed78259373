// startOperator: wires the Stash-kind controllers from their registrations (each kind's
// register.ts, reconciler/registration.ts). Informers only enqueue keys; owned objects (CronJobs,
// Jobs) map to their owner's key, other kinds through the registration's mappings; one work queue
// per root kind.
import type { AnyObject, Kube, KubeObject } from "../lib/kube/client.ts";
import { errorKind, type ReconcileError } from "../lib/errors.ts";
import { silentLogger, type Logger } from "../lib/logger.ts";
import { WorkQueue, realClock, type Clock } from "../lib/workqueue.ts";
import type { ControllerContext, OperatorOptions } from "./context.ts";
import { keyOf, splitKey } from "../lib/owner.ts";
import { collectionPath, startInformer, startWatcher, type EventType, type RunningInformer } from "../lib/kube/informer.ts";
import { sessionMetricsPusher } from "./invoker/session-metrics.ts";
import { wipeOutWith } from "./repository/wipe-out.ts";
import { ownerKey, type Filter, type Registration, type Resource } from "./registration.ts";
import { backupConfiguration } from "./backup-configuration/register.ts";
import { backupBatch } from "./backup-batch/register.ts";
import { backupSession } from "./backup-session/register.ts";
import { restoreSession } from "./restore-session/register.ts";
import { restoreBatch } from "./restore-batch/register.ts";
import { repository } from "./repository/register.ts";

export interface StartOperatorOptions extends OperatorOptions {
  kube: Kube;
  log?: Logger;
  clock?: Clock;
  /** Watch one namespace only (default: all). */
  namespace?: string;
  /** Parallel reconciles per kind (one key is never reconciled twice at once). */
  concurrency?: number;
  pushSessionMetrics?: ControllerContext["pushSessionMetrics"];
  wipeOut?: ControllerContext["wipeOut"];
  /** Records reconcile durations and failures per kind (reconciler/metrics.ts). */
  metrics?: { observe<T>(kind: string, fn: () => Promise<T>): Promise<T> };
}

export interface Operator {
  queues: Record<"BackupConfiguration" | "BackupBatch" | "BackupSession" | "RestoreSession" | "RestoreBatch" | "Repository", WorkQueue>;
  /** Resolves once every informer has listed. */
  synced: Promise<void>;
  /** Resolves when all queues are empty and idle (delayed requeues excluded). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** Every kind the operator reconciles; the wiring below is the same loop for each. */
const REGISTRATIONS: Registration[] = [backupConfiguration, backupBatch, backupSession, restoreSession, restoreBatch, repository];

type OnEvent = (obj: KubeObject, type: EventType) => void;

/** One list-watch of a collection and every handler of it; cached when a kind's `for` asks. */
interface Source {
  resource: Resource;
  cache: boolean;
  handlers: OnEvent[];
}

export function startOperator(o: StartOperatorOptions): Operator {
  const log = o.log ?? silentLogger();
  const clock = o.clock ?? realClock;
  const kube = o.kube;
  const base: ControllerContext = {
    kube,
    clock,
    log,
    opts: { image: o.image, imagePullPolicy: o.imagePullPolicy, pushgatewayUrl: o.pushgatewayUrl, ownPod: o.ownPod },
    pushSessionMetrics: o.pushSessionMetrics ?? (o.pushgatewayUrl ? sessionMetricsPusher(o.pushgatewayUrl, () => clock.now()) : undefined),
    wipeOut: o.wipeOut ?? wipeOutWith(kube),
    runnerBindings: new Set(),
  };
  // Each kind's context reads the caches, so it is made once they exist, below (before any event:
  // handlers run after startOperator returns).
  const contexts = new Map<string, ControllerContext>();
  const queues: Record<string, WorkQueue> = {};
  for (const reg of REGISTRATIONS) {
    queues[reg.kind] = new WorkQueue({
      clock,
      concurrency: o.concurrency ?? 16,
      handler: (key) => {
        const { namespace, name } = splitKey(key);
        const run = () => reg.reconcile(contexts.get(reg.kind) ?? base, namespace, name);
        return o.metrics ? o.metrics.observe(reg.kind, run) : run();
      },
      shouldRetry: (e) => {
        const kind = errorKind(e);
        if (kind === "Stalled") return false;
        if (kind === "Waiting") return (e as ReconcileError).retryAfterMs ?? 5_000;
        return true;
      },
      // Stalled and Waiting are expected states of an object (info); Transient ones are not (warn).
      onError: (key, e) => {
        const errKind = errorKind(e);
        if ((e as { code?: unknown } | undefined)?.code === 409) return log.debug("conflict; retrying", { kind: reg.kind, key });
        (errKind === "Transient" ? log.warn : log.info)("reconcile did not finish", {
          controller: reg.kind,
          object: `${reg.kind}/${key}`,
          key,
          errorKind: errKind,
          err: e as Error,
        });
      },
    });
  }

  // Every kind's handlers, grouped by collection: one list-watch each, however many kinds read it.
  const sources = new Map<string, Source>();
  const on = (resource: Resource, handler: OnEvent, cache = false) => {
    const id = JSON.stringify([resource.group, resource.version, resource.plural, resource.labelSelector ?? "", !!resource.metadataOnly]);
    let src = sources.get(id);
    if (!src) sources.set(id, (src = { resource, cache: false, handlers: [] }));
    src.cache ||= cache;
    src.handlers.push(handler);
    return src;
  };
  const filtered = (when: Filter | undefined, handler: OnEvent): OnEvent => {
    if (!when) return handler;
    const pass = when();
    return (obj, type) => {
      if (pass(obj, type)) handler(obj, type);
    };
  };
  const forSources = new Map<string, Source>();
  const informers = new Map<Source, RunningInformer>();
  const caches = {
    informer<T extends AnyObject = KubeObject>(kind: string): RunningInformer<T> {
      const inf = informers.get(forSources.get(kind)!);
      if (!inf) throw new Error(`${kind} is not cached: its registration's for needs cache: true`);
      // The informer of `kind`'s own collection: its objects are that kind's, as the caller names it.
      return inf as unknown as RunningInformer<T>;
    },
  };
  for (const reg of REGISTRATIONS) {
    const queue = queues[reg.kind];
    if (reg.mapFrom?.length && !reg.for.cache) throw new Error(`${reg.kind}: mapFrom reads the kind's cache, so its for needs cache: true`);
    forSources.set(
      reg.kind,
      on(
        reg.for,
        filtered(reg.for.when, (obj) => queue.add(keyOf(obj))),
        !!reg.for.cache,
      ),
    );
    for (const owned of reg.owns ?? []) {
      on({ ...owned, metadataOnly: true }, (obj) => {
        const key = ownerKey(obj, reg.kind);
        if (key) queue.add(key);
      });
    }
    for (const m of reg.mapFrom ?? []) {
      on(
        m.source,
        filtered(m.when, (obj) => {
          for (const key of m.map(obj, caches.informer(reg.kind).cache)) queue.add(key);
        }),
      );
    }
  }

  const running: { synced: Promise<void>; stop(): Promise<void> }[] = [];
  for (const src of sources.values()) {
    const { group, version, plural, labelSelector, metadataOnly } = src.resource;
    const spec = {
      path: collectionPath(group, version, plural, o.namespace),
      labelSelector,
      metadataOnly,
      onEvent: (obj: KubeObject, type: EventType) => {
        for (const h of src.handlers) h(obj, type);
      },
    };
    // Cached only where a mapping or a reconcile reads the cache; otherwise events only, and the
    // objects are dropped once mapped (docs/decisions/operator-memory.md).
    if (src.cache) {
      const inf = startInformer(kube, spec, log, clock);
      informers.set(src, inf);
      running.push(inf);
    } else running.push(startWatcher(kube, spec, log, clock));
  }
  for (const reg of REGISTRATIONS) if (reg.context) contexts.set(reg.kind, reg.context(base, caches));

  const all = Object.values(queues);
  return {
    queues: queues as Operator["queues"],
    synced: Promise.all(running.map((i) => i.synced)).then(() => undefined),
    async idle() {
      for (let i = 0; i < 3; i++) await Promise.all(all.map((q) => q.idle()));
    },
    async stop() {
      for (const q of all) q.stop();
      await Promise.all(running.map((i) => i.stop()));
    },
  };
}
