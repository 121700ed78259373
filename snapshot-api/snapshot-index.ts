// The per-repository snapshot index behind list and get: one restic listing per repository, reused
// until something says it changed. It reloads when the Repository's spec or backup status changes
// (the backup path writes lastBackupTime after every backup), when its storage Secret changes
// (a rotated password, new credentials or CA: secretChanged(), fed by a watch), when invalidate()
// is called (after a backup or a forget), and on a timer; a listing that failed is retried after a
// short pause so an unreachable backend is not hammered. Concurrent readers of a stale entry share
// one reload.
import type { Repository } from "../schema/types.generated.ts";
import { stableJson } from "../stash/names.ts";
import type { ResticSnapshotJson } from "./snapshot-object.ts";

export interface SnapshotIndexOptions {
  load: (repo: Repository) => Promise<ResticSnapshotJson[]>;
  now?: () => number;
  /** A listing older than this is reloaded on the next read; the timer refreshes known entries at this period. */
  maxAgeMs?: number;
  /** How long a failed listing is answered from the failure before trying again. */
  errorRetryMs?: number;
  /** restic listings running at once (a cold list of many repositories queues behind this). */
  concurrency?: number;
  onError?: (repo: string, e: unknown) => void;
}

interface Entry {
  repo: Repository;
  fingerprint: string;
  loadedAt: number;
  stale: boolean;
  snapshots?: ResticSnapshotJson[];
  error?: unknown;
  loading?: Promise<ResticSnapshotJson[]>;
}

const keyOf = (ns: string, name: string) => `${ns}/${name}`;
const secretKeyOf = (repo: Repository) => keyOf(repo.metadata.namespace!, repo.spec?.backend?.storageSecretName ?? "");

/** What, in a Repository, means its snapshots may have changed. */
export function repositoryFingerprint(repo: Repository): string {
  const s = repo.status ?? {};
  return stableJson({
    uid: repo.metadata.uid,
    backend: repo.spec?.backend,
    lastBackupTime: s.lastBackupTime,
    snapshotCount: s.snapshotCount,
    removed: s.snapshotsRemovedOnLastCleanup,
  });
}

export class SnapshotIndex {
  private readonly entries = new Map<string, Entry>();
  /** The resourceVersion of each storage Secret as the listings last read it (see secretRead). */
  private readonly secretVersions = new Map<string, string>();
  private readonly opts: Required<Omit<SnapshotIndexOptions, "onError">> & Pick<SnapshotIndexOptions, "onError">;
  private timer?: NodeJS.Timeout;
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(opts: SnapshotIndexOptions) {
    // Options given as undefined keep their defaults.
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as SnapshotIndexOptions;
    this.opts = { now: Date.now, maxAgeMs: 5 * 60_000, errorRetryMs: 5_000, concurrency: 8, ...given };
  }

  /** The snapshots of a Repository, from the index when it is current. Throws the listing's error. */
  async snapshotsOf(repo: Repository): Promise<ResticSnapshotJson[]> {
    const key = keyOf(repo.metadata.namespace!, repo.metadata.name!);
    const fp = repositoryFingerprint(repo);
    let e = this.entries.get(key);
    if (!e) {
      e = { repo, fingerprint: fp, loadedAt: 0, stale: true };
      this.entries.set(key, e);
    }
    if (e.fingerprint !== fp) {
      e.fingerprint = fp;
      e.repo = repo;
      e.stale = true;
      return this.reload(e);
    }
    // Stale: someone changed the repository through restash; wait for the listing that follows.
    if (e.stale) return e.loading ?? this.reload(e);
    const age = this.opts.now() - e.loadedAt;
    if (e.snapshots) {
      // Only old: answer now, refresh behind.
      if (age >= this.opts.maxAgeMs && !e.loading) this.reload(e).catch(() => {});
      return e.snapshots;
    }
    if (e.loading) return e.loading;
    if (age < this.opts.errorRetryMs) throw e.error;
    return this.reload(e);
  }

  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.opts.concurrency) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private reload(e: Entry): Promise<ResticSnapshotJson[]> {
    const repo = e.repo;
    const p: Promise<ResticSnapshotJson[]> = this.limited(() => this.opts.load(repo)).then(
      (snaps) => {
        if (e.loading === p) {
          e.snapshots = snaps;
          e.error = undefined;
          e.loadedAt = this.opts.now();
          e.loading = undefined;
          e.stale = false;
        }
        return snaps;
      },
      (err) => {
        if (e.loading === p) {
          e.error = err;
          e.snapshots = undefined;
          e.loadedAt = this.opts.now();
          e.loading = undefined;
          e.stale = false;
          this.opts.onError?.(keyOf(repo.metadata.namespace!, repo.metadata.name!), err);
        }
        throw err;
      },
    );
    e.loading = p;
    return p;
  }

  /**
   * Marks a Repository's listing stale (call it after a backup or a forget). When the index already
   * knows the Repository it reloads in the background at once, so the next read is warm.
   */
  invalidate(namespace: string, name: string): void {
    const e = this.entries.get(keyOf(namespace, name));
    if (!e) return;
    e.stale = true;
    this.reload(e).catch(() => {});
  }

  /**
   * The listing source read a storage Secret at this resourceVersion (it reads the Secret for every
   * listing). With it, secretChanged() can tell a real change from a watch re-listing what it saw.
   */
  secretRead(namespace: string, name: string, resourceVersion: string | undefined): void {
    if (resourceVersion) this.secretVersions.set(keyOf(namespace, name), resourceVersion);
  }

  /**
   * A storage Secret was created, changed (resourceVersion) or deleted (undefined). Every Repository
   * using it whose listing was made with another version, or before it existed, is marked stale
   * and reloaded in the background, like invalidate(); a version the listings already used changes
   * nothing. Returns the Repositories marked.
   */
  secretChanged(namespace: string, name: string, resourceVersion: string | undefined): string[] {
    const key = keyOf(namespace, name);
    const users = [...this.entries.entries()].filter(([, e]) => secretKeyOf(e.repo) === key);
    if (users.length === 0) {
      this.secretVersions.delete(key);
      return [];
    }
    if (resourceVersion !== undefined && this.secretVersions.get(key) === resourceVersion) return [];
    this.secretVersions.delete(key);
    for (const [, e] of users) {
      e.stale = true;
      this.reload(e).catch(() => {});
    }
    return users.map(([k]) => k);
  }

  /** Drops a Repository (it was deleted). */
  forget(namespace: string, name: string): void {
    this.entries.delete(keyOf(namespace, name));
  }

  /**
   * Lists the Repositories given, a few at a time, so the first reads after a start are answered
   * from memory (docs/decisions/snapshot-index-warm.md). A listing that fails is kept as the entry's
   * error, as any read would keep it; warming never throws.
   */
  async warm(repos: Repository[]): Promise<void> {
    const queue = [...repos];
    const worker = async () => {
      for (let r = queue.shift(); r; r = queue.shift()) await this.snapshotsOf(r).catch(() => {});
    };
    await Promise.all(Array.from({ length: this.opts.concurrency }, worker));
  }

  /** Reloads every known listing, a few at a time. */
  async refreshAll(): Promise<void> {
    const queue = [...this.entries.values()];
    const worker = async () => {
      for (let e = queue.shift(); e; e = queue.shift()) await this.reload(e).catch(() => {});
    };
    await Promise.all(Array.from({ length: this.opts.concurrency }, worker));
  }

  /** Refreshes on a timer until stop(). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.refreshAll(), this.opts.maxAgeMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  get size(): number {
    return this.entries.size;
  }
}
