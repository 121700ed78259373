// Repository locks. A restic killed with SIGKILL (OOM, node loss, a deleted pod) leaves its lock
// behind and every exclusive operation (forget --prune, check) fails until someone runs
// `restic unlock` by hand: the most reported pain of restic operators. Here a lock whose holder is
// gone is removed and reported; a lock whose holder lives is waited for, within a bound.
//
// A holder is judged by `isHolderAlive` (default: same hostname -> is the pid alive here;
// another hostname -> alive until the lock is older than restic's 30 minute staleness rule,
// since restic refreshes live locks every 5 minutes). A Kubernetes caller passes a predicate
// that looks up the pod named by the lock's hostname.
//
//   listLocks(ctx) -> Promise<LockInfo[]>
//   clearStaleLocks(ctx, opts?) -> Promise<{ removed: LockInfo[]; live: LockInfo[] }>
//   waitForLocks(ctx, opts?) -> Promise<{ removed: LockInfo[]; waitedMs: number }>  (throws RepositoryLockedError)
//   unlockAll(ctx) -> Promise<void>   (`unlock --remove-all`: only for an operator's explicit request)
import { hostname as osHostname } from "node:os";
import { RepositoryLockedError, type LockHolder } from "./errors.ts";
import { runRestic, type ResticContext } from "./run.ts";

export interface LockInfo extends LockHolder {
  username?: string;
}

export interface LockJudgeOptions {
  /** Decides whether the process holding a lock is still running. */
  isHolderAlive?: (lock: LockInfo) => boolean | Promise<boolean>;
  now?: () => Date;
  /** This machine's hostname (default os.hostname()). */
  hostname?: string;
}

const STALE_AFTER_MS = 30 * 60_000;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The default judgement (see the file header). */
export function defaultHolderAlive(opts: { hostname?: string; now?: () => Date } = {}): (lock: LockInfo) => boolean {
  const me = opts.hostname ?? osHostname();
  const now = opts.now ?? (() => new Date());
  return (lock) => {
    if (lock.hostname === me) return pidAlive(lock.pid);
    return now().getTime() - new Date(lock.time).getTime() < STALE_AFTER_MS;
  };
}

export async function listLocks(ctx: ResticContext): Promise<LockInfo[]> {
  const ids = (await runRestic(ctx, ["list", "locks", "--no-lock"])).stdout
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const out: LockInfo[] = [];
  for (const id of ids) {
    try {
      const res = await runRestic(ctx, ["cat", "lock", id, "--no-lock"]);
      const m = JSON.parse(res.stdout) as { time: string; exclusive?: boolean; hostname: string; username?: string; pid: number };
      out.push({ id, time: m.time, exclusive: m.exclusive ?? false, hostname: m.hostname, username: m.username, pid: m.pid });
    } catch {
      // Released between list and cat: not a lock any more.
    }
  }
  return out;
}

/**
 * Removes the locks whose holder is gone and reports them. restic's own `unlock` removes what it
 * considers stale (same host and dead pid, or older than 30 min); locks our predicate judges dead
 * but restic does not (a pod on another node that is gone) go with `unlock --remove-all`, and only
 * when every lock left is judged dead.
 */
export async function clearStaleLocks(ctx: ResticContext, opts: LockJudgeOptions = {}): Promise<{ removed: LockInfo[]; live: LockInfo[] }> {
  const alive = opts.isHolderAlive ?? defaultHolderAlive(opts);
  const locks = await listLocks(ctx);
  if (locks.length === 0) return { removed: [], live: [] };
  const verdicts = await Promise.all(locks.map(async (l) => ({ lock: l, alive: await alive(l) })));
  const dead = verdicts.filter((v) => !v.alive).map((v) => v.lock);
  if (dead.length === 0) return { removed: [], live: locks };
  await runRestic(ctx, ["unlock"]);
  let left = await listLocks(ctx);
  const deadIds = new Set(dead.map((l) => l.id));
  const stillDead = left.filter((l) => deadIds.has(l.id));
  if (stillDead.length > 0 && left.every((l) => deadIds.has(l.id))) {
    await runRestic(ctx, ["unlock", "--remove-all"]);
    left = await listLocks(ctx);
  }
  const leftIds = new Set(left.map((l) => l.id));
  const removed = dead.filter((l) => !leftIds.has(l.id));
  ctx.logger?.info("removed stale restic locks", {
    locks: removed.map((l) => ({ id: l.id.slice(0, 8), hostname: l.hostname, pid: l.pid, exclusive: l.exclusive, time: l.time })),
  });
  return { removed, live: left };
}

export interface WaitForLocksOptions extends LockJudgeOptions {
  /** Only exclusive locks block (a backup); any lock blocks (forget --prune, check). Default true. */
  exclusive?: boolean;
  /** Give up after this long with RepositoryLockedError. Default 60 s. */
  timeoutMs?: number;
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Clears stale locks, then waits until no live lock blocks the operation. Returns what it
 * removed; throws RepositoryLockedError naming the holders after `timeoutMs`.
 */
export async function waitForLocks(ctx: ResticContext, opts: WaitForLocksOptions = {}): Promise<{ removed: LockInfo[]; waitedMs: number }> {
  const exclusive = opts.exclusive ?? true;
  const timeout = opts.timeoutMs ?? 60_000;
  const poll = opts.pollMs ?? 2_000;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const started = Date.now();
  const removed: LockInfo[] = [];
  for (;;) {
    const r = await clearStaleLocks(ctx, opts);
    removed.push(...r.removed);
    const blocking = r.live.filter((l) => exclusive || l.exclusive);
    if (blocking.length === 0) return { removed, waitedMs: Date.now() - started };
    if (Date.now() - started >= timeout) {
      const who = blocking
        .map((l) => `${l.exclusive ? "exclusive " : ""}lock ${l.id.slice(0, 8)} held by pid ${l.pid} on ${l.hostname} since ${l.time}`)
        .join("; ");
      throw new RepositoryLockedError(ctx.backend.redactedRepository, `${who} (waited ${Math.round((Date.now() - started) / 1000)} s)`, blocking);
    }
    await sleep(poll);
  }
}

/** Removes every lock, live or not. Never automatic: a live backup would lose its lock. */
export async function unlockAll(ctx: ResticContext): Promise<void> {
  await runRestic(ctx, ["unlock", "--remove-all"]);
}
