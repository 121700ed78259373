// Deleting a PolicySource, the way Flux deletes a Kustomization. A finalizer holds the source
// until its inventory is dealt with:
//   prune: true   the objects it applied are deleted as its service account, only those still
//                 labelled as its own; a Repository only when its policy made it prunable (the
//                 others are released: labels dropped), and never with wipeOut on;
//   prune: false  (or suspended) the objects are orphaned: left as they are, tracking labels
//                 included, so a source of the same name adopts them again.
// A failed delete keeps the finalizer and is retried, unless the service account or the
// namespace is going away (then nothing more can be done: a Warning Event names what was left).
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Kube, KubeObject } from "../../lib/kube/client.ts";
import { isNotFound } from "../../lib/kube/client.ts";
import { setHealth } from "../../lib/conditions.ts";
import { errorMessage } from "../../lib/errors.ts";
import { staleEntries } from "../../policies/inventory.ts";
import { pruneStale, type PruneOutcome } from "./prune.ts";
import { sourceEvent } from "./source-events.ts";
import { writeSourceStatus } from "./status-write.ts";
import { POLICY_SOURCE_API, POLICY_SOURCE_FINALIZER, POLICY_SOURCE_KIND, type PolicySource } from "../../policies/policy-source.ts";
import type { SourceKey } from "../../policies/tracking.ts";
import type { SyncDeps } from "./sync-deps.ts";

const RETRY_MS = 15_000;

async function jsonPatch(kube: Kube, source: PolicySource, ops: unknown[]): Promise<void> {
  const path = await kube.pathOf({
    apiVersion: POLICY_SOURCE_API,
    kind: POLICY_SOURCE_KIND,
    metadata: { name: source.metadata.name, namespace: source.metadata.namespace },
  });
  await kube.request(path, { method: "PATCH", body: ops, contentType: "application/json-patch+json" });
}

/** Adds the finalizer (guarded by resourceVersion: other finalizers are never lost). */
export async function addFinalizer(kube: Kube, source: PolicySource): Promise<void> {
  const list = source.metadata.finalizers ?? [];
  if (list.includes(POLICY_SOURCE_FINALIZER)) return;
  await jsonPatch(kube, source, [
    { op: "test", path: "/metadata/resourceVersion", value: source.metadata.resourceVersion },
    list.length
      ? { op: "add", path: "/metadata/finalizers/-", value: POLICY_SOURCE_FINALIZER }
      : { op: "add", path: "/metadata/finalizers", value: [POLICY_SOURCE_FINALIZER] },
  ]);
  source.metadata.finalizers = [...list, POLICY_SOURCE_FINALIZER];
}

/** Removes the finalizer at the index it has (test-and-remove); absent object or finalizer is fine. */
export async function removeFinalizer(kube: Kube, source: PolicySource): Promise<void> {
  const i = (source.metadata.finalizers ?? []).indexOf(POLICY_SOURCE_FINALIZER);
  if (i < 0) return;
  try {
    await jsonPatch(kube, source, [
      { op: "test", path: `/metadata/finalizers/${i}`, value: POLICY_SOURCE_FINALIZER },
      { op: "remove", path: `/metadata/finalizers/${i}` },
    ]);
  } catch (e) {
    if (isNotFound(e)) return;
    throw e;
  }
}

/** Drops what the controller keeps for a source: built revisions, the clone and its ssh files. */
export async function forgetSource(deps: SyncDeps, key: SourceKey): Promise<void> {
  const k = `${key.namespace}/${key.name}`;
  await deps.withRepoLock(k, async () => {
    for (const m of [deps.memory.builds, deps.memory.notes, deps.memory.repos, deps.memory.repoKeys, deps.memory.checkedOut, deps.memory.files]) m.delete(k);
    deps.memory.actAs.get(k)?.kube.close();
    deps.memory.actAs.delete(k);
    await rm(join(deps.workDir, key.namespace, key.name), { recursive: true, force: true });
  });
}

const count = (outcomes: PruneOutcome[], action: PruneOutcome["action"]) => outcomes.filter((o) => o.action === action).length;

/** Handles a PolicySource that has a deletionTimestamp. */
export async function finalizeSource(deps: SyncDeps, key: SourceKey, source: PolicySource, actAs: () => Kube): Promise<{ requeueAfterMs?: number }> {
  const log = deps.log.child({ policySource: `${key.namespace}/${key.name}` });
  if (!(source.metadata.finalizers ?? []).includes(POLICY_SOURCE_FINALIZER)) {
    await forgetSource(deps, key);
    return {};
  }
  const entries = source.status?.inventory?.entries ?? [];
  const now = deps.now();
  const ids = (list: { id: string }[]) =>
    list
      .slice(0, 10)
      .map((e) => e.id)
      .join(", ") + (list.length > 10 ? ", …" : "");
  let event: { type: "Normal" | "Warning"; reason: string; message: string };

  if (!entries.length) event = { type: "Normal", reason: "Finalized", message: "PolicySource deleted; it had applied nothing" };
  else if (source.spec.suspend || source.spec.prune === false)
    event = {
      type: "Normal",
      reason: "Orphaned",
      message: `PolicySource deleted with ${source.spec.suspend ? "suspend: true" : "prune: false"}: its ${entries.length} object(s) are left in place, tracking labels included`,
    };
  else {
    const sa = source.spec.serviceAccountName;
    const account = await deps.kube.getOrNull<KubeObject>("v1", "ServiceAccount", sa, key.namespace).catch(() => undefined);
    if (account === null) {
      event = {
        type: "Warning",
        reason: "PruneSkipped",
        message: `service account ${key.namespace}/${sa} no longer exists, so nothing could be deleted as it; ${entries.length} object(s) left in place: ${ids(entries)}`,
      };
    } else {
      const outcomes = await pruneStale(
        actAs(),
        staleEntries(
          entries.map((e) => ({ ...e, prunable: e.prunable !== false })),
          [],
        ),
        key,
        { parallelism: deps.parallelism },
      );
      const failed = outcomes.filter((o) => o.action === "failed");
      const summary = `${count(outcomes, "deleted")} deleted, ${count(outcomes, "kept")} Repository(ies) kept and released, ${count(outcomes, "gone")} already gone, ${count(outcomes, "skipped")} no longer this source's`;
      if (failed.length) {
        const ns = await deps.kube.getOrNull<KubeObject>("v1", "Namespace", key.namespace).catch(() => undefined);
        const message = `deleting the objects of the deleted PolicySource: ${failed.length} failed (${failed
          .slice(0, 5)
          .map((f) => f.message)
          .join("; ")}); ${summary}`;
        if (!ns?.metadata.deletionTimestamp) {
          log.warn("pruning a deleted source failed; retrying", { failed: failed.length });
          await sourceEvent(deps.kube, source, { type: "Warning", reason: "PruneFailed", message }, now);
          // The inventory stays: the retry needs it.
          const conditions = setHealth(source.status?.conditions, { health: "Reconciling", reason: "PruneFailed", message }, now, source.metadata.generation);
          await writeSourceStatus(deps.kube, source, { ...source.status, conditions }).catch((e) =>
            log.warn("writing status failed", { error: errorMessage(e) }),
          );
          return { requeueAfterMs: RETRY_MS };
        }
        event = { type: "Warning", reason: "PruneFailed", message: `${message}; the namespace is being deleted, so they are left to it` };
      } else event = { type: "Normal", reason: "Pruned", message: `PolicySource deleted with prune: true: ${summary}` };
    }
  }
  await sourceEvent(deps.kube, source, event, now);
  await removeFinalizer(deps.kube, source);
  await forgetSource(deps, key);
  log.info("finalized", { reason: event.reason, message: event.message });
  return {};
}
