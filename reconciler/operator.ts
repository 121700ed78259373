// startOperator: wires the Stash-kind controllers. Informers only enqueue keys; owned objects
// (CronJobs, Jobs, workloads) map to their owner's key; one work queue per root kind.
import type { Kube, KubeObject } from "../lib/kube/client.ts";
import { errorKind, type ReconcileError } from "../lib/errors.ts";
import { silentLogger, type Logger } from "../lib/logger.ts";
import { WorkQueue, realClock, type Clock, type Result } from "../lib/workqueue.ts";
import { reconcileBackupBatch, reconcileBackupConfiguration } from "./backup-configuration/reconcile.ts";
import { reconcileBackupSession } from "./backup-session/reconcile.ts";
import { reconcileRepository } from "./repository/reconcile.ts";
import { reconcileRestoreSession } from "./restore-session/reconcile.ts";
import { reconcileRestoreBatch } from "./restore-batch/reconcile.ts";
import type { ControllerContext, OperatorOptions } from "./context.ts";
import { keyOf, splitKey } from "../lib/owner.ts";
import { targetsOf } from "../stash/invoker-targets.ts";
import { LABEL_MANAGED_BY, MANAGED_BY } from "../stash/names.ts";
import { cachedGets, collectionPath, startInformer, startWatcher } from "../lib/kube/informer.ts";
import { sessionMetricsPusher } from "./invoker/session-metrics.ts";
import { wipeOutWith } from "./repository/wipe-out.ts";

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

const WORKLOADS: [string, string][] = [
  ["apps", "deployments"],
  ["apps", "statefulsets"],
  ["apps", "daemonsets"],
  ["apps", "replicasets"],
  ["", "persistentvolumeclaims"],
];

/** Whether a workload's pod template carries the sidecar or the restore init-container. */
function hasStashParts(w: any): boolean {
  const spec = w.spec?.template?.spec ?? {};
  return (spec.containers ?? []).some((c: any) => c.name === "stash") || (spec.initContainers ?? []).some((c: any) => c.name === "stash-init");
}

export function startOperator(o: StartOperatorOptions): Operator {
  const log = o.log ?? silentLogger();
  const clock = o.clock ?? realClock;
  const kube = o.kube;
  const ctx: ControllerContext = {
    kube,
    clock,
    log,
    opts: { image: o.image, imagePullPolicy: o.imagePullPolicy, pushgatewayUrl: o.pushgatewayUrl, ownPod: o.ownPod },
    pushSessionMetrics: o.pushSessionMetrics ?? (o.pushgatewayUrl ? sessionMetricsPusher(o.pushgatewayUrl, () => clock.now()) : undefined),
    wipeOut: o.wipeOut ?? wipeOutWith(kube),
  };
  // The invokers' reconcilers read Repositories from the informer cache (watch.ts cachedGets); set
  // once the informers exist, below. The Repository and BackupSession reconcilers read directly.
  let invokerCtx = ctx;
  const mkQueue = (kind: string, fn: (ctx: ControllerContext, ns: string, name: string) => Promise<Result>, invoker = false) =>
    new WorkQueue({
      clock,
      concurrency: o.concurrency ?? 16,
      handler: (key) => {
        const { namespace, name } = splitKey(key);
        const c = invoker ? invokerCtx : ctx;
        return o.metrics ? o.metrics.observe(kind, () => fn(c, namespace, name)) : fn(c, namespace, name);
      },
      shouldRetry: (e) => {
        const kind = errorKind(e);
        if (kind === "Stalled") return false;
        if (kind === "Waiting") return (e as ReconcileError).retryAfterMs ?? 5_000;
        return true;
      },
      onError: (key, e) => {
        const kind = errorKind(e);
        if ((e as any)?.code === 409) return log.debug("conflict; retrying", { kind, key });
        (kind === "Transient" ? log.warn : log.info)("reconcile did not finish", { controller: kind, object: `${kind}/${key}`, key, err: e as Error });
      },
    });
  const queues = {
    BackupConfiguration: mkQueue("BackupConfiguration", reconcileBackupConfiguration, true),
    BackupBatch: mkQueue("BackupBatch", reconcileBackupBatch, true),
    BackupSession: mkQueue("BackupSession", reconcileBackupSession),
    RestoreSession: mkQueue("RestoreSession", reconcileRestoreSession, true),
    RestoreBatch: mkQueue("RestoreBatch", reconcileRestoreBatch, true),
    Repository: mkQueue("Repository", reconcileRepository),
  };
  const informers: { synced: Promise<void>; stop(): Promise<void> }[] = [];
  type OnEvent = (obj: any, type: "add" | "update" | "delete") => void;
  /** A cached informer (the reconcilers' mappings read these caches). */
  const inform = (group: string, version: string, plural: string, onEvent: OnEvent, labelSelector?: string) => {
    const inf = startInformer(kube, { path: collectionPath(group, version, plural, o.namespace), labelSelector, onEvent }, log, clock);
    informers.push(inf);
    return inf;
  };
  /** Events only, no cache: kinds that merely map to an owner's key. */
  const watch = (group: string, version: string, plural: string, onEvent: OnEvent, labelSelector?: string, metadataOnly = false) => {
    informers.push(startWatcher(kube, { path: collectionPath(group, version, plural, o.namespace), labelSelector, metadataOnly, onEvent }, log, clock));
  };
  /** Events of kinds whose handler reads metadata only: the API server sends PartialObjectMetadata
   *  (no spec, status or data: a Repository with a thousand references or a large Secret is a few hundred bytes). */
  const watchMetadata = (group: string, version: string, plural: string, onEvent: OnEvent, labelSelector?: string) => watch(group, version, plural, onEvent, labelSelector, true);
  const ownerKey = (obj: any, kind: string) => {
    const ref = (obj.metadata?.ownerReferences ?? []).find((r: any) => r.controller && r.kind === kind);
    return ref ? `${obj.metadata.namespace}/${ref.name}` : undefined;
  };

  const repoKeyOf = (inv: any) => `${inv.spec?.repository?.namespace || inv.metadata.namespace}/${inv.spec?.repository?.name}`;
  // Repository status.references is computed by the Repository reconciler from these caches, so
  // an invoker event requeues its Repository (coalesced by the queue) instead of each invoker
  // writing the shared list.
  // Like controller-runtime's GenerationChangedPredicate: a status-only or finalizer-only update
  // (our own writes) does not requeue; spec changes, deletion and adds do.
  const backupInvokers = (plural: string, queue: WorkQueue) => {
    const seen = new Map<string, string>();
    return inform("stash.appscode.com", "v1beta1", plural, (bc, type) => {
      const key = keyOf(bc);
      const mark = `${bc.metadata.generation}/${bc.metadata.deletionTimestamp ?? ""}`;
      if (type === "delete") seen.delete(key);
      else if (type === "update" && seen.get(key) === mark) return;
      else seen.set(key, mark);
      queue.add(key);
      if (bc.spec?.repository?.name) queues.Repository.add(repoKeyOf(bc));
    });
  };
  const bcs = backupInvokers("backupconfigurations", queues.BackupConfiguration);
  const bbs = backupInvokers("backupbatches", queues.BackupBatch);
  const restoreInvokers = (plural: string, queue: WorkQueue) =>
    inform("stash.appscode.com", "v1beta1", plural, (rs) => {
      queue.add(keyOf(rs));
      if (rs.spec?.repository?.name) queues.Repository.add(repoKeyOf(rs));
    });
  const rss = restoreInvokers("restoresessions", queues.RestoreSession);
  const rbs = restoreInvokers("restorebatches", queues.RestoreBatch);
  // Every invoker kind with the queue its events go to.
  const invokers: [{ cache: { list(): readonly any[] } }, WorkQueue][] = [
    [bcs, queues.BackupConfiguration],
    [bbs, queues.BackupBatch],
    [rss, queues.RestoreSession],
    [rbs, queues.RestoreBatch],
  ];
  const eachInvoker = (fn: (inv: any, queue: WorkQueue) => void) => {
    for (const [inf, queue] of invokers) for (const inv of inf.cache.list()) fn(inv, queue);
  };
  ctx.invokersOf = (namespace, name) =>
    invokers.flatMap(([inf]) => inf.cache.list() as any[])
      .filter((inv) => !inv.metadata.deletionTimestamp && inv.spec?.repository?.name === name && (inv.spec?.repository?.namespace || inv.metadata.namespace) === namespace)
      .map((inv) => ({ kind: inv.kind, namespace: inv.metadata.namespace, name: inv.metadata.name }));
  ctx.backupInvokersTargeting = (ref) =>
    [...bcs.cache.list(), ...bbs.cache.list()].filter(
      (inv: any) => !inv.metadata.deletionTimestamp && targetsOf(inv).some(({ target }) => target?.ref?.kind === ref.kind && target.ref.name === ref.name && target.ref.namespace === ref.namespace),
    ) as KubeObject[];
  watchMetadata("stash.appscode.com", "v1beta1", "backupsessions", (bs) => queues.BackupSession.add(keyOf(bs)));
  // What of a Repository its users depend on: existence, spec (generation) and deletion. Status
  // updates (references, statistics) must not requeue every user, or N users cost N² reconciles.
  const repoSeen = new Map<string, string>();
  const repos = inform("stash.appscode.com", "v1alpha1", "repositories", (repo, type) => {
    const key = keyOf(repo);
    queues.Repository.add(key);
    const mark = type === "delete" ? "" : `${repo.metadata.generation}/${repo.metadata.deletionTimestamp ?? ""}`;
    if (type === "delete") repoSeen.delete(key);
    else if (repoSeen.get(key) === mark) return;
    else repoSeen.set(key, mark);
    const uses = (inv: any) => inv.spec?.repository?.name === repo.metadata.name && (inv.spec?.repository?.namespace || inv.metadata.namespace) === repo.metadata.namespace;
    eachInvoker((inv, queue) => uses(inv) && queue.add(keyOf(inv)));
  });
  watchMetadata("batch", "v1", "cronjobs", (cj) => {
    const k = ownerKey(cj, "BackupConfiguration");
    if (k) queues.BackupConfiguration.add(k);
    const b = ownerKey(cj, "BackupBatch");
    if (b) queues.BackupBatch.add(b);
  }, `${LABEL_MANAGED_BY}=${MANAGED_BY}`);
  watchMetadata("batch", "v1", "jobs", (job) => {
    const bs = ownerKey(job, "BackupSession");
    if (bs) queues.BackupSession.add(bs);
    const rs = ownerKey(job, "RestoreSession");
    if (rs) queues.RestoreSession.add(rs);
    const rb = ownerKey(job, "RestoreBatch");
    if (rb) queues.RestoreBatch.add(rb);
  }, `${LABEL_MANAGED_BY}=${MANAGED_BY}`);
  watchMetadata("", "v1", "secrets", (secret, type) => {
    // Only existence matters: a backend Secret appearing (or going) changes its users' readiness.
    if (type === "update") return;
    eachInvoker((inv, queue) => (inv.metadata.namespace === secret.metadata.namespace || inv.spec?.repository?.namespace === secret.metadata.namespace) && queue.add(keyOf(inv)));
  });
  for (const [group, plural] of WORKLOADS) {
    watch(group, "v1", plural, (w, type) => {
      // A workload update matters only when it lost (or never had) what an invoker put there.
      if (type === "update" && hasStashParts(w)) return;
      // Listed items carry no kind: then any target of that name and namespace matches.
      const kind = w.kind ?? "";
      const targets = (inv: any) => targetsOf(inv).some(({ target }) => target?.ref?.name === w.metadata.name && target.ref.namespace === w.metadata.namespace && (!kind || target.ref.kind === kind));
      eachInvoker((inv, queue) => targets(inv) && queue.add(keyOf(inv)));
    });
  }
  invokerCtx = { ...ctx, kube: cachedGets(kube, [{ apiVersion: "stash.appscode.com/v1alpha1", kind: "Repository", informer: repos }]) };
  const all = Object.values(queues);
  return {
    queues,
    synced: Promise.all(informers.map((i) => i.synced)).then(() => undefined),
    async idle() {
      for (let i = 0; i < 3; i++) await Promise.all(all.map((q) => q.idle()));
    },
    async stop() {
      for (const q of all) q.stop();
      await Promise.all(informers.map((i) => i.stop()));
    },
  };
}
