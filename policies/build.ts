// Files of one revision -> the objects they produce, or the errors that stop the revision.
// parse -> refuse secrets/status -> schema-validate -> resolve defaults -> render -> validate the
// rendered objects -> cross-object checks. Pure apart from the schema module's compiled schemas.
import { createHash } from "node:crypto";
import { parseYaml, knownKind, validateObject, type LoadedObject } from "../schema/validate.ts";
import type { BuildResult, KubeObject, PolicyFile, RenderedObject, SourceError } from "./model.ts";
import { CLUSTER_SCOPED_KINDS, RESTASH_GROUP, STASH_GROUP, groupOf, objectName } from "./model.ts";
import { fileFieldLocator, type FieldLocator } from "../schema/field-lines.ts";
import { findInlineSecrets } from "./secrets.ts";
import { DEFAULTS_FILE_NAMES, dirOf, resolveDefaults, type DefaultsEntry, type PolicyDefaultsSpec } from "./defaults.ts";
import { renderBackupPolicy } from "./render-policy.ts";
import { checkSet, type CheckOptions } from "./check.ts";

export interface BuildOptions {
  /** Namespace for namespaced documents that name none (the PolicySource's namespace). */
  defaultNamespace: string;
}

/** Stash kinds a policy repository may hold (restash's own kinds are rendered away). */
const ALLOWED_STASH_KINDS = new Set(["Repository", "BackupConfiguration", "BackupBlueprint", "Task", "Function", "RestoreSession"]);

interface Doc {
  loaded: LoadedObject;
  locate: FieldLocator;
}

/** What one file yields on its own; cacheable by path and content. */
export interface ParsedFile {
  docs: Doc[];
  errors: SourceError[];
}

/** Per-file results of the previous build, keyed by path and content (a resync re-parses only changed files). */
export type FileCache = Map<string, ParsedFile>;

function parseFile(f: PolicyFile): ParsedFile {
  const errors: SourceError[] = [];
  const docs: Doc[] = [];
  // Lazy: only files with something to point at pay for the position-tracking parse.
  const locate = fileFieldLocator(f.content);
  const parsed = parseYaml(f.path, f.content);
  errors.push(...parsed.errors);
  for (const loaded of parsed.objects) {
    const obj = loaded.object as KubeObject;
    const at = (field: string, message: string) =>
      errors.push({ file: f.path, line: locate.line(loaded.docIndex, field), object: objectName(obj), field, message });
    const secrets = findInlineSecrets(obj);
    if (secrets.length) {
      for (const s of secrets) at(s.field, `inline credential refused: ${s.what}`);
      continue;
    }
    const group = groupOf(obj.apiVersion ?? "");
    if (
      !knownKind(obj.apiVersion, obj.kind) ||
      (group !== RESTASH_GROUP && group !== STASH_GROUP) ||
      (group === STASH_GROUP && !ALLOWED_STASH_KINDS.has(obj.kind)) ||
      obj.kind === "PolicySource"
    ) {
      at(
        "kind",
        `unknown or unsupported kind ${obj.apiVersion}/${obj.kind}: a policy repository holds Stash Repository, BackupConfiguration, BackupBlueprint, Task, Function and restash BackupPolicy/BackupPolicyDefaults documents`,
      );
      continue;
    }
    if (obj.status !== undefined) {
      at("status", "status is written by the cluster, not by policy files; remove it");
      continue;
    }
    const schemaErrors = validateObject(loaded, f.content);
    if (schemaErrors.length) {
      errors.push(...schemaErrors);
      continue;
    }
    if (obj.kind === "BackupPolicyDefaults" && !DEFAULTS_FILE_NAMES.has(f.path.split("/").pop()!)) {
      at("kind", "BackupPolicyDefaults belongs in a file named defaults.yaml (it applies to that directory and below)");
      continue;
    }
    docs.push({ loaded, locate });
  }
  return { docs, errors };
}

export function buildRevision(files: PolicyFile[], opts: BuildOptions, cache?: FileCache): BuildResult {
  const errors: SourceError[] = [];
  const docs: Doc[] = [];
  const used = new Map<string, ParsedFile>();
  for (const f of files) {
    const key = `${f.path}\0${createHash("sha1").update(f.content).digest("hex")}`;
    const parsed = cache?.get(key) ?? parseFile(f);
    used.set(key, parsed);
    errors.push(...parsed.errors);
    docs.push(...parsed.docs);
  }
  if (cache) {
    cache.clear();
    for (const [k, v] of used) cache.set(k, v);
  }

  const defaults: DefaultsEntry[] = [];
  const defaultsDirs = new Map<string, string>();
  for (const d of docs) {
    if (d.loaded.object.kind !== "BackupPolicyDefaults") continue;
    const dir = dirOf(d.loaded.file);
    const prev = defaultsDirs.get(dir);
    if (prev) {
      errors.push({
        file: d.loaded.file,
        line: d.loaded.line,
        object: objectName(d.loaded.object as KubeObject),
        message: `a second BackupPolicyDefaults for directory "${dir || "."}" (first in ${prev})`,
      });
      continue;
    }
    defaultsDirs.set(dir, d.loaded.file);
    defaults.push({ dir, file: d.loaded.file, spec: ((d.loaded.object as KubeObject).spec ?? {}) as PolicyDefaultsSpec });
  }

  const objects: RenderedObject[] = [];
  const originLocator = new Map<RenderedObject, Doc>();
  for (const d of docs) {
    const obj = structuredClone(d.loaded.object) as KubeObject;
    const { file, line } = d.loaded;
    if (obj.kind === "BackupPolicyDefaults") continue;
    if (obj.kind === "BackupPolicy") {
      const resolved = resolveDefaults(file, defaults);
      const r = renderBackupPolicy(obj, resolved.spec, opts.defaultNamespace);
      for (const p of r.problems)
        errors.push({ file, line: d.locate.line(d.loaded.docIndex, p.field), object: objectName(obj), field: p.field, message: p.message });
      for (const out of [r.repository, r.backupConfiguration]) {
        if (!out) continue;
        const ro: RenderedObject = { object: out, file, line, from: "BackupPolicy", fromName: `BackupPolicy ${out.metadata.namespace}/${obj.metadata.name}` };
        objects.push(ro);
        originLocator.set(ro, d);
      }
      continue;
    }
    if (CLUSTER_SCOPED_KINDS.has(obj.kind)) {
      if (obj.metadata.namespace) delete obj.metadata.namespace;
    } else obj.metadata.namespace ??= opts.defaultNamespace;
    const ro: RenderedObject = { object: obj, file, line, from: obj.kind };
    objects.push(ro);
    originLocator.set(ro, d);
  }

  // Rendered objects must satisfy the Stash schemas too; errors point at the policy document.
  for (const o of objects) {
    if (o.from !== "BackupPolicy") continue;
    for (const e of validateObject({ file: o.file, line: o.line, docIndex: 0, object: o.object }, "")) {
      errors.push({ file: o.file, line: o.line, object: `${o.fromName} (rendered ${objectName(o.object)})`, field: e.field, message: e.message });
    }
  }

  const locate = (o: RenderedObject, field: string) => {
    const d = originLocator.get(o);
    if (!d) return o.line;
    if (o.from === "BackupPolicy") {
      const mapped =
        field === "spec.repository.name" || field === "spec.repository" ? "spec.repository" : field.replace("spec.retentionPolicy", "spec.retention");
      return d.locate.line(d.loaded.docIndex, mapped);
    }
    return d.locate.line(d.loaded.docIndex, field);
  };
  objects.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line));
  sortErrors(errors);
  return { objects, errors, locate };
}

export function sortErrors(errors: SourceError[]): SourceError[] {
  return errors.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line));
}

/** Cross-object checks over a built revision (references, duplicates, cron, retention). */
export function checkRevision(built: BuildResult, opts: CheckOptions = {}): SourceError[] {
  return sortErrors([...built.errors, ...checkSet(built.objects, built.locate ?? ((o) => o.line), opts)]);
}

/** Build and check in one call (the CLI's offline path). */
export function buildAndCheck(files: PolicyFile[], opts: BuildOptions & CheckOptions): BuildResult {
  const built = buildRevision(files, opts);
  return { ...built, errors: checkRevision(built, opts) };
}
