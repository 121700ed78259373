// Offline validation of Kubernetes objects against the CRDs in schema/crds: the same schemas the
// API server enforces, compiled once with ajv. Errors name the file, line, object and field.
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsPlugin from "ajv-formats";
import { crdFiles, CRD_DIR, type CrdFile } from "./install.ts";
import { openApiToAjv, shareSubschemas } from "./openapi-to-ajv.ts";
import type { JsonSchema } from "./json-schema.ts";
import { describeAjvErrors, formatPath, type FieldProblem } from "./error-messages.ts";
import { fieldLocator, type FieldPath } from "./field-lines.ts";
import { describeObject, parseYaml, type LoadedObject } from "./parse-yaml.ts";
import type { SourceError } from "./source-error.ts";

export type { SourceError } from "./source-error.ts";
export { formatError } from "./source-error.ts";
export type { LoadedObject } from "./parse-yaml.ts";
export { parseYaml } from "./parse-yaml.ts";

const addFormats = addFormatsPlugin as unknown as (ajv: Ajv) => Ajv;

export interface ServedKind {
  group: string;
  version: string;
  apiVersion: string;
  kind: string;
  plural: string;
  scope: "Namespaced" | "Cluster";
  /** The CRD file that defines it. */
  file: string;
}

export interface Validator {
  knownKind(apiVersion: string, kind: string): boolean;
  servedKind(apiVersion: string, kind: string): ServedKind | undefined;
  kinds(): ServedKind[];
  validateObject(obj: LoadedObject, source?: string): SourceError[];
}

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function newAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictTypes: false, strictTuples: false, strictRequired: false });
  addFormats(ajv);
  ajv.addFormat("int32", { type: "number", validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isInteger(n) });
  return ajv;
}

/** The problems ajv does not check: what the API server requires of metadata. */
function metadataProblems(obj: Record<string, unknown>, scope: ServedKind["scope"]): FieldProblem[] {
  const md: Record<string, unknown> = isMapping(obj.metadata) ? obj.metadata : {};
  const out: FieldProblem[] = [];
  const at = (path: FieldPath, message: string, locate = path) => out.push({ path, locate, message });
  if (md.name === undefined || md.name === null || md.name === "") at(["metadata", "name"], "required field is missing", ["metadata"]);
  else if (typeof md.name !== "string") at(["metadata", "name"], `must be a string (got ${typeof md.name})`);
  else if (md.name.length > 253 || !DNS_SUBDOMAIN.test(md.name))
    at(
      ["metadata", "name"],
      `must be a lowercase RFC 1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters (got ${JSON.stringify(md.name)})`,
    );
  if (md.namespace !== undefined && scope === "Namespaced") {
    if (typeof md.namespace !== "string" || md.namespace.length > 63 || !DNS_LABEL.test(md.namespace))
      at(["metadata", "namespace"], `must be a lowercase RFC 1123 label of at most 63 characters (got ${JSON.stringify(md.namespace)})`);
  }
  for (const k of ["labels", "annotations"] as const) {
    const m = md[k];
    if (m === undefined || m === null) continue;
    if (typeof m !== "object" || Array.isArray(m)) at(["metadata", k], "must be a mapping of strings to strings");
    else for (const [key, v] of Object.entries(m)) if (typeof v !== "string") at(["metadata", k, key], `must be a string (got ${typeof v}); quote it in YAML`);
  }
  return out;
}

/** Compiles every served version of every CRD once. Throws (naming the CRD file) if a schema does not compile. */
export function createValidator(files: CrdFile[] = crdFiles(), opts: { crdDir?: string } = {}): Validator {
  const ajv = newAjv();
  const served = new Map<string, { kind: ServedKind; validate: ValidateFunction }>();
  const byGroupKind = new Map<string, string[]>();
  const crdDir = opts.crdDir ?? CRD_DIR;
  const pending: { kind: ServedKind; schema: JsonSchema }[] = [];
  for (const { file, crd } of files) {
    const spec = crd.spec;
    for (const v of spec?.versions ?? []) {
      if (!v.served) continue;
      const apiVersion = `${spec.group}/${v.name}`;
      const schema = v.schema?.openAPIV3Schema;
      if (!schema) throw new Error(`${relative(process.cwd(), file)}: version ${v.name} has no schema.openAPIV3Schema`);
      const kind: ServedKind = { group: spec.group, version: v.name, apiVersion, kind: spec.names.kind, plural: spec.names.plural, scope: spec.scope, file };
      pending.push({ kind, schema: openApiToAjv(schema) });
    }
  }
  // Sub-schemas shared by several kinds (hooks, targets, conditions) are compiled once: a third of the time.
  const { roots, shared } = shareSubschemas(pending.map((p) => p.schema));
  try {
    for (const [id, schema] of Object.entries(shared)) ajv.addSchema(schema, id);
  } catch (e) {
    throw new Error(`the CRD schemas in ${relative(process.cwd(), crdDir) || "."} do not compile: ${(e as Error).message}`, { cause: e });
  }
  pending.forEach(({ kind }, i) => {
    let validate: ValidateFunction;
    try {
      validate = ajv.compile(roots[i]);
    } catch (e) {
      throw new Error(`${relative(process.cwd(), kind.file)}: the openAPIV3Schema of ${kind.version} does not compile: ${(e as Error).message}`, { cause: e });
    }
    served.set(`${kind.apiVersion}|${kind.kind}`, { kind, validate });
    const gk = `${kind.group}|${kind.kind}`;
    byGroupKind.set(gk, [...(byGroupKind.get(gk) ?? []), kind.apiVersion]);
  });

  const servedKind = (apiVersion: string, kind: string) => served.get(`${apiVersion}|${kind}`)?.kind;

  function validateObject(loaded: LoadedObject, source?: string): SourceError[] {
    const obj: Record<string, unknown> = loaded.object;
    const object = describeObject(obj);
    let locate: ((p: FieldPath) => { line: number; column: number } | undefined) | undefined;
    const toError = (p: FieldProblem): SourceError => {
      if (!locate) {
        let text = source;
        if (text === undefined) {
          try {
            text = readFileSync(loaded.file, "utf8");
          } catch {
            text = undefined;
          }
        }
        locate = text !== undefined ? fieldLocator(text, loaded.docIndex) : () => undefined;
      }
      const pos = locate(p.locate);
      return { file: loaded.file, line: pos?.line ?? loaded.line, column: pos?.column, object, field: formatPath(p.path), message: p.message };
    };

    const entry = served.get(`${obj.apiVersion}|${obj.kind}`);
    if (!entry) {
      const group = String(obj.apiVersion ?? "").includes("/") ? String(obj.apiVersion).split("/")[0] : "";
      const other = byGroupKind.get(`${group}|${obj.kind}`);
      const message = other
        ? `apiVersion ${JSON.stringify(obj.apiVersion)} is not served for kind ${obj.kind}; use ${other.join(" or ")}`
        : `unknown kind: no CRD in ${relative(process.cwd(), crdDir) || "."} serves apiVersion ${JSON.stringify(obj.apiVersion)} kind ${JSON.stringify(obj.kind)}`;
      return [toError({ path: other ? ["apiVersion"] : ["kind"], locate: other ? ["apiVersion"] : ["kind"], message })];
    }
    const problems = entry.validate(obj) ? [] : describeAjvErrors(entry.validate.errors ?? []);
    problems.push(...metadataProblems(obj, entry.kind.scope));
    return problems.map(toError);
  }

  return {
    knownKind: (apiVersion, kind) => served.has(`${apiVersion}|${kind}`),
    servedKind,
    kinds: () => [...served.values()].map((s) => s.kind),
    validateObject,
  };
}

// The process-wide validator over schema/crds, compiled on first use and never changed after.
let compiled: Validator | undefined;
export function defaultValidator(): Validator {
  compiled ??= createValidator();
  return compiled;
}

/** Whether a CRD in schema/crds serves this apiVersion and kind. */
export function knownKind(apiVersion: string, kind: string): boolean {
  return defaultValidator().knownKind(apiVersion, kind);
}

/**
 * Schema errors of one loaded object, each with its field path and line. `source` is the file's
 * text (read from obj.file when omitted, and only when there are errors to locate).
 */
export function validateObject(obj: LoadedObject, source?: string): SourceError[] {
  return defaultValidator().validateObject(obj, source);
}

/** parseYaml + validateObject for every object of a file: all errors, in file order. */
export function validateFile(file: string, content: string | Buffer): { objects: LoadedObject[]; errors: SourceError[] } {
  const { objects, errors } = parseYaml(file, content);
  const text = typeof content === "string" ? content : content.toString("utf8");
  const all = [...errors];
  for (const o of objects) all.push(...validateObject(o, text));
  all.sort((a, b) => a.line - b.line || (a.column ?? 0) - (b.column ?? 0));
  return { objects, errors: all };
}
