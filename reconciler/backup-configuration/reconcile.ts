// BackupConfiguration and BackupBatch reconcile (stash-behaviour.md 2.2, 1.9): validate, find
// Repository, Secret and every target, ensure the trigger CronJob, inject the sidecar into
// workload targets (the steps of lib/reconcile.ts's skeleton, which writes the conditions, Stash
// phase and kstatus health once, in its `finally`).
// A BackupBatch is the same invoker with one target per member: its target conditions
// (BackupTargetFound, StashSidecarInjected) go to status.memberConditions, the rest to conditions.
import { CronExpressionParser } from "cron-parser";
import type { HealthInput } from "../../lib/conditions.ts";
import { ReconcileError, errorKind, errorMessage, stalled } from "../../lib/errors.ts";
import type { KubeObject } from "../../lib/kube/client.ts";
import { reconciler } from "../../lib/reconcile.ts";
import type { BackupBatchSpec, BackupBatchStatus, BackupConfigurationSpec, Repository, TargetRef } from "../../schema/types.generated.ts";
import { desiredCronJob, desiredCronJobRBAC } from "./cronjob.ts";
import { findBackendSecret, findRepository, findTarget, setCond, usageAllowed, type StepState } from "../invoker/dependencies.ts";
import type { ControllerContext } from "../context.ts";
import { backupInvokerPhase } from "../../stash/phases.ts";
import { C, R } from "../../stash/conditions.ts";
import { FINALIZER, V1BETA1, backupModel } from "../../stash/names.ts";
import { BACKUP_BATCH, isBatch, sameRef, targetsOf, type BackupInvoker, type BackupTargetInfo } from "../../stash/invoker-targets.ts";
import { ensureSidecar, removeSidecarFor } from "../invoker/workload.ts";
import { ensureRunnerBinding, podServiceAccount } from "../invoker/runner-rbac.ts";
import { backupInvokerFor, type Workload } from "../../stash/workload.ts";

const BC = "BackupConfiguration";
const DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

/** Spec checks the CRD schema cannot express; the first problem found, naming the field. */
export function validateBackupInvoker(inv: BackupInvoker): ReconcileError | null {
  const obj = { kind: inv.kind ?? BC, namespace: inv.metadata.namespace, name: inv.metadata.name! };
  const spec: Partial<BackupConfigurationSpec & BackupBatchSpec> = inv.spec ?? {};
  if (!spec.schedule) return stalled(R.ResourceValidationFailed, "a cron schedule is required", { object: obj, field: "spec.schedule" });
  try {
    CronExpressionParser.parse(spec.schedule);
  } catch (e) {
    return stalled(R.ResourceValidationFailed, `${JSON.stringify(spec.schedule)} is not a cron expression (${errorMessage(e)})`, {
      object: obj,
      field: "spec.schedule",
    });
  }
  if (!spec.retentionPolicy) return stalled(R.ResourceValidationFailed, "a retention policy is required", { object: obj, field: "spec.retentionPolicy" });
  if (isBatch(inv.kind) && !((spec.members?.length ?? 0) > 0))
    return stalled(R.ResourceValidationFailed, "a BackupBatch needs at least one member", { object: obj, field: "spec.members" });
  const seen: TargetRef[] = [];
  for (const t of targetsOf(inv)) {
    const ref = t.target?.ref;
    if (
      ref?.namespace &&
      ref.namespace !== inv.metadata.namespace &&
      (ref.kind === "PersistentVolumeClaim" || backupModel(ref.kind, t.task?.name) === "sidecar")
    ) {
      return stalled(R.ResourceValidationFailed, `cross-namespace target reference is not allowed for "${ref.kind}"`, {
        object: obj,
        field: `${t.field}.ref.namespace`,
      });
    }
    // Two members on one target would share one sidecar and one status entry.
    if (ref?.name && seen.some((r) => sameRef(r, ref)))
      return stalled(R.ResourceValidationFailed, `${ref.kind} ${ref.namespace}/${ref.name} is the target of an earlier member`, {
        object: obj,
        field: `${t.field}.ref`,
      });
    if (ref?.name) seen.push(ref);
  }
  if (spec.timeOut !== undefined && !DURATION.test(spec.timeOut)) {
    return stalled(R.ResourceValidationFailed, `${JSON.stringify(spec.timeOut)} is not a duration such as "30m" or "1h30m"`, {
      object: obj,
      field: "spec.timeOut",
    });
  }
  return null;
}

/** What one reconcile of a backup invoker builds up: its own conditions and each target's. */
interface BackupInvokerState {
  st: StepState;
  /** Where each target's conditions go: the invoker's own (BackupConfiguration) or its member's entry (BackupBatch). */
  memberSt: StepState[];
  targets: BackupTargetInfo[];
  driver: string;
}

/** The reconcile of one backup invoker kind: BackupConfiguration or BackupBatch. */
export function backupInvokerReconciler(kind: typeof BC | typeof BACKUP_BATCH) {
  return reconciler<ControllerContext, BackupInvokerState, BackupInvoker>({ apiVersion: V1BETA1, kind, finalizer: FINALIZER, finalize, begin, steps, status });
}

export const reconcileBackupConfiguration = backupInvokerReconciler(BC);
export const reconcileBackupBatch = backupInvokerReconciler(BACKUP_BATCH);

function begin(_ctx: ControllerContext, inv: BackupInvoker, now: Date): BackupInvokerState {
  const st: StepState = { conditions: inv.status?.conditions ?? [], now, generation: inv.metadata.generation };
  const targets = targetsOf(inv);
  const memberSt = targets.map((t) => {
    if (inv.kind !== BACKUP_BATCH) return st;
    const prev = (inv.status?.memberConditions ?? []).find((m) => sameRef(m.target, t.target?.ref, inv.metadata.namespace));
    return { conditions: prev?.conditions ?? [], now, generation: st.generation };
  });
  return { st, memberSt, targets, driver: inv.spec?.driver ?? "Restic" };
}

async function steps(ctx: ControllerContext, inv: BackupInvoker, { st, memberSt, targets, driver }: BackupInvokerState): Promise<void> {
  const { kube } = ctx;
  const kind = inv.kind!;
  const namespace = inv.metadata.namespace!;
  const name = inv.metadata.name!;
  // Validation is recorded first but thrown after the Repository checks, so the phase follows
  // Stash's order (a missing Repository makes it NotReady before an invalid spec makes it Invalid).
  const invalid = validateBackupInvoker(inv);
  if (invalid) setCond(st, C.ValidationPassed, false, R.ResourceValidationFailed, invalid.message);
  let repo: Repository | undefined;
  if (driver === "Restic") {
    repo = await findRepository(kube, st, inv);
    await findBackendSecret(kube, st, inv, repo);
  }
  if (invalid) throw invalid;
  if (driver === "Restic" && repo) {
    if (!(await usageAllowed(kube, repo, namespace))) {
      const msg = `namespace "${namespace}" is not allowed to refer Repository "${repo.metadata.name}" of "${repo.metadata.namespace}" namespace. Please, check the usagePolicy of the Repository`;
      setCond(st, C.ValidationPassed, false, R.ResourceValidationFailed, msg);
      throw stalled(R.ResourceValidationFailed, msg, { object: { kind, namespace, name }, field: "spec.repository" });
    }
  }
  setCond(st, C.ValidationPassed, true, R.ResourceValidationPassed, "Successfully validated.");

  // Every target is looked at (a missing one does not hide the others); the first missing stops here.
  const found: (KubeObject | null)[] = [];
  let missing: unknown;
  for (const t of targets) {
    if (!t.target) {
      found.push(null);
      continue;
    }
    try {
      found.push(await findTarget(kube, memberSt[t.index], inv, C.BackupTargetFound, "Backup", t));
    } catch (e) {
      found.push(null);
      if (errorKind(e) !== "Waiting") throw e;
      missing ??= e;
    }
  }
  if (missing) throw missing;

  try {
    // Independent objects: applied together, one round trip.
    await Promise.all([...desiredCronJobRBAC(inv), desiredCronJob(inv, ctx.opts)].map((o) => kube.apply(o, { force: true })));
    setCond(st, C.CronJobCreated, true, R.CronJobCreationSucceeded, "Successfully created backup triggering CronJob.");
  } catch (e) {
    setCond(st, C.CronJobCreated, false, R.CronJobCreationFailed, `Failed to create backup triggering CronJob. Reason: ${errorMessage(e)}`);
    throw e;
  }

  for (const t of targets) {
    if (driver !== "Restic" || !t.target?.ref || backupModel(t.target.ref.kind, t.task?.name) !== "sidecar") continue;
    const ref = t.target.ref;
    // A sidecar-model target is a workload (Deployment, StatefulSet, DaemonSet or ReplicaSet).
    const workload = found[t.index] as Workload | null;
    // One sidecar per workload: when several invokers target it, the newest one's (the rule the
    // mutating webhook applies); the others inject nothing and say which one has it, instead of
    // taking turns rewriting the pod template (a rollout each time).
    const rivals = ctx.backupInvokersTargeting?.({ kind: ref.kind, namespace: ref.namespace ?? namespace, name: ref.name }) ?? [];
    const owner = backupInvokerFor(
      workload ?? { apiVersion: "apps/v1", kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace ?? namespace } },
      rivals.some((r) => r.metadata.uid === inv.metadata.uid) ? rivals : [...rivals, inv],
    );
    if (owner && owner.metadata.uid !== inv.metadata.uid) {
      const msg = `${ref.kind} ${ref.namespace ?? namespace}/${ref.name} is backed up by ${owner.kind} ${owner.metadata.namespace}/${owner.metadata.name}, the newest invoker that targets it; a workload has one backup sidecar, so this ${kind} injects none. Remove one of them or point it at another target`;
      setCond(memberSt[t.index], C.StashSidecarInjected, false, R.SidecarInjectionFailed, msg);
      throw stalled(R.SidecarInjectionFailed, msg, { object: { kind, namespace, name }, field: t.field ?? "spec.target" });
    }
    try {
      await ensureRunnerBinding(kube, ctx.runnerBindings, t.target.ref.namespace || namespace, podServiceAccount(workload));
      await ensureSidecar(kube, inv, repo, ctx.opts, workload ?? undefined, t);
      setCond(
        memberSt[t.index],
        C.StashSidecarInjected,
        true,
        R.SidecarInjectionSucceeded,
        `Successfully injected stash sidecar into ${ref.kind} ${ref.namespace}/${ref.name}`,
      );
    } catch (e) {
      setCond(
        memberSt[t.index],
        C.StashSidecarInjected,
        false,
        R.SidecarInjectionFailed,
        `Failed to inject stash sidecar into ${ref.kind} ${ref.namespace}/${ref.name}. Reason: ${errorMessage(e)}`,
      );
      throw e;
    }
  }
}

/** Conditions, Stash's phase and a batch's member conditions; Ready once the phase is. */
function status(_ctx: ControllerContext, inv: BackupInvoker, { st, memberSt, targets, driver }: BackupInvokerState) {
  const phase = backupInvokerPhase(st.conditions, driver);
  // A BackupConfiguration's status is a BackupBatch's without memberConditions.
  const status: BackupBatchStatus = { ...(inv.status ?? {}), observedGeneration: inv.metadata.generation, phase, conditions: st.conditions };
  if (isBatch(inv.kind)) {
    const members = targets.flatMap((t) =>
      t.target?.ref && memberSt[t.index].conditions.length > 0 ? [{ target: t.target.ref, conditions: memberSt[t.index].conditions }] : [],
    );
    if (members.length) status.memberConditions = members;
    else delete status.memberConditions;
  }
  const health: HealthInput =
    phase === "Ready"
      ? {
          health: "Ready",
          reason: "Succeeded",
          message: `${inv.kind} is ready; CronJob schedule ${JSON.stringify(inv.spec?.schedule)}${inv.spec?.paused ? " (paused)" : ""}.`,
        }
      : phase === "Invalid"
        ? { health: "Stalled", reason: "Invalid", message: `${inv.kind} is Invalid.` }
        : { health: "Reconciling", reason: "Progressing", message: "Reconciling." };
  return { status, health };
}

/** On deletion: the sidecars go from the targets, the CronJob and its RBAC at once. */
async function finalize(ctx: ControllerContext, inv: BackupInvoker): Promise<void> {
  const { kube } = ctx;
  await removeSidecarFor(kube, inv);
  // The CronJob, its ServiceAccount and RoleBinding are owned by the invoker; garbage
  // collection removes them where a controller-manager runs. Delete them here too so a cluster
  // without one (and the user watching) sees them go at once.
  for (const o of [...desiredCronJobRBAC(inv), desiredCronJob(inv, ctx.opts)]) await kube.delete(o);
}
