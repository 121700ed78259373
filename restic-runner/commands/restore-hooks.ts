// Stash's preRestore and postRestore hooks (stash-behaviour.md 7), as the restore init-container,
// the restore Job and a Task pod's `run-hook` run them. The outcome is a condition of the
// RestoreSession (its single target's conditions are the session's: PreRestoreHookExecutionSucceeded
// / PostRestoreHookExecutionSucceeded with Stash's reasons), which the phase rules read.
//
// As in Stash: a hook whose condition is already recorded is not run again (True: skipped;
// False: the earlier failure stands), so with several hosts the first one runs it; a postRestore
// skipped by its executionPolicy is recorded True with the reason; the phase a postRestore sees is
// Failed when any host failed or any condition of the session is False, else Succeeded.
import { errorMessage, redact } from "../../lib/errors.ts";
import type { V1ObjectMeta } from "@kubernetes/client-node";
import type { Kube } from "../../lib/kube/client.ts";
import type { Condition, RestoreSession, TargetRef } from "../../schema/types.generated.ts";
import type { RestoreExecutorView } from "./restore-invoker.ts";
import { getCondition, setCondition } from "../../lib/conditions.ts";
import { goDuration } from "../../stash/phases.ts";
import { C } from "../../stash/conditions.ts";
import { updateStatus } from "../../lib/status.ts";
import { V1BETA1 } from "../../stash/names.ts";
import { executeHook, hookDecision, type ExecuteOptions, type ExecutionPolicy, type Handler, type HookSummary } from "../../stash/hooks.ts";
import { executorOptions, type ExecutorPod } from "../../stash/pod-exec.ts";
import type { OutputCondition } from "../tasks/step-output.ts";

export type RestoreHookType = "preRestore" | "postRestore";

const COND: Record<RestoreHookType, string> = { preRestore: C.PreRestoreHookExecutionSucceeded, postRestore: C.PostRestoreHookExecutionSucceeded };
const OK: Record<RestoreHookType, string> = { preRestore: "SuccessfullyExecutedPreRestoreHook", postRestore: "SuccessfullyExecutedPostRestoreHook" };
const FAILED: Record<RestoreHookType, string> = { preRestore: "FailedToExecutePreRestoreHook", postRestore: "FailedToExecutePostRestoreHook" };

const KSTATUS = new Set(["Ready", "Reconciling", "Stalled"]);

export interface HookEnv {
  kube: Kube;
  env: Readonly<Record<string, string | undefined>>;
  now: () => number;
}

/** The phase and error a restore hook's Summary carries (Stash's RestoreSession GetSummary). Pure. */
/** What restoreTargetState reads of a RestoreSession-shaped status. */
export interface RestoreStateRead {
  stats?: readonly { phase?: string; error?: string }[];
  conditions?: readonly { type: string; status: string; message?: string }[];
}

export function restoreTargetState(status: RestoreStateRead | undefined, own?: { phase: string; error?: string }): { phase: string; error?: string } {
  if (own?.phase === "Failed") return { phase: "Failed", error: own.error };
  for (const s of status?.stats ?? []) if (s.phase === "Failed" || s.phase === "Unknown") return { phase: "Failed", error: s.error };
  // Stash's own conditions only: restash's kstatus ones (Ready is False while a restore runs) say nothing of failure.
  for (const c of status?.conditions ?? []) if (c.status === "False" && !KSTATUS.has(c.type)) return { phase: "Failed", error: c.message };
  return { phase: "Succeeded" };
}

/** What a restore hook's Summary reads of the invoker (a RestoreSession, or a RestoreBatch member's view). */
export interface RestoreSummaryRead {
  kind?: string;
  metadata: V1ObjectMeta;
  spec?: { target?: { ref?: TargetRef } };
}

export function restoreSummary(rs: RestoreSummaryRead, state: { phase: string; error?: string }, now: number): HookSummary {
  const ref = rs.spec?.target?.ref;
  const created = Date.parse(String(rs.metadata.creationTimestamp ?? ""));
  return {
    Name: rs.metadata.name!,
    Namespace: rs.metadata.namespace!,
    Invoker: { APIGroup: "stash.appscode.com", Kind: rs.kind ?? "RestoreSession", Name: rs.metadata.name! },
    Target: { APIVersion: ref?.apiVersion, Kind: ref?.kind ?? "", Name: ref?.name ?? "", Namespace: ref?.namespace || rs.metadata.namespace },
    Status: {
      Phase: state.phase,
      ...(Number.isFinite(created) ? { Duration: goDuration(now - created) } : {}),
      ...(state.error ? { Error: state.error } : {}),
    },
    RetryLeft: 0,
  };
}

/**
 * Runs one restore hook of `rs` from the executor pod. Returns the condition to record, the one
 * already recorded (not run again), or undefined when the RestoreSession has no such hook.
 */
export async function runRestoreHook(
  h: HookEnv,
  rs: RestoreExecutorView,
  hook: RestoreHookType,
  state: { phase: string; error?: string },
  pod: ExecutorPod,
  secrets: string[],
): Promise<OutputCondition | undefined> {
  // The handler is inline; postRestore adds executionPolicy beside it.
  const handler = rs.spec?.hooks?.[hook] as (Handler & { executionPolicy?: ExecutionPolicy }) | undefined;
  if (!handler) return undefined;
  const type = COND[hook];
  const recorded = getCondition(rs.status?.conditions, type);
  if (recorded && (recorded.status === "True" || recorded.status === "False")) {
    return { type, status: recorded.status, reason: recorded.reason ?? "", message: recorded.message ?? "" };
  }
  if (hook === "postRestore") {
    const d = hookDecision(handler.executionPolicy, { hook, phase: state.phase });
    if (!d.run) return { type, status: "True", reason: OK[hook], message: d.message! };
  }
  try {
    const opts: ExecuteOptions = await executorOptions(h.kube, handler, pod, h.env);
    await executeHook(handler, restoreSummary(rs, state, h.now()), opts);
    return { type, status: "True", reason: OK[hook], message: `Successfully executed ${hook} hook.` };
  } catch (e) {
    return { type, status: "False", reason: FAILED[hook], message: `Failed to execute ${hook} hook. Reason: ${redact(errorMessage(e), secrets)}` };
  }
}

/** `status` with `conditions` set, or undefined when nothing changes (pure). */
export function statusWithConditions<S extends { conditions?: Condition[] }>(
  status: S,
  conditions: OutputCondition[],
  now: Date,
  generation?: number,
): S | undefined {
  let cs = status.conditions ?? [];
  const before = JSON.stringify(cs);
  // setCondition always stamps lastTransitionTime, which the generated Condition requires.
  for (const c of conditions) cs = setCondition(cs, c, now, generation) as Condition[];
  if (JSON.stringify(cs) === before) return undefined;
  return { ...status, conditions: cs };
}

/** Records conditions on the RestoreSession (Stash keeps its one target's conditions there). */
export async function writeRestoreConditions(h: HookEnv, rs: { namespace: string; name: string }, conditions: OutputCondition[]): Promise<void> {
  if (conditions.length === 0) return;
  const now = new Date(h.now());
  await updateStatus<RestoreSession>(h.kube, { apiVersion: V1BETA1, kind: "RestoreSession", name: rs.name, namespace: rs.namespace }, (status, obj) =>
    statusWithConditions(status, conditions, now, obj.metadata.generation),
  );
}
