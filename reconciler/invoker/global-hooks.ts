// A BackupBatch's or RestoreBatch's global hooks (spec.hooks), which the operator itself runs
// (stash-behaviour.md 7, S:pkg/controller/backup_session.go executeGlobal*): preBackup once before
// any member starts, postBackup once every member is done (by its executionPolicy); the same for
// preRestore / postRestore. Each outcome is one session-level condition with Stash's reason and
// message. httpGet, httpPost and tcpSocket run from the operator; an exec hook runs in the
// operator's own pod (POD_NAME/POD_NAMESPACE from the downward API) through pods/exec, as Stash
// execs into its operator pod. An operator that runs outside a pod (local mode) has none: the hook
// fails with a message saying POD_NAME is not set.
import { errorMessage } from "../../lib/errors.ts";
import type { V1ObjectMeta } from "@kubernetes/client-node";
import type { Kube } from "../../lib/kube/client.ts";
import type { PostBackupHook, PostRestoreHook, PreBackupHook, PreRestoreHook } from "../../schema/types.generated.ts";
import { executeHook, hookDecision, type ExecuteOptions, type Handler, type HookSummary, type HookType } from "../../stash/hooks.ts";
import { executorOptions, type ExecutorPod } from "../../stash/pod-exec.ts";
import { C, R } from "../../stash/conditions.ts";

export interface HookOutcome {
  type: string;
  status: boolean;
  reason: string;
  message: string;
}

const WORD: Record<HookType, string> = { preBackup: "PreBackup", postBackup: "PostBackup", preRestore: "PreRestore", postRestore: "PostRestore" };
const TYPE: Record<HookType, string> = {
  preBackup: C.GlobalPreBackupHookSucceeded,
  postBackup: C.GlobalPostBackupHookSucceeded,
  preRestore: C.GlobalPreRestoreHookSucceeded,
  postRestore: C.GlobalPostRestoreHookSucceeded,
};
const OK: Record<HookType, string> = {
  preBackup: R.GlobalPreBackupHookExecutedSuccessfully,
  postBackup: R.GlobalPostBackupHookExecutedSuccessfully,
  preRestore: R.GlobalPreRestoreHookExecutedSuccessfully,
  postRestore: R.GlobalPostRestoreHookExecutedSuccessfully,
};
const FAILED: Record<HookType, string> = {
  preBackup: R.GlobalPreBackupHookExecutionFailed,
  postBackup: R.GlobalPostBackupHookExecutionFailed,
  preRestore: R.GlobalPreRestoreHookExecutionFailed,
  postRestore: R.GlobalPostRestoreHookExecutionFailed,
};

export const globalHookCondition = (hook: HookType) => TYPE[hook];

/** The Summary a global hook sees: the session, the batch as invoker, no target (Stash passes an empty TargetRef). */
export function globalHookSummary(
  session: { name: string; namespace: string },
  invoker: { kind: string; metadata: V1ObjectMeta },
  phase: string,
  extra: { duration?: string; retryLeft?: number } = {},
): HookSummary {
  return {
    Name: session.name,
    Namespace: session.namespace,
    Invoker: { APIGroup: "stash.appscode.com", Kind: invoker.kind, Name: invoker.metadata.name! },
    Target: { Kind: "", Name: "" },
    Status: { Phase: phase, ...(extra.duration ? { Duration: extra.duration } : {}) },
    RetryLeft: extra.retryLeft ?? 0,
  };
}

/** Where global hooks run: the operator's pod. */
export interface GlobalHookExecutor {
  kube: Kube;
  pod: ExecutorPod;
  env: Readonly<Record<string, string | undefined>>;
}

/** The operator's own pod (OperatorOptions.ownPod, from the downward API); none outside a pod. */
export function operatorExecutor(kube: Kube, pod: { namespace: string; name?: string; ip?: string } | undefined): GlobalHookExecutor {
  return { kube, pod: { namespace: pod?.namespace ?? "", name: pod?.name }, env: { POD_IP: pod?.ip } };
}

/**
 * Runs a global hook unless its executionPolicy says not to (post hooks, by `summary.Status.Phase`);
 * returns the condition to record. Never throws: a failure is the condition's message.
 */
/** A batch's spec.hooks entry: a handler, and for a post hook its executionPolicy beside it (Stash's inline PostHookSpec). */
export type GlobalHook = PreBackupHook | PostBackupHook | PreRestoreHook | PostRestoreHook;

export async function runGlobalHook(hook: HookType, spec: GlobalHook, summary: HookSummary, executor?: GlobalHookExecutor): Promise<HookOutcome> {
  const post = hook === "postBackup" || hook === "postRestore";
  // The CRD's handler fields are kmodules' Handler (stash/hooks.ts spells its enums out).
  const handler = spec as Handler;
  const base = { type: TYPE[hook], reason: OK[hook] };
  try {
    const policy = post && "executionPolicy" in spec ? spec.executionPolicy : undefined;
    const decision = hookDecision(policy, { hook, phase: summary.Status.Phase, retryLeft: summary.RetryLeft });
    if (!decision.run) return { ...base, status: true, message: decision.message ?? `Skipping executing ${hook}.` };
    const opts: ExecuteOptions = executor ? await executorOptions(executor.kube, handler, executor.pod, executor.env) : {};
    await executeHook(handler, summary, opts);
    return { ...base, status: true, message: `Global ${WORD[hook]} hook has been executed successfully` };
  } catch (e) {
    return { type: TYPE[hook], status: false, reason: FAILED[hook], message: `Failed to execute global ${WORD[hook]} Hook. Reason: ${errorMessage(e)}.` };
  }
}
