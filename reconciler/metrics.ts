// The operator's own /metrics: reconcile durations and errors per kind, work-queue depth, policy
// sync state, and the freshness of every BackupConfiguration's last successful backup (what an
// alert needs to say "older than twice its schedule", which Stash cannot tell).
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { CronExpressionParser } from "cron-parser";
import type { AnyObject, Kube } from "../lib/kube/client.ts";
import type { BackupSession, RestoreSession } from "../schema/types.generated.ts";
import type { PolicySource } from "../policies/policy-source.ts";
import type { BackupInvoker } from "../stash/invoker-targets.ts";
import { parseDuration } from "../policies/policy-source.ts";

export interface OperatorMetrics {
  registry: Registry;
  /** Wraps a reconcile handler so its duration and failure are recorded under `kind`. */
  observe<T>(kind: string, fn: () => Promise<T>): Promise<T>;
  /** Queue depths are read at scrape time. */
  setQueueDepth(read: () => Record<string, number>): void;
}

/** Seconds between two consecutive runs of a cron schedule; undefined if it does not parse. */
export function scheduleIntervalSeconds(schedule: string | undefined, from = new Date("2026-01-05T00:00:00Z")): number | undefined {
  if (!schedule) return undefined;
  try {
    const it = CronExpressionParser.parse(schedule, { currentDate: from, tz: "UTC" });
    const a = it.next().getTime();
    const b = it.next().getTime();
    return (b - a) / 1000;
  } catch {
    return undefined;
  }
}

export interface BackupFreshness {
  /** BackupConfiguration or BackupBatch. */
  kind: string;
  namespace: string;
  name: string;
  lastSuccess: number; // unix seconds, 0 = never
  lastFailure: number; // unix seconds, 0 = never
  created: number;
  interval?: number;
  paused: boolean;
}

/** Pure: the last successful and the last failed BackupSession (by creation) per BackupConfiguration or BackupBatch. */
export function backupFreshness(configs: BackupInvoker[], sessions: BackupSession[]): BackupFreshness[] {
  const last = { Succeeded: new Map<string, number>(), Failed: new Map<string, number>() };
  for (const s of sessions) {
    const phase: unknown = s.status?.phase;
    if (phase !== "Succeeded" && phase !== "Failed") continue;
    const invoker = s.spec?.invoker;
    if (invoker?.kind !== "BackupConfiguration" && invoker?.kind !== "BackupBatch") continue;
    const key = `${s.metadata.namespace}/${invoker.kind}/${invoker.name}`;
    const t = Date.parse(s.metadata.creationTimestamp as unknown as string) / 1000;
    if (!Number.isNaN(t) && t > (last[phase].get(key) ?? 0)) last[phase].set(key, t);
  }
  return configs.map((c) => ({
    kind: c.kind ?? "BackupConfiguration",
    namespace: c.metadata.namespace!,
    name: c.metadata.name!,
    lastSuccess: last.Succeeded.get(`${c.metadata.namespace}/${c.kind ?? "BackupConfiguration"}/${c.metadata.name}`) ?? 0,
    lastFailure: last.Failed.get(`${c.metadata.namespace}/${c.kind ?? "BackupConfiguration"}/${c.metadata.name}`) ?? 0,
    created: Date.parse(c.metadata.creationTimestamp as unknown as string) / 1000 || 0,
    interval: scheduleIntervalSeconds(c.spec?.schedule),
    paused: c.spec?.paused === true,
  }));
}

export function createOperatorMetrics(kube: Kube, opts: { cacheMs?: number; now?: () => number } = {}): OperatorMetrics {
  const registry = new Registry();
  const now = opts.now ?? Date.now;
  const duration = new Histogram({
    name: "restash_reconcile_duration_seconds",
    help: "Time to reconcile one object, by kind.",
    labelNames: ["kind"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const errors = new Counter({
    name: "restash_reconcile_errors_total",
    help: "Reconciles that ended in an error, by kind.",
    labelNames: ["kind"],
    registers: [registry],
  });
  let readDepth: () => Record<string, number> = () => ({});
  new Gauge({
    name: "restash_workqueue_depth",
    help: "Keys waiting in a controller's work queue.",
    labelNames: ["kind"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [kind, n] of Object.entries(readDepth())) this.set({ kind }, n);
    },
  });

  // Cluster state read at scrape time, at most once per cacheMs for all the gauges below.
  let cache:
    { at: number; data: Promise<{ fresh: BackupFreshness[]; sources: PolicySource[]; sessions: BackupSession[]; restores: RestoreSession[] }> } | undefined;
  const state = () => {
    if (!cache || now() - cache.at > (opts.cacheMs ?? 15_000)) {
      const data = (async () => {
        const list = <T extends AnyObject>(apiVersion: string, kind: string) =>
          kube.list<T>(apiVersion, kind).then(
            (l) => l.items,
            () => [] as T[],
          );
        const [configs, batches, sessions, sources, restores] = await Promise.all([
          list<BackupInvoker>("stash.appscode.com/v1beta1", "BackupConfiguration"),
          list<BackupInvoker>("stash.appscode.com/v1beta1", "BackupBatch"),
          list<BackupSession>("stash.appscode.com/v1beta1", "BackupSession"),
          list<PolicySource>("restash.dev/v1alpha1", "PolicySource"),
          list<RestoreSession>("stash.appscode.com/v1beta1", "RestoreSession"),
        ]);
        // Listed items carry no kind: it is set from the list asked for.
        const invokers = [
          ...configs.map((c) => ({ ...c, kind: "BackupConfiguration" }) as BackupInvoker),
          ...batches.map((b) => ({ ...b, kind: "BackupBatch" }) as BackupInvoker),
        ];
        return { fresh: backupFreshness(invokers, sessions), sources, sessions, restores };
      })();
      cache = { at: now(), data };
    }
    return cache.data;
  };
  const bcGauge = (name: string, help: string, pick: (f: BackupFreshness) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ["namespace", "name", "kind"],
      registers: [registry],
      async collect() {
        this.reset();
        for (const f of (await state()).fresh) {
          const v = pick(f);
          if (v !== undefined) this.set({ namespace: f.namespace, name: f.name, kind: f.kind }, v);
        }
      },
    });
  bcGauge(
    "restash_backupconfiguration_last_success_timestamp_seconds",
    "Creation time of the newest Succeeded BackupSession (0: never).",
    (f) => f.lastSuccess,
  );
  bcGauge(
    "restash_backupconfiguration_last_failure_timestamp_seconds",
    "Creation time of the newest Failed BackupSession (0: never); above the last success while the latest backup failed.",
    (f) => f.lastFailure,
  );
  bcGauge("restash_backupconfiguration_schedule_interval_seconds", "Seconds between two runs of the configuration's schedule.", (f) => f.interval);
  bcGauge("restash_backupconfiguration_paused", "1 while spec.paused is true.", (f) => (f.paused ? 1 : 0));
  bcGauge("restash_backupconfiguration_created_timestamp_seconds", "Creation time of the BackupConfiguration.", (f) => f.created);

  const sessionCounter = <T extends BackupSession | RestoreSession>(
    name: string,
    help: string,
    pick: (s: Awaited<ReturnType<typeof state>>) => T[],
    invokerOf: (o: T) => string,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ["namespace", "invoker", "phase"],
      registers: [registry],
      async collect() {
        this.reset();
        for (const o of pick(await state())) {
          const phase = o.status?.phase;
          if (phase !== "Succeeded" && phase !== "Failed" && phase !== "Skipped") continue;
          this.inc({ namespace: o.metadata.namespace!, invoker: invokerOf(o), phase });
        }
      },
    });
  // Gauges over the sessions still in the API server, for dashboards (history is bounded by
  // backupHistoryLimit, so they drop when old sessions go: alerts use the timestamps instead).
  sessionCounter(
    "restash_backupsessions_completed_total",
    "Completed BackupSessions present in the cluster, by phase.",
    (s) => s.sessions,
    (o) => o.spec?.invoker?.name ?? "",
  );
  sessionCounter(
    "restash_restoresessions_completed_total",
    "Completed RestoreSessions present in the cluster, by phase.",
    (s) => s.restores,
    (o) => o.metadata.name!,
  );
  new Gauge({
    name: "restash_restoresession_failed_timestamp_seconds",
    help: "When a RestoreSession failed (its newest condition transition, else its creation), per Failed RestoreSession.",
    labelNames: ["namespace", "name"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const o of (await state()).restores) {
        if (o.status?.phase !== "Failed") continue;
        const times = [String(o.metadata.creationTimestamp), ...(o.status?.conditions ?? []).map((c) => String(c.lastTransitionTime))]
          .map((t) => Date.parse(t) / 1000)
          .filter((t) => !Number.isNaN(t));
        if (times.length) this.set({ namespace: o.metadata.namespace!, name: o.metadata.name! }, Math.max(...times));
      }
    },
  });

  const sourceGauge = (name: string, help: string, pick: (o: PolicySource) => number | undefined, extra: string[] = []) =>
    new Gauge({
      name,
      help,
      labelNames: ["namespace", "name", ...extra],
      registers: [registry],
      async collect() {
        this.reset();
        for (const o of (await state()).sources) {
          const v = pick(o);
          if (v === undefined) continue;
          const labels: Record<string, string> = { namespace: o.metadata.namespace!, name: o.metadata.name! };
          if (extra.includes("revision")) labels.revision = o.status?.lastAppliedRevision ?? "";
          this.set(labels, v);
        }
      },
    });
  const ready = (o: PolicySource) => (o.status?.conditions ?? []).find((c) => c.type === "Ready");
  sourceGauge("restash_policysource_ready", "1 when the source's last sync applied its revision.", (o) => (ready(o)?.status === "True" ? 1 : 0));
  sourceGauge("restash_policysource_revision_info", "The revision last applied, as a label.", (o) => (o.status?.lastAppliedRevision ? 1 : undefined), [
    "revision",
  ]);
  sourceGauge("restash_policysource_last_applied_timestamp_seconds", "When the source last became Ready.", (o) => {
    const r = ready(o);
    return r?.status === "True" && r.lastTransitionTime ? Date.parse(r.lastTransitionTime) / 1000 : undefined;
  });
  sourceGauge("restash_policysource_interval_seconds", "The source's sync interval.", (o) => {
    try {
      return parseDuration(o.spec?.interval) / 1000;
    } catch {
      return undefined;
    }
  });

  return {
    registry,
    async observe(kind, fn) {
      const end = duration.startTimer({ kind });
      try {
        return await fn();
      } catch (e) {
        errors.inc({ kind });
        throw e;
      } finally {
        end();
      }
    },
    setQueueDepth(read) {
      readDepth = read;
    },
  };
}
