// `run-hook`: Stash's hook executor in a Task pod, the `pre-task-hook` init-container (first) and
// the `post-task-hook` container (last) that resolve-task.ts adds when the invoker has hooks.
//
//   run-hook --hook-type=preBackup|postBackup|preRestore|postRestore
//            --backupsession=S | --restoresession=R   --invoker-kind --invoker-name
//            --target-kind --target-namespace --target-name --hostname --output-dir
//
// The hook runs from this pod (POD_NAME), or for an AppBinding target from the app's pod (the
// first Running pod behind the AppBinding's Service), as Stash does. Its outcome is the condition
// Stash records: on the BackupSession target (backup hooks) or the RestoreSession (restore hooks).
// A hook already recorded is not run again (a False one fails again). A post hook sees the
// target's phase from the host results update-status wrote before it.
//
// A failed pre hook also fails the host: its result is written to the session and left in
// --output-dir (a real Job stops at the failed init-container, so no later step would report it).
// Exit code: 0 when the hook succeeded or was skipped, 1 when it failed.
import { errorMessage, redact } from "../../lib/errors.ts";
import type { BackupSession } from "../../schema/types.generated.ts";
import type { BackupInvoker } from "../../stash/invoker-targets.ts";
import { getCondition } from "../../lib/conditions.ts";
import { backupTargetPhase } from "../../stash/phases.ts";
import { C } from "../../stash/conditions.ts";
import { V1BETA1 } from "../../stash/names.ts";
import { updateStatus } from "../../lib/status.ts";
import type { HookType } from "../../stash/hooks.ts";
import { appBindingPod, type ExecutorPod } from "../../stash/pod-exec.ts";
import { parseStepArgs, type StepArgs } from "../tasks/step-args.ts";
import { DEFAULT_OUTPUT_DIR } from "../tasks/step-context.ts";
import { writeStepOutput, type OutputCondition, type StepOutput } from "../tasks/step-output.ts";
import { backupStatusWith, restoreStatusWith } from "../tasks/update-status.ts";
import { runPostBackupHook, runPreBackupHook, writeTargetConditions } from "./backup-hooks.ts";
import { restoreTargetState, runRestoreHook, statusWithConditions } from "./restore-hooks.ts";
import { readRestoreInvoker, updateRestoreStatus } from "./restore-invoker.ts";
import type { TargetFlags } from "./run-backup.ts";
import type { RunnerDeps } from "./runner-deps.ts";

const HOOK_TYPES: readonly HookType[] = ["preBackup", "postBackup", "preRestore", "postRestore"];
const BACKUP_COND: Record<string, string> = { preBackup: C.PreBackupHookExecutionSucceeded, postBackup: C.PostBackupHookExecutionSucceeded };

export interface RunHookResult {
  hook: HookType;
  /** undefined: the invoker has no such hook (nothing to do). */
  condition?: OutputCondition;
}

function need(a: StepArgs, ...names: string[]): void {
  for (const n of names) if (!a[n]) throw new Error(`run-hook: flag --${n} is required`);
}

/** The pod a hook runs from: the app's pod for an AppBinding target, this pod otherwise. */
async function executorPod(deps: RunnerDeps, targetKind: string, targetName: string, ns: string): Promise<ExecutorPod> {
  if (targetKind === "AppBinding") return { namespace: ns, name: await appBindingPod(deps.kube, ns, targetName) };
  return { namespace: ns, name: deps.env.POD_NAME };
}

export async function runHook(deps: RunnerDeps, argv: string[]): Promise<RunHookResult> {
  const a = parseStepArgs(argv);
  const hook = a["hook-type"] as HookType;
  if (!HOOK_TYPES.includes(hook))
    throw new Error(`run-hook: flag --hook-type must be one of ${HOOK_TYPES.join(", ")} (got ${JSON.stringify(a["hook-type"] ?? "")})`);
  need(a, "target-kind", "target-name");
  const ns = a["target-namespace"] || a.namespace || deps.env.POD_NAMESPACE || "default";
  const target = { kind: a["target-kind"], name: a["target-name"], namespace: ns };
  const hostname = a.hostname || "host-0";
  const outputDir = a["output-dir"] || DEFAULT_OUTPUT_DIR;
  const secrets: string[] = [];
  const log = deps.log.child({ hook, target: `${target.kind} ${ns}/${target.name}` });
  const pod = await executorPod(deps, target.kind, target.name, ns).catch(
    (e) => ({ namespace: ns, error: errorMessage(e) }) as ExecutorPod & { error?: string },
  );

  if (hook === "preRestore" || hook === "postRestore") {
    // A RestoreSession (--restoresession, or --invoker-kind=RestoreSession), or a RestoreBatch member.
    const kind = a["invoker-kind"] || "RestoreSession";
    const name = kind === "RestoreSession" ? a.restoresession || a["invoker-name"] : a["invoker-name"];
    if (!name) throw new Error("run-hook: a restore hook needs --restoresession (or --invoker-kind and --invoker-name)");
    const f: TargetFlags = { invokerKind: kind, invokerName: name, targetKind: target.kind, targetName: target.name, targetNamespace: ns, enableCache: false };
    const rs = await readRestoreInvoker(deps.kube, f).catch((e) => {
      throw new Error(`run-hook: ${errorMessage(e)}`);
    });
    if (!rs.spec?.hooks?.[hook]) return { hook };
    const h = { kube: deps.kube, env: deps.env, now: deps.now };
    const podError = (pod as { error?: string }).error;
    // A recorded outcome stands (runRestoreHook returns it) even when the executor pod is gone now.
    const condition =
      podError && !getCondition(rs.status?.conditions, failedCondition(hook, "").type)
        ? failedCondition(hook, podError)
        : await runRestoreHook(h, rs, hook, hook === "postRestore" ? restoreTargetState(rs.status) : { phase: "Running" }, pod, secrets);
    if (!condition) return { hook };
    const now = new Date(deps.now());
    await updateRestoreStatus(deps.kube, f, (status) => statusWithConditions(status, [condition], now, rs.metadata.generation));
    if (condition.status === "False") {
      log.error("hook failed", { error: condition.message });
      if (hook === "preRestore") {
        await writeStepOutput(outputDir, hostOutput("restore", hostname, condition.message)).catch((e) =>
          deps.log.warn("could not write the hook's result to the output dir", { dir: outputDir, err: e as Error }),
        );
        await updateRestoreStatus(deps.kube, f, (status) =>
          (status.stats ?? []).some((s) => s.hostname === hostname) ? undefined : restoreStatusWith(status, hostOutput("restore", hostname, condition.message)),
        );
      }
    }
    return { hook, condition };
  }

  need(a, "backupsession");
  const session = await deps.kube.getOrNull<BackupSession>(V1BETA1, "BackupSession", a.backupsession, ns);
  if (!session) throw new Error(`run-hook: BackupSession ${ns}/${a.backupsession} not found`);
  const invKind = a["invoker-kind"] || session.spec?.invoker?.kind || "BackupConfiguration";
  const invName = a["invoker-name"] || session.spec?.invoker?.name;
  const invoker = invName ? await deps.kube.getOrNull<BackupInvoker>(V1BETA1, invKind, invName, ns) : null;
  if (!invoker) throw new Error(`run-hook: ${invKind} ${ns}/${invName ?? "(no --invoker-name)"} not found`);
  if (!invoker.spec?.hooks?.[hook]) return { hook };
  const t = (session.status?.targets ?? []).find((x) => x.ref?.kind === target.kind && x.ref?.name === target.name);
  // Run once per target, as Stash: a recorded outcome stands.
  const recorded = getCondition(t?.conditions, BACKUP_COND[hook]);
  let condition: OutputCondition | undefined;
  if (recorded && (recorded.status === "True" || recorded.status === "False")) {
    condition = { type: recorded.type, status: recorded.status, reason: recorded.reason ?? "", message: recorded.message ?? "" };
  } else {
    const hookDeps: RunnerDeps = { ...deps, env: { ...deps.env, POD_NAME: pod.name } };
    if ((pod as { error?: string }).error) condition = failedCondition(hook, (pod as { error?: string }).error!);
    else if (hook === "preBackup") condition = await runPreBackupHook(hookDeps, session, invoker, target, secrets);
    else {
      const phase = backupTargetPhase(t);
      const error = (t?.stats ?? []).find((s) => s.phase === "Failed")?.error;
      condition = await runPostBackupHook(hookDeps, session, invoker, target, phase === "Failed" ? "Failed" : "Succeeded", error, secrets);
    }
    if (condition) await writeTargetConditions(deps, a.backupsession, target, [condition]);
  }
  if (condition?.status === "False") {
    log.error("hook failed", { error: condition.message });
    if (hook === "preBackup") {
      const now = new Date(deps.now());
      await writeStepOutput(outputDir, hostOutput("backup", hostname, condition.message)).catch((e) =>
        deps.log.warn("could not write the hook's result to the output dir", { dir: outputDir, err: e as Error }),
      );
      await updateStatus<BackupSession>(deps.kube, { apiVersion: V1BETA1, kind: "BackupSession", name: a.backupsession, namespace: ns }, (status, obj) => {
        const tt = (status.targets ?? []).find((x) => x.ref?.kind === target.kind && x.ref?.name === target.name);
        if ((tt?.stats ?? []).some((s) => s.hostname === hostname)) return undefined;
        return backupStatusWith(status, hostOutput("backup", hostname, condition!.message), target, now, obj.metadata.generation);
      });
    }
  }
  return { hook, condition };
}

function failedCondition(hook: HookType, why: string): OutputCondition {
  const type = {
    preBackup: C.PreBackupHookExecutionSucceeded,
    postBackup: C.PostBackupHookExecutionSucceeded,
    preRestore: C.PreRestoreHookExecutionSucceeded,
    postRestore: C.PostRestoreHookExecutionSucceeded,
  }[hook];
  const cap = hook[0].toUpperCase() + hook.slice(1);
  return { type, status: "False", reason: `FailedToExecute${cap}Hook`, message: `Failed to execute ${hook} hook. Reason: ${why}` };
}

function hostOutput(kind: "backup" | "restore", hostname: string, error: string): StepOutput {
  return { kind, command: "run-hook", hostname, phase: "Failed", duration: "0s", error };
}

/** The exit code of the `run-hook` command. */
export async function runHookCommand(deps: RunnerDeps, argv: string[]): Promise<number> {
  try {
    const r = await runHook(deps, argv);
    if (!r.condition) deps.log.info("no such hook on the invoker: nothing to run", { hook: r.hook });
    else deps.log.info("hook done", { hook: r.hook, status: r.condition.status, reason: r.condition.reason });
    return r.condition?.status === "False" ? 1 : 0;
  } catch (e) {
    deps.log.error("run-hook failed", { error: redact(errorMessage(e), []) });
    return 1;
  }
}
