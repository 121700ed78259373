// The PolicySource kind (restash.dev/v1alpha1), as the CRD in schema/crds defines it.
import type { V1ObjectMeta } from "@kubernetes/client-node";
import type * as Generated from "../schema/types.generated.ts";

export const POLICY_SOURCE_API = "restash.dev/v1alpha1";
export const POLICY_SOURCE_KIND = "PolicySource";
/** Set to the new head's sha to accept a force-pushed (rewritten) history once. */
export const ACCEPT_REWRITE_ANNOTATION = "restash.dev/accept-history-rewrite";
/** Held by every PolicySource until its objects are pruned (prune: true) or orphaned (prune: false). */
export const POLICY_SOURCE_FINALIZER = "restash.dev/finalizer";
/** Any new value triggers a reconcile at once (Flux's requestedAt). */
export const REQUESTED_AT_ANNOTATION = "restash.dev/reconcile-requested-at";

export type PolicySourceSpec = Generated.PolicySourceSpec;

/** One sync's counts: restash writes every one of them. */
export type SyncSummary = Generated.SyncSummary & Required<Pick<Generated.SyncSummary, "applied" | "unchanged" | "pruned" | "failed" | "driftCorrected">>;

/** The status as restash writes it: the whole inventory, summary and drift record each time. */
export type PolicySourceStatus = Omit<Generated.PolicySourceStatus, "inventory" | "lastSyncSummary" | "lastDriftCorrection"> & {
  inventory?: { entries: Generated.InventoryEntry[] };
  lastSyncSummary?: SyncSummary;
  lastDriftCorrection?: Required<NonNullable<Generated.PolicySourceStatus["lastDriftCorrection"]>>;
};

/** A PolicySource as the API server returns it: a stored object has a name, a namespace and a spec. */
export type PolicySource = Omit<Generated.PolicySource, "metadata" | "spec" | "status"> & {
  metadata: V1ObjectMeta & { name: string; namespace: string };
  spec: PolicySourceSpec;
  status?: PolicySourceStatus;
};

/** "1m30s" -> 90000. Throws on a malformed value (the CRD pattern already refuses most). */
export function parseDuration(s: string | undefined, fallbackMs = 60_000): number {
  if (!s) return fallbackMs;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = s;
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest);
    if (!m) throw new Error(`invalid duration "${s}"`);
    total += Number(m[1]) * units[m[2]];
    rest = rest.slice(m[0].length);
  }
  return total;
}
