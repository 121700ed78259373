// Pure checks the admission webhooks can call where the answer is known at admission time:
// a Task naming a missing Function, a Function variable nobody provides, an AppBinding whose
// Secret is absent. Each returns violations {field, message}; an empty list admits.
import { variablesOf } from "./envsubst.ts";
import type { FunctionObject, Param, TaskObject } from "./resolve-task.ts";
import { appBindingEndpoint, appBindingSecretRef, type AppBindingLike } from "./app-binding.ts";
import { TaskError } from "./task-errors.ts";

export interface Violation {
  field: string;
  message: string;
}

/** The variables the operator provides to every Task (stash-behaviour.md 2.6, plus the documented extras). */
export const OPERATOR_VARIABLES: readonly string[] = [
  "NAMESPACE",
  "BACKUP_SESSION",
  "RESTORE_SESSION",
  "INVOKER_KIND",
  "INVOKER_NAME",
  "REPOSITORY_NAME",
  "REPOSITORY_NAMESPACE",
  "REPOSITORY_PROVIDER",
  "REPOSITORY_BUCKET",
  "REPOSITORY_PREFIX",
  "REPOSITORY_ENDPOINT",
  "REPOSITORY_REGION",
  "REPOSITORY_INSECURE_TLS",
  "REPOSITORY_SECRET_NAME",
  "REPOSITORY_SECRET_NAMESPACE",
  "REPOSITORY_URL",
  "MAX_CONNECTIONS",
  "HOSTNAME",
  "SOURCE_HOSTNAME",
  "TARGET_KIND",
  "TARGET_NAME",
  "TARGET_NAMESPACE",
  "TARGET_API_VERSION",
  "TARGET_MOUNT_PATH",
  "TARGET_PATHS",
  "TARGET_APP_REPLICAS",
  "DRIVER_ARGS",
  "EXCLUDE_PATTERNS",
  "INCLUDE_PATTERNS",
  "RESTORE_PATHS",
  "RESTORE_SNAPSHOTS",
  "RETENTION_KEEP_LAST",
  "RETENTION_KEEP_HOURLY",
  "RETENTION_KEEP_DAILY",
  "RETENTION_KEEP_WEEKLY",
  "RETENTION_KEEP_MONTHLY",
  "RETENTION_KEEP_YEARLY",
  "RETENTION_KEEP_TAGS",
  "RETENTION_PRUNE",
  "RETENTION_DRY_RUN",
  "ENABLE_CACHE",
  "INTERIM_DATA_DIR",
  "PROMETHEUS_PUSHGATEWAY_URL",
  "PROMETHEUS_JOB_NAME",
  "STASH_DOCKER_REGISTRY",
  "STASH_DOCKER_IMAGE",
  "STASH_IMAGE_TAG",
  "LICENSE_APISERVICE",
  "ADDON_IMAGE",
];

type Functions = ReadonlyMap<string, FunctionObject | null | undefined> | Readonly<Record<string, FunctionObject | null | undefined>>;

function get(functions: Functions, name: string): FunctionObject | null | undefined {
  if (functions instanceof Map) return functions.get(name);
  const rec = functions as Readonly<Record<string, FunctionObject | null | undefined>>;
  return Object.hasOwn(rec, name) ? rec[name] : undefined;
}

/**
 * Violations of a Task given the Functions that exist (absent name: not found). With
 * `invokerParams` (a BackupConfiguration's or RestoreSession's spec.task.params) every variable a
 * Function needs must also have a value; without them, a variable only an invoker can give is
 * allowed (a Task may leave it to its users).
 */
export function taskViolations(task: TaskObject, functions: Functions, invokerParams?: Param[], fieldPrefix = "spec"): Violation[] {
  const out: Violation[] = [];
  const provided = new Set<string>([...OPERATOR_VARIABLES, ...(invokerParams ?? []).map((p) => p.name)]);
  for (const [i, step] of (task.spec?.steps ?? []).entries()) {
    const name = step?.name;
    if (!name) continue;
    const fn = get(functions, name);
    if (!fn) {
      out.push({ field: `${fieldPrefix}.steps[${i}].name`, message: `Function ${JSON.stringify(name)} not found` });
      continue;
    }
    if (!invokerParams) continue;
    const stepParams = new Set((step.params ?? []).map((p) => p.name));
    for (const v of variablesOf(fn.spec ?? {}).required) {
      if (provided.has(v) || stepParams.has(v)) continue;
      out.push({
        field: `${fieldPrefix}.steps[${i}].params`,
        message: `Function ${name} needs parameter ${JSON.stringify(v)}: give it in the Task step's params or the invoker's spec.task.params`,
      });
    }
  }
  return out;
}

/** Violations of an invoker (BackupConfiguration / RestoreSession) naming `task`: missing Functions and parameters. */
export function invokerTaskViolations(
  invoker: { spec?: { task?: { name?: string; params?: Param[] } } },
  task: TaskObject | null,
  functions: Functions,
): Violation[] {
  const name = invoker.spec?.task?.name;
  if (!name) return [];
  if (!task) return [{ field: "spec.task.name", message: `Task ${JSON.stringify(name)} not found` }];
  return taskViolations(task, functions, invoker.spec?.task?.params ?? [], `Task ${name} spec`).map((v) => ({
    field: v.field.includes(".params") ? "spec.task.params" : "spec.task.name",
    message: `${v.field}: ${v.message}`,
  }));
}

/** Violations of an AppBinding: a reachable endpoint, a Secret named, and (when known) present. */
export function appBindingViolations(ab: AppBindingLike, secretExists?: boolean): Violation[] {
  const out: Violation[] = [];
  const asViolation = (e: unknown) => {
    if (e instanceof TaskError) out.push({ field: e.field ?? "spec", message: e.message.replace(/^AppBinding [^:]+: (field [^:]+: )?/, "") });
    else throw e;
  };
  try {
    appBindingEndpoint(ab, 0);
  } catch (e) {
    asViolation(e);
  }
  try {
    const s = appBindingSecretRef(ab);
    if (secretExists === false) out.push({ field: "spec.secret.name", message: `Secret ${s.namespace}/${s.name} not found` });
  } catch (e) {
    asViolation(e);
  }
  return out;
}
