// What one PolicySource controller's syncs share: clients, clock, the clone directory, and the
// memory kept across syncs (built revisions, clones, notes, clients per source). Its own file so
// the sync and the finalizer can both take it without importing each other.
import type { Kube } from "../../lib/kube/client.ts";
import type { Logger } from "../../lib/logger.ts";
import type { BuildResult } from "../../policies/model.ts";
import type { FileCache } from "../../policies/build.ts";
import type { GitRepo } from "./git-source.ts";

export interface SyncDeps {
  kube: Kube;
  log: Logger;
  now: () => Date;
  /** Where clones live: <workDir>/<namespace>/<name>/repo. */
  workDir: string;
  parallelism?: number;
  /** Per-controller memory: built revisions and the last note written, by source key. */
  memory: SyncMemory;
  /** Serialises work on one source's clone (reconcile vs recordBackupResult). */
  withRepoLock: <T>(key: string, fn: () => Promise<T>) => Promise<T>;
}

export interface SyncMemory {
  builds: Map<string, { fingerprint: string; built: BuildResult }>;
  notes: Map<string, string>;
  repos: Map<string, GitRepo>;
  /** Fingerprint (URL + credentials) each clone was opened with. */
  repoKeys: Map<string, string>;
  /** The commit each clone's work tree holds. */
  checkedOut: Map<string, string>;
  /** Per-file parse results of each source's last build. */
  files: Map<string, FileCache>;
  /** The client acting as each source's service account: one connection pool kept across syncs. */
  actAs: Map<string, { user: string; kube: Kube }>;
}

export function newSyncMemory(): SyncMemory {
  return { builds: new Map(), notes: new Map(), repos: new Map(), repoKeys: new Map(), checkedOut: new Map(), files: new Map(), actAs: new Map() };
}
