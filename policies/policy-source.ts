// The PolicySource kind (restash.dev/v1alpha1), as the CRD in schema/crds defines it.
import type { Condition } from "../lib/conditions.ts";
import type { InventoryEntry } from "./inventory.ts";

export const POLICY_SOURCE_API = "restash.dev/v1alpha1";
export const POLICY_SOURCE_KIND = "PolicySource";
/** Set to the new head's sha to accept a force-pushed (rewritten) history once. */
export const ACCEPT_REWRITE_ANNOTATION = "restash.dev/accept-history-rewrite";
/** Held by every PolicySource until its objects are pruned (prune: true) or orphaned (prune: false). */
export const POLICY_SOURCE_FINALIZER = "restash.dev/finalizer";
/** Any new value triggers a reconcile at once (Flux's requestedAt). */
export const REQUESTED_AT_ANNOTATION = "restash.dev/reconcile-requested-at";

export interface PolicySourceSpec {
  url?: string;
  branch?: string;
  localPath?: string;
  path?: string;
  interval?: string;
  secretRef?: { name: string };
  serviceAccountName: string;
  suspend?: boolean;
  prune?: boolean;
  maxFileSize?: number;
}

export interface SyncSummary {
  applied: number;
  unchanged: number;
  pruned: number;
  failed: number;
  driftCorrected: number;
  conflicts?: string[];
  drift?: string[];
  errors?: string[];
}

export interface PolicySourceStatus {
  observedGeneration?: number;
  lastAppliedRevision?: string;
  lastAttemptedRevision?: string;
  lastHandledReconcileAt?: string;
  conditions?: Condition[];
  inventory?: { entries: InventoryEntry[] };
  lastSyncSummary?: SyncSummary;
  lastDriftCorrection?: { time: string; revision: string; objects: string[] };
}

export interface PolicySource {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    generation?: number;
    annotations?: Record<string, string>;
    uid?: string;
    resourceVersion?: string;
    finalizers?: string[];
    deletionTimestamp?: string;
  };
  spec: PolicySourceSpec;
  status?: PolicySourceStatus;
}

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
