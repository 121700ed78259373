// A Task and its Functions → the pod of a backup or restore Job, as Stash builds it
// (stash-behaviour.md 1.8): the Task and each Function pass through envsubst with the inputs
// (operator variables < Task step params < the invoker's task.params), each step becomes a
// container `<function name, "." → "-">-<index>`, every step but the last is an init-container,
// the pod never restarts and always has the `stash-tmp-dir` scratch volume. Pure.
//
// restash mounts `stash-tmp-dir` at /stash-tmp in every step: the steps hand their results to
// `update-status` through files there (see step-output.ts), so they must share it.
import type { V1ObjectMeta, V1PodSecurityContext } from "@kubernetes/client-node";
import type { TaskSpec } from "../../schema/types.generated.ts";
import { TMP_MOUNT_PATH, TMP_VOLUME } from "../names.ts";
import { substJson, type Unresolved } from "./envsubst.ts";
import { TaskError } from "./task-errors.ts";

export interface Param {
  name: string;
  value: string;
}

export interface FunctionObject {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta;
  spec?: {
    image?: string;
    command?: string[];
    args?: string[];
    workingDir?: string;
    ports?: unknown[];
    volumeMounts?: { name: string; mountPath: string; [k: string]: unknown }[];
    volumeDevices?: unknown[];
    runtimeSettings?: Record<string, unknown>;
    podSecurityPolicyName?: string;
  };
}

/** A Task's volume: any Kubernetes volume source, by name (the CRD keeps the source open). */
export type TaskVolume = NonNullable<TaskSpec["volumes"]>[number];

export interface TaskObject {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta;
  spec?: { steps?: { name?: string; params?: Param[] }[]; volumes?: TaskVolume[] };
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  ports?: unknown[];
  env?: unknown[];
  envFrom?: unknown[];
  volumeMounts: { name: string; mountPath: string; [k: string]: unknown }[];
  volumeDevices?: unknown[];
  [k: string]: unknown;
}

export interface TaskPodSpec {
  initContainers: Container[];
  containers: Container[];
  volumes: TaskVolume[];
  restartPolicy: "Never";
  securityContext: Record<string, unknown>;
}

/** Which of the invoker's hooks the pod runs (Stash: preBackup/postBackup, preRestore/postRestore). */
export interface TaskHooks {
  kind: "backup" | "restore";
  pre?: boolean;
  post?: boolean;
}

export interface ResolveOptions {
  /** The invoker's hooks: a `pre-task-hook` init-container first, a `post-task-hook` container last. */
  hooks?: TaskHooks;
  /** The invoker's spec.task.params: they win over the Task's step params. */
  params?: Param[];
  /** The invoker's spec.tempDir (medium, sizeLimit) for the stash-tmp-dir emptyDir. */
  tempDir?: { medium?: string; sizeLimit?: string | number };
  /** The invoker's runtimeSettings.pod.securityContext, laid over Stash's default runAsUser 65535. */
  podSecurityContext?: V1PodSecurityContext;
}

/** Stash's pod default: the Task pod runs as nobody unless the invoker says otherwise. */
export const DEFAULT_RUN_AS_USER = 65535;

/** Container name of step `index`: `<function name, "." → "-">-<index>`. */
export function stepContainerName(functionName: string, index: number): string {
  return `${functionName.replace(/\./g, "-")}-${index}`;
}

const CONTAINER_SETTINGS = ["resources", "livenessProbe", "readinessProbe", "lifecycle", "securityContext", "env", "envFrom"] as const;

function paramsMap(params: Param[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of params ?? []) if (p && typeof p.name === "string") out[p.name] = String(p.value ?? "");
  return out;
}

function lookup(functions: ReadonlyMap<string, FunctionObject> | Readonly<Record<string, FunctionObject>>, name: string): FunctionObject | undefined {
  if (functions instanceof Map) return functions.get(name);
  const rec = functions as Readonly<Record<string, FunctionObject>>;
  return Object.hasOwn(rec, name) ? rec[name] : undefined;
}

function missingMessage(where: string, missing: Unresolved[]): string {
  const list = missing.map((m) => `${m.field} uses \${${m.variable}}`).join(", ");
  const verb = missing.length === 1 ? "has" : "have";
  return `${where}${list}, which ${verb} no value and no default; set it in the Task step params or in the invoker's spec.task.params`;
}

/**
 * The pod of the Job that runs `task`. `functions` holds every Function by name; `inputs` are the
 * operator variables (taskInputs). Throws TaskError FunctionNotFound / MissingParameter naming the
 * Task, step, field and variable.
 */
export function resolveTask(
  task: TaskObject,
  functions: ReadonlyMap<string, FunctionObject> | Readonly<Record<string, FunctionObject>>,
  inputs: Readonly<Record<string, string>>,
  opts: ResolveOptions = {},
): TaskPodSpec {
  const taskName = task.metadata?.name ?? "<unnamed>";
  const taskRef = { kind: "Task", name: taskName };
  const steps = task.spec?.steps ?? [];
  if (steps.length === 0) throw new TaskError("MissingParameter", "has no steps", { object: taskRef, field: "spec.steps" });
  const invokerParams = paramsMap(opts.params);

  // The Task itself (volumes, step params) is resolved with the operator variables and the invoker's params.
  const taskVars = { ...inputs, ...invokerParams };
  const resolvedTask = substJson({ steps, volumes: task.spec?.volumes ?? [] }, taskVars, "spec");
  if (resolvedTask.unresolved.length) throw new TaskError("MissingParameter", missingMessage("", resolvedTask.unresolved), { object: taskRef });

  // Every Function first: a missing one is the problem to report, not the variables of the others.
  for (const [i, step] of resolvedTask.value.steps.entries()) {
    if (!step?.name) throw new TaskError("FunctionNotFound", "names no Function", { object: taskRef, field: `spec.steps[${i}].name` });
    if (!lookup(functions, step.name))
      throw new TaskError("FunctionNotFound", `Function ${JSON.stringify(step.name)} not found`, { object: taskRef, field: `spec.steps[${i}].name` });
  }
  const containers: Container[] = [];
  for (const [i, step] of resolvedTask.value.steps.entries()) {
    const fnName = step.name!;
    const fn = lookup(functions, fnName)!;
    const image = fn.spec?.image;
    const vars: Record<string, string> = { ...inputs, ...paramsMap(step.params), ...invokerParams };
    if (image !== undefined && !Object.hasOwn(vars, "ADDON_IMAGE")) vars.ADDON_IMAGE = substJson(image, vars, "", { lenient: true }).value;
    const { value: spec, unresolved } = substJson(fn.spec ?? {}, vars, "spec");
    if (unresolved.length)
      throw new TaskError("MissingParameter", missingMessage(`step ${i} of Task ${taskName}: `, unresolved), { object: { kind: "Function", name: fnName } });
    if (!spec.image) throw new TaskError("MissingParameter", "has no image", { object: { kind: "Function", name: fnName }, field: "spec.image" });

    const c: Container = { name: stepContainerName(fnName, i), image: spec.image, volumeMounts: [] };
    if (spec.command?.length) c.command = spec.command;
    if (spec.args?.length) c.args = spec.args;
    if (spec.workingDir) c.workingDir = spec.workingDir;
    if (spec.ports?.length) c.ports = spec.ports;
    const mounts = [...(spec.volumeMounts ?? [])];
    if (!mounts.some((m) => m.name === TMP_VOLUME)) mounts.push({ name: TMP_VOLUME, mountPath: TMP_MOUNT_PATH });
    c.volumeMounts = mounts;
    if (spec.volumeDevices?.length) c.volumeDevices = spec.volumeDevices;
    const rs = (spec.runtimeSettings ?? {}) as Record<string, unknown>;
    for (const k of CONTAINER_SETTINGS) if (rs[k] !== undefined) (c as Record<string, unknown>)[k] = rs[k];
    containers.push(c);
  }

  if (opts.hooks?.pre || opts.hooks?.post) {
    const all = containers.flatMap((c) => c.volumeMounts);
    const mounts = all.filter((m, i) => all.findIndex((x) => x.name === m.name && x.mountPath === m.mountPath) === i);
    if (opts.hooks.pre) containers.unshift(hookContainer(PRE_TASK_HOOK, opts.hooks.kind === "backup" ? "preBackup" : "preRestore", inputs, mounts));
    if (opts.hooks.post) containers.push(hookContainer(POST_TASK_HOOK, opts.hooks.kind === "backup" ? "postBackup" : "postRestore", inputs, mounts));
  }

  const tmp: Record<string, unknown> = {};
  if (opts.tempDir?.medium) tmp.medium = opts.tempDir.medium;
  if (opts.tempDir?.sizeLimit !== undefined) tmp.sizeLimit = opts.tempDir.sizeLimit;
  const volumes = [...resolvedTask.value.volumes.filter((v) => v?.name !== TMP_VOLUME), { name: TMP_VOLUME, emptyDir: tmp }];

  return {
    initContainers: containers.slice(0, -1),
    containers: containers.slice(-1),
    volumes,
    restartPolicy: "Never",
    securityContext: { runAsUser: DEFAULT_RUN_AS_USER, ...(opts.podSecurityContext ?? {}) },
  };
}

export const PRE_TASK_HOOK = "pre-task-hook";
export const POST_TASK_HOOK = "post-task-hook";

/**
 * Stash's hook executor in a Task pod (stash-behaviour.md 7): the runner's `run-hook` for one
 * hook type, with every volume the steps mount (a hook may read what a step wrote).
 */
export function hookContainer(name: string, hookType: string, inputs: Readonly<Record<string, string>>, mounts: Container["volumeMounts"]): Container {
  const template = {
    image: "${STASH_DOCKER_REGISTRY:=ghcr.io/restash}/${STASH_DOCKER_IMAGE:=restash}:${STASH_IMAGE_TAG:=latest}",
    args: [
      "run-hook",
      "--backupsession=${BACKUP_SESSION:=}",
      "--restoresession=${RESTORE_SESSION:=}",
      "--invoker-kind=${INVOKER_KIND:=}",
      "--invoker-name=${INVOKER_NAME:=}",
      "--target-kind=${TARGET_KIND:=}",
      "--target-namespace=${TARGET_NAMESPACE:=}",
      "--target-name=${TARGET_NAME:=}",
      `--hook-type=${hookType}`,
      "--hostname=${HOSTNAME:=host-0}",
      "--output-dir=${outputDir:=/stash-tmp/output}",
      "--metrics-enabled=true",
      "--metrics-pushgateway-url=${PROMETHEUS_PUSHGATEWAY_URL:=}",
    ],
  };
  const { value } = substJson(template, inputs, "", { lenient: true });
  return {
    name,
    image: value.image,
    args: value.args,
    env: [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
    volumeMounts: mounts,
  };
}
