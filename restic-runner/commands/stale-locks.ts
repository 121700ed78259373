// Stale restic locks left by this host. The runner runs one restic at a time per host (the
// sidecar's queue, a Job's single session), so when it is about to start, any lock recorded
// under this host name belongs to a previous incarnation that was killed (container restart,
// SIGKILL, OOM) and can never be released by its owner. Those are removed; locks of other hosts
// are left alone (restic's own staleness rules apply to them).
import { hostname as osHostname } from "node:os";
import { runRestic, type ResticContext } from "../restic/run.ts";
import type { Logger } from "../../lib/logger.ts";

export interface LockInfo {
  id: string;
  hostname: string;
  pid: number;
  time: string;
  exclusive: boolean;
}

export async function listLocks(ctx: ResticContext): Promise<LockInfo[]> {
  const ids = (await runRestic(ctx, ["list", "locks", "--no-lock"], { keepStdout: true })).stdout.split("\n").map((s) => s.trim()).filter(Boolean);
  const out: LockInfo[] = [];
  for (const id of ids) {
    try {
      const j = JSON.parse((await runRestic(ctx, ["cat", "lock", id, "--no-lock"], { keepStdout: true })).stdout);
      out.push({ id, hostname: j.hostname, pid: j.pid, time: j.time, exclusive: !!j.exclusive });
    } catch {
      // The lock vanished between list and cat: its owner released it.
    }
  }
  return out;
}

/**
 * Removes this host's leftover locks. When every lock is this host's, `unlock --remove-all` does it;
 * otherwise nothing is removed and the caller's restic run reports the live lock. Returns how many.
 */
export async function clearOwnStaleLocks(ctx: ResticContext, log: Logger, host = osHostname()): Promise<number> {
  const locks = await listLocks(ctx);
  if (locks.length === 0) return 0;
  const mine = locks.filter((l) => l.hostname === host);
  if (mine.length === 0) return 0;
  if (mine.length !== locks.length) {
    log.warn("stale locks of this host found beside other hosts' locks; leaving them to restic", { mine: mine.length, total: locks.length });
    return 0;
  }
  await runRestic(ctx, ["unlock", "--remove-all"]);
  log.warn("removed stale restic locks left by a previous run on this host", { locks: mine.map((l) => ({ id: l.id.slice(0, 8), pid: l.pid, time: l.time })) });
  return mine.length;
}
