// Semantic checks across the whole rendered set, beyond what a schema can say: duplicates,
// references to a missing Repository or Task, cron schedules, retention that keeps nothing, and
// usage policies that forbid a cross-namespace reference.
import { CronExpressionParser } from "cron-parser";
import type { BackupBlueprintSpec, BackupConfigurationSpec, RepositorySpec, RetentionPolicy } from "../schema/types.generated.ts";
import type { RenderedObject, SourceError } from "./model.ts";
import { inventoryId, objectName } from "./model.ts";

export interface CheckOptions {
  /** Repositories and Tasks that exist outside the policy set (in the cluster, or named on the command line). */
  externalRepositories?: Set<string>; // "<namespace>/<name>"
  externalTasks?: Set<string>;
  /** When true, a Task reference that is not in the set nor in externalTasks is an error. */
  requireTasks?: boolean;
}

/** Stash community Tasks that ship with the operator. */
export const BUILTIN_TASKS = new Set(["pvc-backup", "pvc-restore"]);

type Locate = (o: RenderedObject, field: string) => number;

export function checkCron(schedule: unknown): string | undefined {
  if (typeof schedule !== "string" || !schedule.trim()) return "is empty";
  const s = schedule.trim();
  if (!s.startsWith("@") && s.split(/\s+/).length !== 5) return `"${s}" is not a 5-field cron schedule (minute hour day-of-month month day-of-week)`;
  try {
    CronExpressionParser.parse(s, { strict: false });
    return undefined;
  } catch (e) {
    return `"${s}" is not a valid cron schedule: ${(e as Error).message}`;
  }
}

export function retentionKeepsNothing(r: Partial<RetentionPolicy> | undefined): boolean {
  if (!r) return false;
  const keeps = (["keepLast", "keepHourly", "keepDaily", "keepWeekly", "keepMonthly", "keepYearly"] as const).some((k) => Number(r[k] ?? 0) > 0);
  return !keeps && !(Array.isArray(r.keepTags) && r.keepTags.length > 0);
}

export function checkSet(objects: RenderedObject[], locate: Locate, opts: CheckOptions = {}): SourceError[] {
  const errors: SourceError[] = [];
  const err = (o: RenderedObject, field: string, message: string) =>
    errors.push({ file: o.file, line: locate(o, field), object: o.fromName ?? objectName(o.object), field, message });

  const seen = new Map<string, RenderedObject>();
  const repos = new Map<string, RenderedObject>();
  const tasks = new Set<string>();
  for (const o of objects) {
    const id = inventoryId(o.object);
    const prev = seen.get(id);
    if (prev) err(o, "metadata.name", `duplicate: ${objectName(o.object)} is also defined in ${prev.file}:${prev.line}`);
    else seen.set(id, o);
    if (o.object.kind === "Repository") repos.set(`${o.object.metadata.namespace}/${o.object.metadata.name}`, o);
    if (o.object.kind === "Task") tasks.add(o.object.metadata.name!);
  }

  for (const o of objects) {
    const { kind } = o.object;
    // A document that failed its schema was reported already and is still checked here: read defensively.
    const spec = o.object.spec as Partial<BackupConfigurationSpec & BackupBlueprintSpec> | undefined;
    const ns = o.object.metadata.namespace ?? "";
    if (kind === "BackupConfiguration" || kind === "BackupBlueprint") {
      if (kind === "BackupConfiguration" || spec?.schedule !== undefined) {
        const bad = checkCron(spec?.schedule);
        if (bad) err(o, "spec.schedule", bad);
      }
      const rp = spec?.retentionPolicy;
      if (retentionKeepsNothing(rp))
        err(
          o,
          o.from === "BackupPolicy" ? "spec.retention" : "spec.retentionPolicy",
          "retention keeps nothing: set at least one keep* value, or every snapshot would be forgotten",
        );
      const taskName = spec?.task?.name;
      if (taskName && !tasks.has(taskName) && !BUILTIN_TASKS.has(taskName) && !opts.externalTasks?.has(taskName) && opts.requireTasks !== false)
        err(o, "spec.task.name", `Task "${taskName}" is not defined in the policies nor known to the cluster`);
    }
    if (kind === "BackupConfiguration") {
      const ref = spec?.repository;
      if (!ref?.name) continue;
      const repoNs = ref.namespace ?? ns;
      const key = `${repoNs}/${ref.name}`;
      const repo = repos.get(key);
      if (!repo) {
        if (!opts.externalRepositories?.has(key))
          err(
            o,
            o.from === "BackupPolicy" ? "spec.repository" : "spec.repository.name",
            `Repository ${key} is not defined in the policies nor present in the cluster`,
          );
        continue;
      }
      if (repoNs !== ns) {
        const from = (repo.object.spec as Partial<RepositorySpec> | undefined)?.usagePolicy?.allowedNamespaces?.from ?? "Same";
        if (from === "Same")
          err(
            o,
            "spec.repository.namespace",
            `Repository ${key} allows only its own namespace (usagePolicy.allowedNamespaces.from: Same); ${ns} may not use it`,
          );
      }
    }
  }
  return errors;
}
