// BackupConfiguration reconcile (stash-behaviour.md 2.2): validate, find Repository, Secret and
// target, ensure the trigger CronJob, inject the sidecar into workload targets, then write the
// conditions, Stash phase and kstatus health once, in `finally`.
import { CronExpressionParser } from "cron-parser";
import { setHealth } from "../../lib/conditions.ts";
import { ReconcileError, errorKind, errorMessage, stalled } from "../../lib/errors.ts";
import type { KubeObject } from "../../lib/kube/client.ts";
import type { Result } from "../../lib/workqueue.ts";
import { desiredCronJob, desiredCronJobRBAC } from "./cronjob.ts";
import { findBackendSecret, findRepository, findTarget, setCond, setFinalizer, usageAllowed, type StepState } from "./dependencies.ts";
import { now, type ControllerContext } from "./options.ts";
import { backupInvokerPhase } from "./phases.ts";
import { C, R } from "./stash-conditions.ts";
import { FINALIZER, V1BETA1, backupModel } from "./stash-names.ts";
import { writeStatus } from "./status.ts";
import { ensureSidecar, removeSidecarFor } from "./workload.ts";

const KIND = "BackupConfiguration";

/** Spec checks the CRD schema cannot express; the first problem found, naming the field. */
export function validateBackupConfiguration(bc: any): ReconcileError | null {
  const obj = { kind: KIND, namespace: bc.metadata.namespace, name: bc.metadata.name };
  const spec = bc.spec ?? {};
  if (!spec.schedule) return stalled(R.ResourceValidationFailed, "a cron schedule is required", { object: obj, field: "spec.schedule" });
  try {
    CronExpressionParser.parse(spec.schedule);
  } catch (e) {
    return stalled(R.ResourceValidationFailed, `${JSON.stringify(spec.schedule)} is not a cron expression (${errorMessage(e)})`, { object: obj, field: "spec.schedule" });
  }
  if (!spec.retentionPolicy) return stalled(R.ResourceValidationFailed, "a retention policy is required", { object: obj, field: "spec.retentionPolicy" });
  const ref = spec.target?.ref;
  if (ref?.namespace && ref.namespace !== bc.metadata.namespace && (ref.kind === "PersistentVolumeClaim" || backupModel(ref.kind, spec.task?.name) === "sidecar")) {
    return stalled(R.ResourceValidationFailed, `cross-namespace target reference is not allowed for "${ref.kind}"`, { object: obj, field: "spec.target.ref.namespace" });
  }
  if (spec.timeOut !== undefined && !/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(spec.timeOut)) {
    return stalled(R.ResourceValidationFailed, `${JSON.stringify(spec.timeOut)} is not a duration such as "30m" or "1h30m"`, { object: obj, field: "spec.timeOut" });
  }
  return null;
}

export async function reconcileBackupConfiguration(ctx: ControllerContext, namespace: string, name: string): Promise<Result> {
  const { kube } = ctx;
  let bc = await kube.getOrNull<KubeObject>(V1BETA1, KIND, name, namespace);
  if (!bc) return {};
  if (bc.metadata.deletionTimestamp) return finalize(ctx, bc);
  bc = await setFinalizer(kube, bc, FINALIZER, true);

  const st: StepState = { conditions: bc.status?.conditions ?? [], now: now(ctx), generation: bc.metadata.generation };
  const driver = bc.spec?.driver ?? "Restic";
  let failure: unknown;
  try {
    // Validation is recorded first but thrown after the Repository checks, so the phase follows
    // Stash's order (a missing Repository makes it NotReady before an invalid spec makes it Invalid).
    const invalid = validateBackupConfiguration(bc);
    if (invalid) setCond(st, C.ValidationPassed, false, R.ResourceValidationFailed, invalid.message);
    let repo: KubeObject | undefined;
    if (driver === "Restic") {
      repo = await findRepository(kube, st, bc);
      await findBackendSecret(kube, st, bc, repo);
    }
    if (invalid) throw invalid;
    if (driver === "Restic" && repo) {
      if (!(await usageAllowed(kube, repo, namespace))) {
        const msg = `namespace "${namespace}" is not allowed to refer Repository "${repo.metadata.name}" of "${repo.metadata.namespace}" namespace. Please, check the usagePolicy of the Repository`;
        setCond(st, C.ValidationPassed, false, R.ResourceValidationFailed, msg);
        throw stalled(R.ResourceValidationFailed, msg, { object: { kind: KIND, namespace, name }, field: "spec.repository" });
      }
    }
    setCond(st, C.ValidationPassed, true, R.ResourceValidationPassed, "Successfully validated.");

    const target = bc.spec?.target ? await findTarget(kube, st, bc, C.BackupTargetFound, "Backup") : null;

    try {
      // Independent objects: applied together, one round trip.
      await Promise.all([...desiredCronJobRBAC(bc), desiredCronJob(bc, ctx.opts)].map((o) => kube.apply(o, { force: true })));
      setCond(st, C.CronJobCreated, true, R.CronJobCreationSucceeded, "Successfully created backup triggering CronJob.");
    } catch (e) {
      setCond(st, C.CronJobCreated, false, R.CronJobCreationFailed, `Failed to create backup triggering CronJob. Reason: ${errorMessage(e)}`);
      throw e;
    }

    if (driver === "Restic" && backupModel(bc.spec?.target?.ref?.kind, bc.spec?.task?.name) === "sidecar") {
      try {
        await ensureSidecar(kube, bc, repo, ctx.opts, target ?? undefined);
        setCond(st, C.StashSidecarInjected, true, R.SidecarInjectionSucceeded, `Successfully injected stash sidecar into ${bc.spec.target.ref.kind} ${bc.spec.target.ref.namespace || namespace}/${bc.spec.target.ref.name}`);
      } catch (e) {
        setCond(st, C.StashSidecarInjected, false, R.SidecarInjectionFailed, `Failed to inject stash sidecar into ${bc.spec.target.ref.kind} ${namespace}/${bc.spec.target.ref.name}. Reason: ${errorMessage(e)}`);
        throw e;
      }
    }
  } catch (e) {
    failure = e;
  } finally {
    const phase = backupInvokerPhase(st.conditions, driver);
    const kind = failure ? errorKind(failure) : undefined;
    st.conditions = setHealth(
      st.conditions,
      phase === "Ready" && !failure
        ? { health: "Ready", reason: "Succeeded", message: `BackupConfiguration is ready; CronJob schedule ${JSON.stringify(bc.spec?.schedule)}${bc.spec?.paused ? " (paused)" : ""}.` }
        : kind === "Stalled" || phase === "Invalid"
          ? { health: "Stalled", reason: (failure as ReconcileError)?.reason ?? "Invalid", message: errorMessage(failure) }
          : { health: "Reconciling", reason: (failure as ReconcileError)?.reason ?? "Progressing", message: failure ? errorMessage(failure) : "Reconciling." },
      st.now,
      st.generation,
    );
    const status = { ...(bc.status ?? {}), observedGeneration: bc.metadata.generation, phase, conditions: st.conditions };
    await writeStatus(kube, bc, status);
  }
  if (failure) throw failure;
  return {};
}

async function finalize(ctx: ControllerContext, bc: KubeObject): Promise<Result> {
  const { kube } = ctx;
  if (!(bc.metadata.finalizers ?? []).includes(FINALIZER)) return {};
  if (backupModel(bc.spec?.target?.ref?.kind, bc.spec?.task?.name) === "sidecar") await removeSidecarFor(kube, bc);
  // The CronJob, its ServiceAccount and RoleBinding are owned by the BackupConfiguration; garbage
  // collection removes them where a controller-manager runs. Delete them here too so a cluster
  // without one (and the user watching) sees them go at once.
  for (const o of [...desiredCronJobRBAC(bc), desiredCronJob(bc, ctx.opts)]) await kube.delete(o);
  await setFinalizer(kube, bc, FINALIZER, false);
  return {};
}
