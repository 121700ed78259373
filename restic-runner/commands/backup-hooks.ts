// Stash's preBackup and postBackup hooks around one host's backup, as the sidecar or backup Job
// runs them: a failed preBackup fails the host and skips the backup (and the postBackup hook); a
// postBackup runs by its executionPolicy and a failure fails the host. Each outcome is the
// target-level condition Stash records (PreBackupHookExecutionSucceeded / PostBackupHook...),
// which the operator's phase rules read. The executor pod is the runner's own (POD_NAME): exec
// hooks run in it through the API server's pods/exec (pod-exec.ts).
import { errorMessage, redact } from "../../lib/errors.ts";
import type { BackupSession, BackupTarget, Condition } from "../../schema/types.generated.ts";
import type { BackupInvoker, BackupView } from "../../stash/invoker-targets.ts";
import { setCondition } from "../../lib/conditions.ts";
import { C } from "../../stash/conditions.ts";
import { updateStatus } from "../../lib/status.ts";
import { V1BETA1 } from "../../stash/names.ts";
import { executeHook, hookDecision, type HookSummary } from "../../stash/hooks.ts";
import { executorOptions } from "../../stash/pod-exec.ts";
import type { OutputCondition } from "../tasks/step-output.ts";
import type { RunnerDeps } from "./runner-deps.ts";

export interface HookTarget {
  kind: string;
  name: string;
  namespace: string;
}

export function hookSummary(session: BackupSession, invoker: BackupInvoker | BackupView, target: HookTarget, phase: string, error?: string): HookSummary {
  return {
    Name: session.metadata.name!,
    Namespace: session.metadata.namespace!,
    Invoker: { APIGroup: "stash.appscode.com", Kind: invoker.kind, Name: invoker.metadata.name! },
    // A batch's own spec has no target (a member's view has); its hooks then carry no target apiVersion.
    Target: {
      APIVersion: (invoker.spec as { target?: BackupTarget } | undefined)?.target?.ref?.apiVersion,
      Kind: target.kind,
      Name: target.name,
      Namespace: target.namespace,
    },
    Status: { Phase: phase, ...(error ? { Error: error } : {}) },
    RetryLeft: session.spec?.retryLeft ?? 0,
  };
}

/** Runs the preBackup hook; returns its condition, or undefined when there is none. */
export async function runPreBackupHook(
  deps: RunnerDeps,
  session: BackupSession,
  invoker: BackupInvoker | BackupView,
  target: HookTarget,
  secrets: string[],
): Promise<OutputCondition | undefined> {
  const handler = invoker.spec?.hooks?.preBackup;
  if (!handler) return undefined;
  try {
    await executeHook(
      handler,
      hookSummary(session, invoker, target, "Running"),
      await executorOptions(deps.kube, handler, { namespace: target.namespace, name: deps.env.POD_NAME }, deps.env),
    );
    return {
      type: C.PreBackupHookExecutionSucceeded,
      status: "True",
      reason: "SuccessfullyExecutedPreBackupHook",
      message: "Successfully executed preBackup hook.",
    };
  } catch (e) {
    return {
      type: C.PreBackupHookExecutionSucceeded,
      status: "False",
      reason: "FailedToExecutePreBackupHook",
      message: `Failed to execute preBackup hook. Reason: ${redact(errorMessage(e), secrets)}`,
    };
  }
}

/** Runs the postBackup hook if its executionPolicy allows for `phase`; a skip is recorded as True, as Stash does. */
export async function runPostBackupHook(
  deps: RunnerDeps,
  session: BackupSession,
  invoker: BackupInvoker | BackupView,
  target: HookTarget,
  phase: string,
  error: string | undefined,
  secrets: string[],
): Promise<OutputCondition | undefined> {
  const handler = invoker.spec?.hooks?.postBackup;
  if (!handler) return undefined;
  const decision = hookDecision(handler.executionPolicy, { hook: "postBackup", phase, retryLeft: session.spec?.retryLeft ?? 0 });
  if (!decision.run) {
    return {
      type: C.PostBackupHookExecutionSucceeded,
      status: "True",
      reason: "SuccessfullyExecutedPostBackupHook",
      message: decision.message ?? `Skipping executing postBackup. Reason: executionPolicy is "${handler.executionPolicy}" but phase is "${phase}".`,
    };
  }
  try {
    await executeHook(
      handler,
      hookSummary(session, invoker, target, phase, error),
      await executorOptions(deps.kube, handler, { namespace: target.namespace, name: deps.env.POD_NAME }, deps.env),
    );
    return {
      type: C.PostBackupHookExecutionSucceeded,
      status: "True",
      reason: "SuccessfullyExecutedPostBackupHook",
      message: "Successfully executed postBackup hook.",
    };
  } catch (e) {
    return {
      type: C.PostBackupHookExecutionSucceeded,
      status: "False",
      reason: "FailedToExecutePostBackupHook",
      message: `Failed to execute postBackup hook. Reason: ${redact(errorMessage(e), secrets)}`,
    };
  }
}

/** Records hook conditions on the session's entry for this target (status.targets[].conditions). */
export async function writeTargetConditions(deps: RunnerDeps, sessionName: string, target: HookTarget, conditions: OutputCondition[]): Promise<void> {
  if (conditions.length === 0) return;
  const now = new Date(deps.now());
  await updateStatus<BackupSession>(
    deps.kube,
    { apiVersion: V1BETA1, kind: "BackupSession", name: sessionName, namespace: target.namespace },
    (status, obj) => {
      const t = (status.targets ?? []).find(
        (x) => x.ref?.kind === target.kind && x.ref?.name === target.name && (x.ref?.namespace || target.namespace) === target.namespace,
      );
      if (!t) return undefined;
      let cs = t.conditions ?? [];
      // setCondition always stamps lastTransitionTime, which the generated Condition requires.
      for (const c of conditions) cs = setCondition(cs, c, now, obj.metadata.generation) as Condition[];
      t.conditions = cs;
      return status;
    },
  );
}
