// `restash plan`: what a set of policy files would do, against the cluster (server-side dry-run
// apply as the source's service account, diffed against the live objects) or against the same
// files at another Git revision (offline).
import type { Kube } from "../lib/kube/client.ts";
import type { KubeObject, RenderedObject } from "./model.ts";
import { inventoryId, objectName } from "./model.ts";
import { planApply } from "./apply-plan.ts";
import { staleEntries, parseInventoryId, type InventoryEntry } from "./inventory.ts";
import { diffFields, normalizeForDiff, type PlanEntry } from "./plan-diff.ts";
import { POLICY_SOURCE_API, POLICY_SOURCE_KIND, type PolicySource } from "./policy-source.ts";
import type { SourceKey } from "./tracking.ts";
import { PRUNABLE_ANNOTATION } from "./render-policy.ts";

export interface ClusterPlanOptions {
  source: SourceKey;
  /** Dry-run as the PolicySource's service account (default true), as the sync would apply. */
  impersonate?: boolean;
}

export async function planAgainstCluster(kube: Kube, rendered: RenderedObject[], opts: ClusterPlanOptions): Promise<PlanEntry[]> {
  const src = await kube.getOrNull<PolicySource>(POLICY_SOURCE_API, POLICY_SOURCE_KIND, opts.source.name, opts.source.namespace);
  const sa = src?.spec.serviceAccountName;
  const actAs =
    opts.impersonate !== false && sa
      ? kube.impersonate(`system:serviceaccount:${opts.source.namespace}:${sa}`, [
          "system:serviceaccounts",
          `system:serviceaccounts:${opts.source.namespace}`,
          "system:authenticated",
        ])
      : kube;
  const plan = await planApply(actAs, rendered, { source: opts.source, revision: src?.status?.lastAppliedRevision ?? "plan" });
  const entries: PlanEntry[] = plan.map((p) => {
    const base = { ref: p.ref, file: p.file };
    if (p.action === "unchanged") return { ...base, action: "unchanged" };
    if (p.action === "create") return { ...base, action: "create" };
    if (p.action === "conflict") return { ...base, action: "conflict", message: p.message };
    if (p.action === "failed") return { ...base, action: "error", message: p.message };
    const changes = diffFields(normalizeForDiff(p.live), normalizeForDiff(p.dryRun));
    return changes.length
      ? { ...base, action: "change", changes, ...(p.action === "drift" ? { message: "restores a change made outside Git" } : {}) }
      : { ...base, action: "unchanged" };
  });
  if (src && src.spec.prune !== false) {
    const next: InventoryEntry[] = plan.map((p) => ({ id: p.id, v: "" }));
    for (const e of staleEntries(src.status?.inventory?.entries ?? [], next)) {
      const { namespace, name, kind } = parseInventoryId(e.id);
      const ref = `${kind} ${namespace ? `${namespace}/` : ""}${name}`;
      entries.push(
        kind === "Repository" && e.prunable === false
          ? { action: "keep", ref, file: e.file, message: "Repository left Git; kept (not prunable)" }
          : { action: "prune", ref, file: e.file },
      );
    }
  }
  return entries;
}

/** Offline: the objects of the files now against the objects of the same files at another revision. */
export function planAgainstObjects(before: RenderedObject[], after: RenderedObject[]): PlanEntry[] {
  const old = new Map(before.map((o) => [inventoryId(o.object), o]));
  const entries: PlanEntry[] = [];
  const seen = new Set<string>();
  for (const o of after) {
    const id = inventoryId(o.object);
    seen.add(id);
    const prev = old.get(id);
    const ref = objectName(o.object);
    if (!prev) entries.push({ action: "create", ref, file: o.file });
    else {
      const changes = diffFields(normalizeForDiff(prev.object), normalizeForDiff(o.object));
      entries.push(changes.length ? { action: "change", ref, file: o.file, changes } : { action: "unchanged", ref, file: o.file });
    }
  }
  for (const [id, o] of old) {
    if (seen.has(id)) continue;
    const keep = o.object.kind === "Repository" && (o.object as KubeObject).metadata.annotations?.[PRUNABLE_ANNOTATION] !== "true";
    entries.push(
      keep
        ? { action: "keep", ref: objectName(o.object), file: o.file, message: "Repository left Git; kept (not prunable)" }
        : { action: "prune", ref: objectName(o.object), file: o.file },
    );
  }
  return entries;
}
