// backupHistoryLimit cleanup (stash-behaviour.md 2.7): pure choice of what to delete.
import { isFinalSessionPhase } from "./phases.ts";

/** What the cleanup reads of a BackupSession. */
export interface SessionEntry {
  /** creationTimestamp is the RFC 3339 string the API server sends (client-node declares a Date). */
  metadata: { name?: string; creationTimestamp?: Date | string };
  status?: { phase?: string };
}

const stamp = (s: SessionEntry): string => String(s.metadata.creationTimestamp ?? "");

const newestFirst = (a: SessionEntry, b: SessionEntry) => {
  const ta = stamp(a);
  const tb = stamp(b);
  if (ta !== tb) return ta < tb ? 1 : -1;
  return (a.metadata.name ?? "") < (b.metadata.name ?? "") ? 1 : -1;
};

/** Names of the BackupSessions to delete, given all sessions of one invoker and the limit. */
export function sessionsToDelete(sessions: SessionEntry[], limit: number): string[] {
  const sorted = [...sessions].sort(newestFirst);
  const lastCompleted = sorted.find((s) => s.status?.phase === "Succeeded" || s.status?.phase === "Failed");
  const out: string[] = [];
  sorted.forEach((s, i) => {
    if (i < limit) return;
    if (!isFinalSessionPhase(s.status?.phase)) return;
    if (s === lastCompleted && limit > 0) return;
    out.push(s.metadata.name ?? "");
  });
  return out;
}
