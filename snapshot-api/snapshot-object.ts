// A restic snapshot as a Stash Snapshot object (pure): name `<repo>-<short id>`, uid = the full
// restic id, creationTimestamp = the snapshot time, labels `repository` and `hostname` (on top of
// the Repository's own labels, so selectors on them always mean what they say), and Stash's status.
import type { V1ObjectMeta } from "@kubernetes/client-node";
import { GROUP_VERSION, KIND } from "./api-group.ts";
import { snapshotName } from "./names.ts";

/** The fields of one entry of `restic snapshots --json` that the Snapshot API uses. */
export interface ResticSnapshotJson {
  id: string;
  time: string;
  tree: string;
  paths: string[];
  hostname: string;
  username?: string;
  uid?: number;
  gid?: number;
  tags?: string[] | null;
  summary?: { total_bytes_processed?: number; total_files_processed?: number; data_added?: number };
}

/** Stash's Snapshot status: what restic knows of the snapshot. */
export interface SnapshotStatus {
  tree: string;
  paths: string[];
  hostname: string;
  username: string;
  uid: number;
  gid: number;
  tags?: string[];
  repository: string;
}

/** A Snapshot (repositories.stash.appscode.com/v1alpha1) as the API serves it. */
export type Snapshot = {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta;
  status: SnapshotStatus;
};

export interface RepositoryRef {
  namespace: string;
  name: string;
  labels?: Record<string, string>;
}

/** RFC 3339 in UTC, to the second, as metav1.Time serialises. */
export function kubeTime(t: string): string {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return t;
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function snapshotObject(repo: RepositoryRef, s: ResticSnapshotJson): Snapshot {
  const status: SnapshotStatus = {
    tree: s.tree,
    paths: s.paths ?? [],
    hostname: s.hostname,
    username: s.username ?? "",
    uid: s.uid ?? 0,
    gid: s.gid ?? 0,
    ...(s.tags && s.tags.length > 0 ? { tags: s.tags } : {}),
    repository: repo.name,
  };
  return {
    apiVersion: GROUP_VERSION,
    kind: KIND,
    metadata: {
      name: snapshotName(repo.name, s.id),
      namespace: repo.namespace,
      uid: s.id,
      creationTimestamp: kubeTime(s.time) as unknown as Date,
      labels: { ...(repo.labels ?? {}), repository: repo.name, hostname: s.hostname },
    },
    status,
  };
}
