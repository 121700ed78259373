// Stash's phase rules, as pure functions of status (stash-behaviour.md 1.4–1.6).
import { getCondition, isFalse, isNotTrueOrFalse, isTrue, type Condition } from "../lib/conditions.ts";
import { C } from "./conditions.ts";

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

export function backupTargetPhase(target: any): TargetPhase {
  const cs: Condition[] = target?.conditions ?? [];
  if (
    isFalse(cs, C.BackupExecutorEnsured) ||
    isFalse(cs, C.PreBackupHookExecutionSucceeded) ||
    isTrue(cs, C.BackupDisrupted) ||
    isFalse(cs, C.PostBackupHookExecutionSucceeded)
  )
    return "Failed";
  if (target?.totalHosts === undefined || target?.totalHosts === null) return "Pending";
  const stats: any[] = target.stats ?? [];
  const done = stats.filter((s) => s.phase === "Succeeded" || s.phase === "Failed");
  if (done.length >= target.totalHosts) return done.some((s) => s.phase === "Failed") ? "Failed" : "Succeeded";
  return "Running";
}

export type SessionPhase = "Pending" | "Skipped" | "Running" | "Succeeded" | "Failed" | "Unknown";

export function backupSessionPhase(status: any): SessionPhase {
  const cs: Condition[] = status?.conditions ?? [];
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
  const targets: any[] = status?.targets ?? [];
  const phases = targets.map(backupTargetPhase);
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
export function backupSessionCompleted(status: any, totalTargets?: number): boolean {
  const cs: Condition[] = status?.conditions ?? [];
  if (isTrue(cs, C.DeadlineExceeded) || isFalse(cs, C.GlobalPreBackupHookSucceeded)) return true;
  const targets: any[] = status?.targets ?? [];
  if (targets.length === 0 || targets.length < (totalTargets ?? 0)) return false;
  return targets.every((t) => {
    const p = backupTargetPhase(t);
    return p === "Succeeded" || p === "Failed";
  });
}

export const isFinalSessionPhase = (p: string | undefined) => p === "Succeeded" || p === "Failed" || p === "Skipped" || p === "Unknown";

export type RestorePhase = "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown" | "Invalid";

export function restoreSessionPhase(status: any): RestorePhase {
  const cs: Condition[] = status?.conditions ?? [];
  if (isFalse(cs, C.MetricsPushed) || (isTrue(cs, C.MetricsPushed) && isTrue(cs, C.DeadlineExceeded))) return "Failed";
  if (cs.length === 0) return "Pending";
  if (isFalse(cs, C.ValidationPassed)) return "Invalid";
  if (isFalse(cs, C.RestoreExecutorEnsured) || isFalse(cs, C.PreRestoreHookExecutionSucceeded) || isFalse(cs, C.PostRestoreHookExecutionSucceeded)) {
    return isTrue(cs, C.MetricsPushed) ? "Failed" : "Running";
  }
  if (isFalse(cs, C.RepositoryFound) || isFalse(cs, C.BackendSecretFound) || isFalse(cs, C.RestoreTargetFound)) return "Pending";
  const total = status?.totalHosts;
  if (total === undefined || total === null) return "Pending";
  const stats: any[] = status?.stats ?? [];
  const done = stats.filter((s) => s.phase === "Succeeded" || s.phase === "Failed" || s.phase === "Unknown");
  if (done.length >= total) {
    if (!getCondition(cs, C.MetricsPushed)) return "Running";
    if (done.some((s) => s.phase === "Unknown")) return "Unknown";
    return done.some((s) => s.phase === "Failed") ? "Failed" : "Succeeded";
  }
  return "Running";
}

export function restoreCompleted(status: any): boolean {
  const cs: Condition[] = status?.conditions ?? [];
  if (isTrue(cs, C.DeadlineExceeded) || isFalse(cs, C.RestoreExecutorEnsured)) return true;
  const total = status?.totalHosts;
  if (total === undefined || total === null) return false;
  const stats: any[] = status?.stats ?? [];
  return stats.filter((s) => s.phase === "Succeeded" || s.phase === "Failed" || s.phase === "Unknown").length >= total;
}

export type RestoreTargetPhase = "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";

/** A RestoreBatch member's phase (A:pkg/invoker/restore_invoker.go calculateRestoreTargetPhase). */
export function restoreTargetPhase(member: any): RestoreTargetPhase {
  const cs: Condition[] = member?.conditions ?? [];
  if (isFalse(cs, C.RestoreExecutorEnsured) || isFalse(cs, C.PreRestoreHookExecutionSucceeded) || isFalse(cs, C.PostRestoreHookExecutionSucceeded))
    return "Failed";
  if (member?.totalHosts === undefined || member?.totalHosts === null || cs.length === 0 || isFalse(cs, C.RestoreTargetFound)) return "Pending";
  const stats: any[] = member.stats ?? [];
  const failed = stats.filter((s) => s.phase === "Failed").length;
  const unknown = stats.filter((s) => s.phase === "Unknown").length;
  const done = failed + unknown + stats.filter((s) => s.phase === "Succeeded").length;
  if (done >= member.totalHosts) return unknown > 0 ? "Unknown" : failed > 0 ? "Failed" : "Succeeded";
  return "Running";
}

const restoreTargetDone = (p: RestoreTargetPhase) => p === "Succeeded" || p === "Failed" || p === "Unknown";

/** RestoreBatch phase (A:pkg/invoker/restorebatch.go calculateRestoreBatchPhase); member phases are recomputed from their status. */
export function restoreBatchPhase(status: any, totalTargets: number): RestorePhase {
  const cs: Condition[] = status?.conditions ?? [];
  if (isFalse(cs, C.MetricsPushed)) return "Failed";
  if (
    isTrue(cs, C.MetricsPushed) &&
    (isFalse(cs, C.GlobalPreRestoreHookSucceeded) || isFalse(cs, C.GlobalPostRestoreHookSucceeded) || isTrue(cs, C.DeadlineExceeded))
  )
    return "Failed";
  const members: any[] = status?.members ?? [];
  const phases = members.map(restoreTargetPhase);
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
export function restoreBatchCompleted(status: any, totalTargets: number): boolean {
  const cs: Condition[] = status?.conditions ?? [];
  if (isTrue(cs, C.DeadlineExceeded) || isFalse(cs, C.GlobalPreRestoreHookSucceeded)) return true;
  const members: any[] = status?.members ?? [];
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
