// What Stash does around the data of every backup (stash-behaviour.md 2.4): initialise the
// repository first (BackendRepositoryInitialized), and after the snapshots apply retention
// (RetentionPolicyApplied), verify integrity (RepositoryIntegrityVerified) and measure the
// Repository. Each outcome becomes a session condition in the step output.
import { errorMessage, redact } from "../../lib/errors.ts";
import { check } from "../../restic/check.ts";
import { forget, retentionArgs, type RetentionPolicy } from "../../restic/forget.ts";
import { ensureRepository } from "../../restic/init.ts";
import type { ResticContext } from "../../restic/run.ts";
import { clearStaleLocks, type LockInfo } from "../../restic/locks.ts";
import { RepositoryNotFoundError } from "../../restic/errors.ts";
import { stats } from "../../restic/stats.ts";
import { boolArg, intArg, listArg, type StepArgs } from "./step-args.ts";
import type { OutputCondition, StepOutput } from "./step-output.ts";
import type { SnapshotNumbers } from "../../stash/metrics.ts";

/** The invoker's retention policy as the Function passes it (RETENTION_* variables). */
export function retentionPolicyOf(args: StepArgs): RetentionPolicy {
  return {
    name: "retention-policy",
    keepLast: intArg(args, "retention-keep-last"),
    keepHourly: intArg(args, "retention-keep-hourly"),
    keepDaily: intArg(args, "retention-keep-daily"),
    keepWeekly: intArg(args, "retention-keep-weekly"),
    keepMonthly: intArg(args, "retention-keep-monthly"),
    keepYearly: intArg(args, "retention-keep-yearly"),
    keepTags: listArg(args["retention-keep-tags"]),
    prune: boolArg(args, "retention-prune"),
    dryRun: boolArg(args, "retention-dry-run"),
  };
}

/** Opens or creates the repository; a failure is recorded and rethrown (nothing can be backed up). */
export async function initializeRepository(restic: ResticContext, conditions: OutputCondition[], secrets: string[]): Promise<void> {
  try {
    await ensureRepository(restic);
    conditions.push({ type: "BackendRepositoryInitialized", status: "True", reason: "BackendRepositoryFound", message: "Repository exist in the backend." });
  } catch (e) {
    conditions.push({
      type: "BackendRepositoryInitialized",
      status: "False",
      reason: "FailedToInitializeBackendRepository",
      message: `Failed to initialize backend repository. Reason: ${redact(errorMessage(e), secrets)}`,
    });
    throw e;
  }
}

/**
 * The runner's pre-backup restic work in one restic call where there is a repository: `list locks`
 * opens it (so it also answers InitializeBackendRepository's "is there one?") and the stale locks
 * are cleared; only a missing repository costs more (it is created when `init`).
 */
export async function openRepositoryClearingLocks(
  restic: ResticContext,
  o: { init: boolean; conditions: OutputCondition[]; secrets: string[]; isHolderAlive: (lock: LockInfo) => boolean | Promise<boolean> },
): Promise<void> {
  try {
    await clearStaleLocks(restic, { isHolderAlive: o.isHolderAlive });
  } catch (e) {
    if (!o.init) throw e;
    // A new repository has no locks; anything else (wrong password, unreachable) is recorded as Stash does.
    if (e instanceof RepositoryNotFoundError) return initializeRepository(restic, o.conditions, o.secrets);
    o.conditions.push({
      type: "BackendRepositoryInitialized",
      status: "False",
      reason: "FailedToInitializeBackendRepository",
      message: `Failed to initialize backend repository. Reason: ${redact(errorMessage(e), o.secrets)}`,
    });
    throw e;
  }
  if (o.init)
    o.conditions.push({ type: "BackendRepositoryInitialized", status: "True", reason: "BackendRepositoryFound", message: "Repository exist in the backend." });
}

/**
 * Retention, integrity check and statistics; each failure is a False condition, not a thrown error.
 * `actions` (a BackupSession target's postBackupActions) limits them: retention only with
 * ApplyRetentionPolicy, the check only with VerifyRepositoryIntegrity. The statistics run beside
 * the check (`stats --no-lock` reads what check's lock leaves untouched), after retention.
 */
export async function postBackupActions(
  restic: ResticContext,
  args: StepArgs,
  conditions: OutputCondition[],
  secrets: string[],
  actions?: readonly string[],
): Promise<StepOutput["repository"]> {
  const repository: NonNullable<StepOutput["repository"]> = {};
  const why = (e: unknown) => redact(errorMessage(e), secrets);
  const policy = retentionPolicyOf(args);
  const asked = (a: string) => !actions || actions.includes(a);
  if (asked("ApplyRetentionPolicy") && retentionArgs(policy).some((f) => f.startsWith("--keep-"))) {
    try {
      const r = await forget(restic, policy);
      repository.snapshotsRemovedOnLastCleanup = r.removed;
      // Without a dry run, what forget kept is what the repository holds: one restic call less.
      if (!policy.dryRun) repository.snapshotCount = r.kept;
      conditions.push({
        type: "RetentionPolicyApplied",
        status: "True",
        reason: "SuccessfullyAppliedRetentionPolicy",
        message: "Successfully applied retention policy.",
      });
    } catch (e) {
      conditions.push({
        type: "RetentionPolicyApplied",
        status: "False",
        reason: "FailedToApplyRetentionPolicy",
        message: `Failed to apply retention policy. Reason: ${why(e)}`,
      });
    }
  }
  const verify = async () => {
    if (!asked("VerifyRepositoryIntegrity")) return;
    try {
      repository.integrity = (await check(restic)).integrity;
      conditions.push(
        repository.integrity
          ? {
              type: "RepositoryIntegrityVerified",
              status: "True",
              reason: "SuccessfullyVerifiedRepositoryIntegrity",
              message: "Repository integrity verification succeeded.",
            }
          : {
              type: "RepositoryIntegrityVerified",
              status: "False",
              reason: "FailedToVerifyRepositoryIntegrity",
              message: "Repository integrity verification failed: restic check found errors.",
            },
      );
    } catch (e) {
      conditions.push({
        type: "RepositoryIntegrityVerified",
        status: "False",
        reason: "FailedToVerifyRepositoryIntegrity",
        message: `Failed to verify repository integrity. Reason: ${why(e)}`,
      });
    }
  };
  const measure = async () => {
    try {
      const st = await stats(restic);
      repository.totalSize = st.totalSizeText;
      repository.sizeBytes = st.totalSize;
      // stats counts the snapshots too: no `snapshots` listing when retention did not count them.
      repository.snapshotCount ??= st.snapshotsCount;
    } catch {
      // Statistics are informative; the backup itself stands.
    }
  };
  await Promise.all([verify(), measure()]);
  return repository;
}

/** A backup's numbers for the host metrics (the shared restic verbs return them beside the stats). */
export function snapshotNumbers(r: {
  totalBytes: number;
  uploadedBytes: number;
  processingSeconds: number;
  snapshot: { fileStats: SnapshotNumbers["fileStats"] };
}): SnapshotNumbers {
  return { totalBytes: r.totalBytes, uploadedBytes: r.uploadedBytes, processingSeconds: r.processingSeconds, fileStats: r.snapshot.fileStats };
}
