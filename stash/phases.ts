// Stash's phase rules, as pure functions of status (stash-behaviour.md 1.4–1.6).
import { getCondition, isFalse, isNotTrueOrFalse, isTrue, type Condition } from "../lib/conditions.ts";
import { C } from "./conditions.ts";
import type { BackupSessionStatus, BackupTargetStatus, RestoreBatchStatus, RestoreMemberStatus, RestoreSessionStatus } from "../schema/types.generated.ts";

// What the phase rules read of a status: its conditions (as lib/conditions.ts builds them, so a
// status being assembled in a reconcile can be judged before it is written), the host count and
// each host's phase. The generated statuses (BackupTargetStatus, ...) are all of this shape.
interface HostPhase {
  hostname?: string;
  phase?: string;
}
interface PhaseRead {
  conditions?: readonly Condition[];
}
interface HostsRead extends PhaseRead {
  /** The target a BackupSession or RestoreBatch entry is about (not read here). */
  ref?: unknown;
  totalHosts?: number | null;
  stats?: readonly HostPhase[];
}
type TargetRead = HostsRead;
type MemberRead = HostsRead;
type SessionRead = PhaseRead & { targets?: readonly TargetRead[] };
type RestoreBatchRead = PhaseRead & { members?: readonly MemberRead[] };

// The generated statuses are what callers pass; checked here once.
type Fits<T extends U, U> = T;
export type _StatusShapes = [
  Fits<BackupTargetStatus, TargetRead>,
  Fits<RestoreMemberStatus, MemberRead>,
  Fits<BackupSessionStatus, SessionRead>,
  Fits<RestoreSessionStatus, HostsRead>,
  Fits<RestoreBatchStatus, RestoreBatchRead>,
];

export type InvokerPhase = "Ready" | "NotReady" | "Invalid";

export function backupInvokerPhase(conditions: Condition[] | undefined, driver = "Restic"): InvokerPhase {
  if (
    driver === "Restic" &&
    (isNotTrueOrFalse(conditions, C.RepositoryFound) ||
      isFalse(conditions, C.RepositoryFound) ||
      isNotTrueOrFalse(conditions, C.BackendSecretFound) ||
      isFalse(conditions, C.BackendSecretFound))
  )
    return "NotReady";
  if (isFalse(conditions, C.ValidationPassed)) return "Invalid";
  if (isTrue(conditions, C.ValidationPassed) && isTrue(conditions, C.CronJobCreated)) return "Ready";
  return "NotReady";
}

export type TargetPhase = "Pending" | "Running" | "Succeeded" | "Failed";

export function backupTargetPhase(target: TargetRead | undefined): TargetPhase {
  const cs = target?.conditions ?? [];
  if (
    isFalse(cs, C.BackupExecutorEnsured) ||
    isFalse(cs, C.PreBackupHookExecutionSucceeded) ||
    isTrue(cs, C.BackupDisrupted) ||
    isFalse(cs, C.PostBackupHookExecutionSucceeded)
  )
    return "Failed";
  if (target?.totalHosts === undefined || target?.totalHosts === null) return "Pending";
  const stats = target.stats ?? [];
  const done = stats.filter((s) => s.phase === "Succeeded" || s.phase === "Failed");
  if (done.length >= target.totalHosts) return done.some((s) => s.phase === "Failed") ? "Failed" : "Succeeded";
  return "Running";
}

export type SessionPhase = "Pending" | "Skipped" | "Running" | "Succeeded" | "Failed" | "Unknown";

export function backupSessionPhase(status: SessionRead | undefined): SessionPhase {
  const cs = status?.conditions ?? [];
  if (isFalse(cs, C.MetricsPushed)) return "Failed";
  if (isTrue(cs, C.BackupSkipped)) return "Skipped";
  if (
    isTrue(cs, C.MetricsPushed) &&
    (isTrue(cs, C.DeadlineExceeded) ||
      isFalse(cs, C.BackupHistoryCleaned) ||
      isFalse(cs, C.GlobalPreBackupHookSucceeded) ||
      isFalse(cs, C.GlobalPostBackupHookSucceeded))
  )
    return "Failed";
  const targets = status?.targets ?? [];
  const phases = targets.map((t) => backupTargetPhase(t));
  if (targets.length === 0 || phases.every((p) => p === "Pending")) return "Pending";
  if (phases.every((p) => p === "Succeeded" || p === "Failed") && isTrue(cs, C.MetricsPushed)) {
    if (
      phases.includes("Failed") ||
      isFalse(cs, C.RetentionPolicyApplied) ||
      isFalse(cs, C.RepositoryMetricsPushed) ||
      isFalse(cs, C.RepositoryIntegrityVerified)
    )
      return "Failed";
    return "Succeeded";
  }
  return "Running";
}

/** Every target done (all `totalTargets` of the invoker, when given), or the deadline passed: time for history cleanup and metrics. */
export function backupSessionCompleted(status: SessionRead | undefined, totalTargets?: number): boolean {
  const cs = status?.conditions ?? [];
  if (isTrue(cs, C.DeadlineExceeded) || isFalse(cs, C.GlobalPreBackupHookSucceeded)) return true;
  const targets = status?.targets ?? [];
  if (targets.length === 0 || targets.length < (totalTargets ?? 0)) return false;
  return targets.every((t) => {
    const p = backupTargetPhase(t);
    return p === "Succeeded" || p === "Failed";
  });
}

export const isFinalSessionPhase = (p: string | undefined) => p === "Succeeded" || p === "Failed" || p === "Skipped" || p === "Unknown";

export type RestorePhase = "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown" | "Invalid";

export function restoreSessionPhase(status: HostsRead | undefined): RestorePhase {
  const cs = status?.conditions ?? [];
  if (isFalse(cs, C.MetricsPushed) || (isTrue(cs, C.MetricsPushed) && isTrue(cs, C.DeadlineExceeded))) return "Failed";
  if (cs.length === 0) return "Pending";
  if (isFalse(cs, C.ValidationPassed)) return "Invalid";
  if (isFalse(cs, C.RestoreExecutorEnsured) || isFalse(cs, C.PreRestoreHookExecutionSucceeded) || isFalse(cs, C.PostRestoreHookExecutionSucceeded)) {
    return isTrue(cs, C.MetricsPushed) ? "Failed" : "Running";
  }
  if (isFalse(cs, C.RepositoryFound) || isFalse(cs, C.BackendSecretFound) || isFalse(cs, C.RestoreTargetFound)) return "Pending";
  const total = status?.totalHosts;
  if (total === undefined || total === null) return "Pending";
  const stats = status?.stats ?? [];
  const done = stats.filter((s) => s.phase === "Succeeded" || s.phase === "Failed" || s.phase === "Unknown");
  if (done.length >= total) {
    if (!getCondition(cs, C.MetricsPushed)) return "Running";
    if (done.some((s) => s.phase === "Unknown")) return "Unknown";
    return done.some((s) => s.phase === "Failed") ? "Failed" : "Succeeded";
  }
  return "Running";
}

export function restoreCompleted(status: HostsRead | undefined): boolean {
  const cs = status?.conditions ?? [];
  if (isTrue(cs, C.DeadlineExceeded) || isFalse(cs, C.RestoreExecutorEnsured)) return true;
  const total = status?.totalHosts;
  if (total === undefined || total === null) return false;
  const stats = status?.stats ?? [];
  return stats.filter((s) => s.phase === "Succeeded" || s.phase === "Failed" || s.phase === "Unknown").length >= total;
}

export type RestoreTargetPhase = "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";

/** A RestoreBatch member's phase (A:pkg/invoker/restore_invoker.go calculateRestoreTargetPhase). */
export function restoreTargetPhase(member: MemberRead | undefined): RestoreTargetPhase {
  const cs = member?.conditions ?? [];
  if (isFalse(cs, C.RestoreExecutorEnsured) || isFalse(cs, C.PreRestoreHookExecutionSucceeded) || isFalse(cs, C.PostRestoreHookExecutionSucceeded))
    return "Failed";
  if (member?.totalHosts === undefined || member?.totalHosts === null || cs.length === 0 || isFalse(cs, C.RestoreTargetFound)) return "Pending";
  const stats = member.stats ?? [];
  const failed = stats.filter((s) => s.phase === "Failed").length;
  const unknown = stats.filter((s) => s.phase === "Unknown").length;
  const done = failed + unknown + stats.filter((s) => s.phase === "Succeeded").length;
  if (done >= member.totalHosts) return unknown > 0 ? "Unknown" : failed > 0 ? "Failed" : "Succeeded";
  return "Running";
}

const restoreTargetDone = (p: RestoreTargetPhase) => p === "Succeeded" || p === "Failed" || p === "Unknown";

/** RestoreBatch phase (A:pkg/invoker/restorebatch.go calculateRestoreBatchPhase); member phases are recomputed from their status. */
export function restoreBatchPhase(status: RestoreBatchRead | undefined, totalTargets: number): RestorePhase {
  const cs = status?.conditions ?? [];
  if (isFalse(cs, C.MetricsPushed)) return "Failed";
  if (
    isTrue(cs, C.MetricsPushed) &&
    (isFalse(cs, C.GlobalPreRestoreHookSucceeded) || isFalse(cs, C.GlobalPostRestoreHookSucceeded) || isTrue(cs, C.DeadlineExceeded))
  )
    return "Failed";
  const members = status?.members ?? [];
  const phases = members.map((m) => restoreTargetPhase(m));
  if (cs.length === 0 || members.length === 0 || phases.every((p) => p === "Pending")) return "Pending";
  if (isFalse(cs, C.RepositoryFound) || isFalse(cs, C.BackendSecretFound)) return "Pending";
  const completed = phases.filter(restoreTargetDone);
  if (completed.length === totalTargets) {
    if (phases.includes("Unknown")) return "Unknown";
    if (phases.includes("Failed")) return "Failed";
    if (isTrue(cs, C.MetricsPushed)) return "Succeeded";
  }
  if (isFalse(cs, C.ValidationPassed)) return "Invalid";
  return "Running";
}

/** Every member done, the deadline passed, or the global preRestore hook failed: time for the global postRestore hook and metrics. */
export function restoreBatchCompleted(status: RestoreBatchRead | undefined, totalTargets: number): boolean {
  const cs = status?.conditions ?? [];
  if (isTrue(cs, C.DeadlineExceeded) || isFalse(cs, C.GlobalPreRestoreHookSucceeded)) return true;
  const members = status?.members ?? [];
  return totalTargets > 0 && members.length >= totalTargets && members.every((m) => restoreTargetDone(restoreTargetPhase(m)));
}

/** Go-style duration, rounded to seconds: "1h2m3s", "45s", "0s". */
export function goDuration(ms: number): string {
  let s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (h) return `${h}h${m}m${s}s`;
  if (m) return `${m}m${s}s`;
  return `${s}s`;
}

/** Parses a Go duration ("1h30m", "90s", "500ms", "2m"); NaN when invalid. */
export function parseGoDuration(s: string | undefined): number {
  if (!s) return NaN;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let consumed = 0;
  for (const m of s.matchAll(re)) {
    total += Number(m[1]) * unit[m[2]];
    consumed += m[0].length;
  }
  return consumed === s.length && consumed > 0 ? total : NaN;
}
