// The pod of an invoker's Task Job: reads the Task, its Functions and the Repository from the API
// server and resolves the pod exactly as Stash builds it (taskInputs + resolveTask).
import type { Kube } from "../../lib/kube/client.ts";
import type { AppBinding, BackupHooks, Function as StashFunction, Repository, RestoreHooks, Task } from "../../schema/types.generated.ts";
import type { InvokerView } from "../invoker-targets.ts";
import { V1ALPHA1, V1BETA1 } from "../names.ts";
import { resolveTask, type FunctionObject, type TaskObject, type TaskPodSpec } from "./resolve-task.ts";
import { taskInputs } from "./task-inputs.ts";
import { TaskError } from "./task-errors.ts";
import { APPBINDING_API_VERSION, effectiveTaskRef } from "./app-binding.ts";

/** The Task an invoker names and every Function its steps name (absent ones left out). */
export async function loadTask(kube: Kube, taskName: string): Promise<{ task: TaskObject; functions: Map<string, FunctionObject> }> {
  const task = await kube.getOrNull<Task>(V1BETA1, "Task", taskName);
  if (!task) throw new TaskError("TaskNotFound", `Task ${JSON.stringify(taskName)} not found`, { field: "spec.task.name" });
  const functions = new Map<string, FunctionObject>();
  for (const step of task.spec?.steps ?? []) {
    if (!step.name || functions.has(step.name)) continue;
    const fn = await kube.getOrNull<StashFunction>(V1BETA1, "Function", step.name);
    if (fn) functions.set(step.name, fn);
  }
  return { task, functions };
}

export interface TaskRunInput {
  kube: Kube;
  /** BackupConfiguration or RestoreSession as stored, or a batch as one member sees it (memberView). */
  invoker: InvokerView;
  /** The BackupSession being run (backups only). */
  backupSession?: string;
  image?: string;
  pushgatewayUrl?: string;
}

/** The pod the invoker's Job runs (what a real Job's template holds). */
export async function invokerTaskPod(i: TaskRunInput): Promise<TaskPodSpec> {
  const inv = i.invoker;
  const restoring = inv.kind === "RestoreSession";
  const ref = inv.spec?.target?.ref;
  // KubeDB: with no task named, the AppBinding's stash.addon names it.
  const appBinding =
    ref?.kind === "AppBinding" && !inv.spec?.task?.name
      ? await i.kube.getOrNull<AppBinding>(APPBINDING_API_VERSION, "AppBinding", ref.name, ref.namespace || inv.metadata.namespace)
      : null;
  const taskRef = effectiveTaskRef(inv.spec?.task, appBinding, restoring ? "restore" : "backup");
  if (!taskRef)
    throw new TaskError("TaskNotFound", "names no Task (and no AppBinding stash.addon names one)", {
      object: { kind: inv.kind, namespace: inv.metadata.namespace, name: inv.metadata.name! },
      field: "spec.task.name",
    });
  const { task, functions } = await loadTask(i.kube, taskRef.name);
  const repoName = inv.spec?.repository?.name;
  const repository = repoName
    ? ((await i.kube.getOrNull<Repository>(V1ALPHA1, "Repository", repoName, inv.spec?.repository?.namespace || inv.metadata.namespace)) ?? undefined)
    : undefined;
  const inputs = taskInputs({ invoker: inv, backupSession: i.backupSession, repository, image: i.image, pushgatewayUrl: i.pushgatewayUrl });
  const hooks: Partial<BackupHooks & RestoreHooks> = inv.spec?.hooks ?? {};
  return resolveTask(task, functions, inputs, {
    params: taskRef.params,
    tempDir: inv.spec?.tempDir,
    podSecurityContext: inv.spec?.runtimeSettings?.pod?.securityContext,
    hooks: {
      kind: restoring ? "restore" : "backup",
      pre: !!(restoring ? hooks.preRestore : hooks.preBackup),
      post: !!(restoring ? hooks.postRestore : hooks.postBackup),
    },
  });
}
