// Leader election on a coordination.k8s.io Lease, as client-go's leaderelection runs it (Flux's
// --enable-leader-election wraps that): the holder renews every retry period; a standby takes the
// Lease once the holder has not renewed for a lease duration, measured on the standby's own clock
// from when it last saw the record change (so a skewed clock on either side cannot shorten it); a
// leader that cannot renew within the renew deadline, or sees another holder, stops at once, so
// there are never two writers. A standby also watches the Lease, so a holder that releases it on
// shutdown is replaced within a request, not a retry period.
import type { V1ObjectMeta } from "@kubernetes/client-node";
import type { Kube } from "./kube/client.ts";
import { ApiError } from "./kube/client.ts";
import { errorMessage } from "./errors.ts";
import { silentLogger, type Logger } from "./logger.ts";

/** A coordination.k8s.io/v1 Lease as JSON (its times are RFC 3339 micro-time strings, not client-node's Dates). */
export type Lease = {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta;
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
};

export interface LeaderElectionOptions {
  kube: Kube;
  namespace: string;
  /** The Lease's name (one per operator deployment). */
  name: string;
  /** This replica's identity (its pod name); written as holderIdentity. */
  identity: string;
  /** How long a holder that stopped renewing keeps the Lease. Flux: 35 s. */
  leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before it gives up leading. Flux: 30 s. */
  renewDeadlineMs?: number;
  /** Between two tries to acquire or renew. Flux: 5 s. */
  retryPeriodMs?: number;
  /** On stop, hand the Lease over (empty holder) instead of letting it expire. */
  releaseOnCancel?: boolean;
  now?: () => number;
  log?: Logger;
  onStartedLeading(): void;
  /** Called once per term, with why it ended: released, lost to another holder, renew deadline passed. */
  onStoppedLeading(reason: string): void;
}

export interface LeaderElector {
  readonly leading: boolean;
  /** The holder this replica last saw ("" when nobody holds it). */
  readonly holder: string;
  /** Stops trying; a leader releases the Lease first when releaseOnCancel is set. */
  stop(): Promise<void>;
}

const API = "coordination.k8s.io/v1";
const microTime = (ms: number) => new Date(ms).toISOString().replace("Z", "000Z");

export function startLeaderElection(o: LeaderElectionOptions): LeaderElector {
  const leaseMs = o.leaseDurationMs ?? 35_000;
  const renewDeadlineMs = o.renewDeadlineMs ?? 30_000;
  const retryMs = o.retryPeriodMs ?? 5_000;
  const now = o.now ?? Date.now;
  const log = (o.log ?? silentLogger()).child({ lease: `${o.namespace}/${o.name}`, identity: o.identity });
  const path = `/apis/coordination.k8s.io/v1/namespaces/${o.namespace}/leases`;

  let stopped = false;
  let leading = false;
  let lastRenew = 0;
  /** The record as last seen, and when (this replica's clock) it was seen to change. */
  let seen: { resourceVersion?: string; holder: string; durationMs: number; observedAt: number } = { holder: "", durationMs: leaseMs, observedAt: 0 };
  let wake: () => void = () => {};
  let watch: AbortController | undefined;

  const observe = (lease: Lease) => {
    const rv = lease.metadata.resourceVersion;
    if (rv !== seen.resourceVersion) {
      seen = {
        resourceVersion: rv,
        holder: lease.spec?.holderIdentity ?? "",
        durationMs: (lease.spec?.leaseDurationSeconds ?? leaseMs / 1000) * 1000,
        observedAt: now(),
      };
    }
  };

  const record = (prev: Lease | null, holder: string, durationMs: number) => {
    const t = microTime(now());
    const same = prev?.spec?.holderIdentity === holder;
    return {
      apiVersion: API,
      kind: "Lease",
      metadata: { name: o.name, namespace: o.namespace, ...(prev ? { resourceVersion: prev.metadata.resourceVersion } : {}) },
      spec: {
        holderIdentity: holder,
        leaseDurationSeconds: Math.max(1, Math.round(durationMs / 1000)),
        acquireTime: same && prev?.spec?.acquireTime ? prev.spec.acquireTime : t,
        renewTime: t,
        leaseTransitions: (prev?.spec?.leaseTransitions ?? 0) + (prev && !same && holder ? 1 : 0),
      },
    };
  };

  /** One try: true when this replica holds the Lease afterwards. */
  async function tryAcquireOrRenew(): Promise<boolean> {
    const current = await o.kube.getOrNull<Lease>(API, "Lease", o.name, o.namespace);
    if (!current) {
      const created = await o.kube.request<Lease>(path, { method: "POST", body: record(null, o.identity, leaseMs) });
      observe(created);
      return true;
    }
    observe(current);
    if (seen.holder && seen.holder !== o.identity && now() < seen.observedAt + seen.durationMs) return false;
    const updated = await o.kube.request<Lease>(`${path}/${o.name}`, { method: "PUT", body: record(current, o.identity, leaseMs) });
    observe(updated);
    return true;
  }

  const stopLeading = (reason: string) => {
    if (!leading) return;
    leading = false;
    log.warn("stopped leading", { reason });
    o.onStoppedLeading(reason);
  };

  async function loop() {
    while (!stopped) {
      let held = false;
      try {
        held = await tryAcquireOrRenew();
      } catch (e) {
        // A conflict means another replica wrote first: read again next round. Anything else (the API
        // server unreachable) counts against the renew deadline.
        if (!(e instanceof ApiError && e.code === 409)) log.info("lease not acquired or renewed", { err: errorMessage(e) });
      }
      if (stopped) break;
      if (held) {
        lastRenew = now();
        if (!leading) {
          leading = true;
          log.info("started leading");
          o.onStartedLeading();
        }
      } else if (leading) {
        if (seen.holder && seen.holder !== o.identity) stopLeading(`the Lease is held by ${seen.holder}`);
        else if (now() - lastRenew > renewDeadlineMs) stopLeading(`not renewed within the renew deadline (${renewDeadlineMs} ms)`);
      }
      await new Promise<void>((res) => {
        const timer = setTimeout(res, retryMs);
        wake = () => {
          clearTimeout(timer);
          res();
        };
      });
    }
  }

  /** A standby is told at once when the holder lets go (release, or the Lease deleted). */
  async function watchLease() {
    if (stopped) return;
    const again = () => {
      if (!stopped) setTimeout(() => void watchLease(), retryMs).unref();
    };
    try {
      watch = await o.kube.watch(
        path,
        { fieldSelector: `metadata.name=${o.name}` },
        (type, obj: Lease) => {
          if (type === "DELETED" || (type === "MODIFIED" && !obj.spec?.holderIdentity)) wake();
        },
        again,
      );
    } catch {
      again();
    }
  }

  const running = loop();
  void watchLease();

  return {
    get leading() {
      return leading;
    },
    get holder() {
      return seen.holder;
    },
    async stop() {
      stopped = true;
      watch?.abort();
      wake();
      await running;
      if (leading && o.releaseOnCancel) {
        try {
          const current = await o.kube.getOrNull<Lease>(API, "Lease", o.name, o.namespace);
          if (current?.spec?.holderIdentity === o.identity) await o.kube.request(`${path}/${o.name}`, { method: "PUT", body: record(current, "", 1000) });
        } catch (e) {
          log.info("lease not released; it expires instead", { err: errorMessage(e) });
        }
      }
      stopLeading("stopped");
    },
  };
}
