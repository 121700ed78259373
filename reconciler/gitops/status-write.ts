// Writing a PolicySource's status with server-side apply, in two parts under two field managers:
// the inventory (thousands of entries for a large repository) and everything else (conditions,
// revisions, the summary). A resync that changes only conditions or the summary then sends a
// couple of kilobytes instead of the whole inventory; each part is written only when it changed.
//
// Migration: a status written by an older restash has the inventory owned by the status manager.
// Applying the status without it would drop it, so the inventory is first applied under its own
// manager (now co-owned), after which the status manager can leave it out.
import type { V1ManagedFieldsEntry } from "@kubernetes/client-node";
import type { Kube } from "../../lib/kube/client.ts";
import { POLICY_SOURCE_API, POLICY_SOURCE_KIND, type PolicySource, type PolicySourceStatus } from "../../policies/policy-source.ts";
import { canonicalJson } from "../../policies/tracking.ts";

export const STATUS_MANAGER = "restash-gitops";
export const INVENTORY_MANAGER = "restash-gitops-inventory";

/** Whether `manager` owns status.inventory on the status subresource (from managedFields). */
function ownsInventory(source: PolicySource, manager: string): boolean {
  // fieldsV1 is the server's field set: {"f:status": {"f:inventory": {...}}}, an open object in client-node.
  const fields = (m: V1ManagedFieldsEntry) => m.fieldsV1 as { "f:status"?: { "f:inventory"?: unknown } } | undefined;
  return (source.metadata.managedFields ?? []).some((m) => m.manager === manager && m.subresource === "status" && !!fields(m)?.["f:status"]?.["f:inventory"]);
}

/** Applies `next` as the source's status; returns whether anything was written. */
export async function writeSourceStatus(kube: Kube, source: PolicySource, next: PolicySourceStatus): Promise<boolean> {
  const { inventory, ...rest } = next;
  const { inventory: prevInventory, ...prevRest } = source.status ?? {};
  const legacy = ownsInventory(source, STATUS_MANAGER);
  const apply = (status: PolicySourceStatus, fieldManager: string) =>
    kube.applyStatus(
      {
        apiVersion: POLICY_SOURCE_API,
        kind: POLICY_SOURCE_KIND,
        metadata: { name: source.metadata.name, namespace: source.metadata.namespace },
        status,
      } satisfies Omit<PolicySource, "spec">,
      { fieldManager },
    );
  let wrote = false;
  if (legacy || canonicalJson(inventory ?? null) !== canonicalJson(prevInventory ?? null)) {
    await apply(inventory ? { inventory } : {}, INVENTORY_MANAGER);
    wrote = true;
  }
  if (legacy || canonicalJson(rest) !== canonicalJson(prevRest)) {
    await apply(rest, STATUS_MANAGER);
    wrote = true;
  }
  return wrote;
}
