// The inventory: what a PolicySource applied from its last good revision, kept in
// status.inventory.entries (Flux's shape). Prune works from the difference of two inventories.
import type { InventoryEntry } from "../schema/types.generated.ts";

/** One applied object: id <namespace>_<name>_<group>_<kind>, v its API version; prunable false for a Repository whose policy did not allow pruning it. */
export type { InventoryEntry };

export interface ParsedId {
  namespace: string;
  name: string;
  group: string;
  kind: string;
}

export function parseInventoryId(id: string): ParsedId {
  // Names and namespaces are DNS labels/subdomains (no "_"), groups contain no "_" either.
  const [namespace, name, group, kind] = id.split("_");
  return { namespace, name, group, kind };
}

export function apiVersionOf(e: InventoryEntry): string {
  const { group } = parseInventoryId(e.id);
  return group ? `${group}/${e.v}` : e.v;
}

/** Entries of `previous` that `next` no longer has, in reverse apply order (BackupConfigurations before Repositories). */
export function staleEntries(previous: InventoryEntry[], next: InventoryEntry[]): InventoryEntry[] {
  const keep = new Set(next.map((e) => e.id));
  const rank = (e: InventoryEntry) => (parseInventoryId(e.id).kind === "Repository" ? 1 : 0);
  return previous.filter((e) => !keep.has(e.id)).sort((a, b) => rank(a) - rank(b) || (a.id < b.id ? -1 : 1));
}
