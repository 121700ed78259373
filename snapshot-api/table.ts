// The server-side Table kubectl asks for (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`).
import type { Snapshot } from "./snapshot-object.ts";
import { SHORT_ID_LENGTH } from "./names.ts";

export const COLUMNS = [
  { name: "Name", type: "string", format: "name", description: "Name of the snapshot: <repository>-<short id>", priority: 0 },
  { name: "ID", type: "string", format: "", description: "Short restic snapshot id", priority: 0 },
  { name: "Repository", type: "string", format: "", description: "Repository the snapshot is stored in", priority: 0 },
  { name: "Hostname", type: "string", format: "", description: "Host the snapshot was taken for", priority: 0 },
  { name: "Created", type: "string", format: "date-time", description: "When the snapshot was taken (UTC)", priority: 0 },
  { name: "Paths", type: "string", format: "", description: "Backed-up paths", priority: 0 },
  { name: "Size", type: "string", format: "", description: "Bytes the backup processed (restic summary)", priority: 0 },
];

/** restic's 1024-based units, three decimals, as Stash prints sizes. */
export function formatSize(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return "";
  const units = ["KiB", "MiB", "GiB", "TiB"];
  if (bytes < 1024) return `${bytes} B`;
  let v = bytes;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(3)} ${units[u]}`;
}

export type IncludeObject = "None" | "Metadata" | "Object";

export interface TableRowInput {
  object: Snapshot;
  sizeBytes?: number;
}

function rowObject(o: Snapshot, include: IncludeObject): unknown {
  if (include === "None") return undefined;
  if (include === "Object") return o;
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata };
}

export function snapshotTable(rows: TableRowInput[], include: IncludeObject = "Metadata") {
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion: "" },
    columnDefinitions: COLUMNS,
    rows: rows.map(({ object: o, sizeBytes }) => {
      const row: Record<string, unknown> = {
        cells: [
          o.metadata.name,
          String(o.metadata.uid ?? "").slice(0, SHORT_ID_LENGTH),
          o.status?.repository ?? "",
          o.status?.hostname ?? "",
          o.metadata.creationTimestamp ?? "",
          (o.status?.paths ?? []).join(","),
          formatSize(sizeBytes),
        ],
      };
      const obj = rowObject(o, include);
      if (obj !== undefined) row.object = obj;
      return row;
    }),
  };
}

/** Whether the Accept header asks for a meta.k8s.io/v1 (or v1beta1) Table. */
export function wantsTable(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(",").some((part) => {
    const params = part.split(";").map((p) => p.trim());
    return params.includes("as=Table") && params.includes("g=meta.k8s.io");
  });
}
