// The inventory: what a PolicySource applied from its last good revision, kept in
// status.inventory.entries (Flux's shape). Prune works from the difference of two inventories.
export interface InventoryEntry {
  /** <namespace>_<name>_<group>_<kind> */
  id: string;
  /** API version */
  v: string;
  file?: string;
  hash?: string;
  /** False for a Repository whose policy did not allow pruning it. */
  prunable?: boolean;
}

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
