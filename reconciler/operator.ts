// startOperator: wires the Stash-kind controllers. Informers only enqueue keys; owned objects
// (CronJobs, Jobs, workloads) map to their owner's key; one work queue per root kind.
import type { Kube } from "../lib/kube/client.ts";
import { errorKind, type ReconcileError } from "../lib/errors.ts";
import { silentLogger, type Logger } from "../lib/logger.ts";
import { WorkQueue, realClock, type Clock, type Result } from "../lib/workqueue.ts";
import { reconcileBackupConfiguration } from "./controllers/backup-configuration.ts";
import { reconcileBackupSession } from "./controllers/backup-session.ts";
import { reconcileRepository } from "./controllers/repository.ts";
import { reconcileRestoreSession } from "./controllers/restore-session.ts";
import type { ControllerContext, OperatorOptions } from "./controllers/options.ts";
import { keyOf, splitKey } from "./controllers/owner.ts";
import { LABEL_MANAGED_BY, MANAGED_BY } from "./controllers/stash-names.ts";
import { collectionPath, startInformer, type RunningInformer } from "./controllers/watch.ts";

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
}

export interface Operator {
  queues: Record<"BackupConfiguration" | "BackupSession" | "RestoreSession" | "Repository", WorkQueue>;
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

export function startOperator(o: StartOperatorOptions): Operator {
  const log = o.log ?? silentLogger();
  const clock = o.clock ?? realClock;
  const ctx: ControllerContext = {
    kube: o.kube,
    clock,
    log,
    opts: { image: o.image, imagePullPolicy: o.imagePullPolicy, pushgatewayUrl: o.pushgatewayUrl },
    pushSessionMetrics: o.pushSessionMetrics,
    wipeOut: o.wipeOut,
  };
  const mkQueue = (kind: string, fn: (ctx: ControllerContext, ns: string, name: string) => Promise<Result>) =>
    new WorkQueue({
      clock,
      concurrency: o.concurrency ?? 4,
      handler: (key) => {
        const { namespace, name } = splitKey(key);
        return fn(ctx, namespace, name);
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
    BackupConfiguration: mkQueue("BackupConfiguration", reconcileBackupConfiguration),
    BackupSession: mkQueue("BackupSession", reconcileBackupSession),
    RestoreSession: mkQueue("RestoreSession", reconcileRestoreSession),
    Repository: mkQueue("Repository", reconcileRepository),
  };
  const informers: RunningInformer[] = [];
  const watch = (group: string, version: string, plural: string, onEvent: (obj: any) => void, labelSelector?: string) => {
    const inf = startInformer(o.kube, { path: collectionPath(group, version, plural, o.namespace), labelSelector, onEvent }, log, clock);
    informers.push(inf);
    return inf;
  };
  const ownerKey = (obj: any, kind: string) => {
    const ref = (obj.metadata?.ownerReferences ?? []).find((r: any) => r.controller && r.kind === kind);
    return ref ? `${obj.metadata.namespace}/${ref.name}` : undefined;
  };

  const bcs = watch("stash.appscode.com", "v1beta1", "backupconfigurations", (bc) => queues.BackupConfiguration.add(keyOf(bc)));
  const rss = watch("stash.appscode.com", "v1beta1", "restoresessions", (rs) => queues.RestoreSession.add(keyOf(rs)));
  watch("stash.appscode.com", "v1beta1", "backupsessions", (bs) => queues.BackupSession.add(keyOf(bs)));
  watch("stash.appscode.com", "v1alpha1", "repositories", (repo) => {
    queues.Repository.add(keyOf(repo));
    // A Repository change may make its users ready (or not): requeue every referencing invoker,
    // found both in status.references and by spec (a reference may not be recorded yet).
    for (const ref of repo.status?.references ?? []) {
      if (ref.kind === "BackupConfiguration") queues.BackupConfiguration.add(`${ref.namespace}/${ref.name}`);
      if (ref.kind === "RestoreSession") queues.RestoreSession.add(`${ref.namespace}/${ref.name}`);
    }
    const uses = (inv: any) => inv.spec?.repository?.name === repo.metadata.name && (inv.spec?.repository?.namespace || inv.metadata.namespace) === repo.metadata.namespace;
    for (const bc of bcs.cache.list()) if (uses(bc)) queues.BackupConfiguration.add(keyOf(bc as any));
    for (const rs of rss.cache.list()) if (uses(rs)) queues.RestoreSession.add(keyOf(rs as any));
  });
  watch("batch", "v1", "cronjobs", (cj) => {
    const k = ownerKey(cj, "BackupConfiguration");
    if (k) queues.BackupConfiguration.add(k);
  }, `${LABEL_MANAGED_BY}=${MANAGED_BY}`);
  watch("batch", "v1", "jobs", (job) => {
    const bs = ownerKey(job, "BackupSession");
    if (bs) queues.BackupSession.add(bs);
    const rs = ownerKey(job, "RestoreSession");
    if (rs) queues.RestoreSession.add(rs);
  }, `${LABEL_MANAGED_BY}=${MANAGED_BY}`);
  watch("", "v1", "secrets", (secret) => {
    // Only the names matter: a backend Secret appearing makes its Repository's users ready.
    for (const bc of bcs.cache.list() as any[]) if (bc.metadata.namespace === secret.metadata.namespace || bc.spec?.repository?.namespace === secret.metadata.namespace) queues.BackupConfiguration.add(keyOf(bc));
    for (const rs of rss.cache.list() as any[]) if (rs.metadata.namespace === secret.metadata.namespace || rs.spec?.repository?.namespace === secret.metadata.namespace) queues.RestoreSession.add(keyOf(rs));
  });
  for (const [group, plural] of WORKLOADS) {
    watch(group, "v1", plural, (w) => {
      const kind = w.kind ?? "";
      const targets = (inv: any) => {
        const ref = inv.spec?.target?.ref;
        return ref?.name === w.metadata.name && (ref.namespace || inv.metadata.namespace) === w.metadata.namespace && (!kind || ref.kind === kind);
      };
      for (const bc of bcs.cache.list()) if (targets(bc)) queues.BackupConfiguration.add(keyOf(bc as any));
      for (const rs of rss.cache.list()) if (targets(rs)) queues.RestoreSession.add(keyOf(rs as any));
    });
  }
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
