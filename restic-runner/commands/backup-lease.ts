// Stash serialises the backups of one workload through a Lease `lock-<kind>-<name>-backup`
// (lower-case) in the workload's namespace: several pods of a Deployment share one host name,
// and only the holder backs up. The holder renews while it works and releases at the end; a
// holder that dies stops renewing and another pod takes over once the lease expires.
import type { V1ObjectMeta } from "@kubernetes/client-node";
import type { Kube } from "../../lib/kube/client.ts";

/** A coordination.k8s.io/v1 Lease as JSON carries it (client-node's V1LeaseSpec declares the MicroTimes as Date). */
interface LeaseObject {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta;
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

export const LEASE_SECONDS = 15;

export function backupLeaseName(kind: string, name: string): string {
  return `lock-${kind}-${name}-backup`.toLowerCase().slice(0, 253);
}

const microTime = (ms: number) => new Date(ms).toISOString().replace("Z", "000Z");

export interface HeldLease {
  release(): Promise<void>;
}

/** Takes the lease for `holder`, or returns null when another live holder has it. */
export async function acquireLease(kube: Kube, namespace: string, name: string, holder: string, now: () => number): Promise<HeldLease | null> {
  const body = (rv?: string, transitions = 0) => ({
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name, namespace, ...(rv ? { resourceVersion: rv } : {}) },
    spec: {
      holderIdentity: holder,
      leaseDurationSeconds: LEASE_SECONDS,
      acquireTime: microTime(now()),
      renewTime: microTime(now()),
      leaseTransitions: transitions,
    },
  });
  const path = `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`;
  let lease: LeaseObject;
  try {
    lease = await kube.request<LeaseObject>(path, { method: "POST", body: body() });
  } catch (e) {
    if ((e as { code?: unknown } | undefined)?.code !== 409) throw e;
    const cur = await kube.getOrNull<LeaseObject>("coordination.k8s.io/v1", "Lease", name, namespace);
    if (!cur) return null;
    const renewed = Date.parse(String(cur.spec?.renewTime ?? 0)) || 0;
    const expired = now() > renewed + (cur.spec?.leaseDurationSeconds ?? LEASE_SECONDS) * 1000;
    const free = !cur.spec?.holderIdentity || cur.spec.holderIdentity === holder || expired;
    if (!free) return null;
    try {
      lease = await kube.request<LeaseObject>(`${path}/${name}`, {
        method: "PUT",
        body: body(cur.metadata.resourceVersion, (cur.spec?.leaseTransitions ?? 0) + 1),
      });
    } catch (e2) {
      if ((e2 as { code?: unknown } | undefined)?.code === 409) return null;
      throw e2;
    }
  }
  let current = lease!;
  const timer = setInterval(
    () => {
      const next = { ...current, spec: { ...current.spec, renewTime: microTime(now()) } };
      kube.request<LeaseObject>(`${path}/${name}`, { method: "PUT", body: next }).then(
        (l) => (current = l),
        () => {},
      );
    },
    (LEASE_SECONDS * 1000) / 3,
  );
  timer.unref();
  return {
    async release() {
      clearInterval(timer);
      const cur = await kube.getOrNull<LeaseObject>("coordination.k8s.io/v1", "Lease", name, namespace);
      if (cur?.spec?.holderIdentity !== holder) return;
      await kube
        .request(`${path}/${name}`, { method: "PUT", body: { ...cur, spec: { ...cur.spec, holderIdentity: "", renewTime: microTime(now()) } } })
        .catch(() => {});
    },
  };
}
