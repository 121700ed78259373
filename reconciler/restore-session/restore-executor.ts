// The restore executor of one target (stash-behaviour.md 2.5, 2.6), for any restore invoker: the
// `stash-init` init-container for a workload without a task, otherwise the restore Job. Sets the
// conditions Stash sets on that target (StashInitContainerInjected or RestoreJobCreated, then
// RestoreExecutorEnsured) and gives the number of hosts that will report.
import type { V1DaemonSet, V1StatefulSet } from "@kubernetes/client-node";
import { errorMessage } from "../../lib/errors.ts";
import type { KubeObject } from "../../lib/kube/client.ts";
import type { Repository } from "../../schema/types.generated.ts";
import type { Workload } from "../../stash/workload.ts";
import { invokerTaskPod } from "../../stash/tasks/invoker-task.ts";
import { setCond, type StepState } from "../invoker/dependencies.ts";
import { memberView, type RestoreInvoker, type RestoreTargetInfo } from "../../stash/invoker-targets.ts";
import type { ControllerContext } from "../context.ts";
import { desiredRestoreJob } from "./restore-job.ts";
import { C, R } from "../../stash/conditions.ts";
import { backupModel } from "../../stash/names.ts";
import { ensureInitContainer, targetApiVersion } from "../invoker/workload.ts";
import { ensureRunnerBinding, jobServiceAccount, podServiceAccount } from "../invoker/runner-rbac.ts";

/** Ensures the executor of `info` (a target of `inv`); throws after recording the failure on `st`. */
export async function ensureRestoreExecutor(
  ctx: ControllerContext,
  st: StepState,
  inv: RestoreInvoker,
  repo: Repository,
  info: RestoreTargetInfo,
): Promise<void> {
  // The reconciles found this target before they ensure its executor.
  const ref = info.target!.ref!;
  const sidecar = backupModel(ref.kind, info.task?.name) === "sidecar";
  try {
    if (sidecar) {
      const workload = await ctx.kube.getOrNull<Workload>(targetApiVersion(ref), ref.kind, ref.name, ref.namespace || inv.metadata.namespace);
      await ensureRunnerBinding(ctx.kube, ctx.runnerBindings, ref.namespace || inv.metadata.namespace!, podServiceAccount(workload));
      await ensureInitContainer(ctx.kube, inv, repo, ctx.opts, info);
      setCond(
        st,
        C.StashInitContainerInjected,
        true,
        R.InitContainerInjectionSucceeded,
        `Successfully injected stash init-container into ${ref.kind} ${ref.namespace}/${ref.name}.`,
      );
    } else {
      const view = memberView(inv, info);
      const taskPod = info.task?.name
        ? await invokerTaskPod({ kube: ctx.kube, invoker: view, image: ctx.opts.image, pushgatewayUrl: ctx.opts.pushgatewayUrl })
        : undefined;
      await ensureRunnerBinding(ctx.kube, ctx.runnerBindings, inv.metadata.namespace!, jobServiceAccount(view));
      await ctx.kube.apply(desiredRestoreJob(view, repo, info.index, ctx.opts, taskPod), { force: true });
      setCond(st, C.RestoreJobCreated, true, R.RestoreJobCreationSucceeded, "Successfully created restore job.");
    }
    setCond(st, C.RestoreExecutorEnsured, true, R.SuccessfullyEnsuredRestoreExecutor, "Successfully ensured restore executor.");
  } catch (e) {
    if (sidecar)
      setCond(st, C.StashInitContainerInjected, false, R.InitContainerInjectionFailed, `Failed to inject stash init-container. Reason: ${errorMessage(e)}`);
    else setCond(st, C.RestoreJobCreated, false, R.RestoreJobCreationFailed, `Failed to create restore job. Reason: ${errorMessage(e)}`);
    setCond(st, C.RestoreExecutorEnsured, false, R.FailedToEnsureRestoreExecutor, `Failed to ensure restore executor. Reason: ${errorMessage(e)}`);
    throw e;
  }
}

/** How many hosts restore `info` (S:pkg/controller/restore_session.go getTotalHostForRestore): replicas of a StatefulSet, scheduled DaemonSet pods, else 1. */
export function restoreTotalHosts(info: RestoreTargetInfo, target: KubeObject | null): number {
  const k = info.target?.ref?.kind;
  if (k === "StatefulSet") return info.target?.replicas ?? (target as V1StatefulSet | null)?.spec?.replicas ?? 1;
  if (k === "DaemonSet") return Math.max(1, (target as V1DaemonSet | null)?.status?.desiredNumberScheduled ?? 1);
  return 1;
}
