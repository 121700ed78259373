// ajv's errors → one human sentence per field. Pure.
import type { ErrorObject } from "ajv";
import type { FieldPath } from "./field-lines.ts";
import type { JsonSchema } from "./json-schema.ts";

/** The params ajv gives the keywords described here, each set only by its own keyword. */
interface AjvParams {
  missingProperty: string;
  additionalProperty: string;
  allowedValues: unknown[];
  type: string | string[];
  format: string;
  comparison: string;
  limit: number;
  pattern: string;
}

export interface FieldProblem {
  /** Path of the field the problem is about (for a missing or unknown field: that field). */
  path: FieldPath;
  /** Path of the node that exists in the document (for a missing field: its parent). */
  locate: FieldPath;
  message: string;
}

/** "spec.members[0].task.name" */
export function formatPath(path: FieldPath): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** An ajv instancePath ("/spec/members/0/task") as segments; numbers stay numbers. */
export function parsePointer(pointer: string): FieldPath {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** A short, safe rendering of a value for a message (long strings are cut). */
export function describeValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? v.slice(0, 57) + "..." : v);
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return String(v);
}

const TYPE_NAMES: Record<string, string> = {
  string: "a string",
  integer: "an integer",
  number: "a number",
  boolean: "a boolean (true or false)",
  object: "a mapping",
  array: "a list",
  null: "null",
};
const typeName = (t: unknown) => (Array.isArray(t) ? t.map((x) => TYPE_NAMES[x] ?? x).join(" or ") : (TYPE_NAMES[String(t)] ?? String(t)));

const FORMAT_HINTS: Record<string, string> = {
  "date-time": "an RFC 3339 date-time such as 2024-01-31T12:00:00Z",
  date: "a date such as 2024-01-31",
  int32: "an integer that fits in 32 bits",
  int64: "an integer that fits in 64 bits",
  byte: "base64-encoded data",
};

/** Plain words for the patterns our CRDs use; any other pattern is quoted as it is. */
function patternHint(pattern: string): string {
  if (pattern.includes("(ns|us|")) return "a Go duration such as 30m, 2h or 1h30m (units ns, us, ms, s, m, h; there is no d)";
  if (pattern.includes("[KMGTPE]i")) return "a quantity such as 512Mi or 2Gi";
  return `text matching ${pattern}`;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

function unknownFieldMessage(name: string, allowed: string[]): string {
  const close = allowed.filter((a) => a.toLowerCase() === name.toLowerCase() || editDistance(a, name) <= 2);
  if (close.length) return `unknown field; did you mean "${close[0]}"?`;
  const list = allowed.length <= 16 ? ` (known fields: ${allowed.join(", ")})` : "";
  return `unknown field${list}`;
}

/** Turns ajv's error list into problems, one per field and cause, in document order of paths. */
export function describeAjvErrors(errors: ErrorObject[]): FieldProblem[] {
  const out: FieldProblem[] = [];
  const seen = new Set<string>();
  const add = (p: FieldProblem) => {
    const key = `${formatPath(p.path)}|${p.message}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(p);
  };
  // A value of the wrong type gets one message: its other rules (format, range) add nothing.
  const wrongType = new Set(errors.filter((e) => e.keyword === "type" && !/\/(anyOf|oneOf)\//.test(e.schemaPath)).map((e) => e.instancePath));
  for (const e of errors) {
    // Branch failures of anyOf/oneOf are summarised by the anyOf/oneOf error itself.
    if (e.schemaPath.includes("/anyOf/") || e.schemaPath.includes("/oneOf/")) continue;
    if (e.keyword !== "type" && wrongType.has(e.instancePath)) continue;
    const at = parsePointer(e.instancePath);
    // ajv's params per keyword (its KeywordErrorDefinitions), read in the case of that keyword only.
    const p = e.params as AjvParams;
    switch (e.keyword) {
      case "required":
        add({ path: [...at, p.missingProperty], locate: at, message: "required field is missing" });
        break;
      case "additionalProperties": {
        const allowed = Object.keys((e.parentSchema as JsonSchema | undefined)?.properties ?? {});
        add({ path: [...at, p.additionalProperty], locate: [...at, p.additionalProperty], message: unknownFieldMessage(p.additionalProperty, allowed) });
        break;
      }
      case "enum":
        add({
          path: at,
          locate: at,
          message: `must be one of ${(p.allowedValues as unknown[]).map((v) => String(v)).join(", ")} (got ${describeValue(e.data)})`,
        });
        break;
      case "type":
        add({
          path: at,
          locate: at,
          message: `must be ${typeName(p.type)} (got ${typeof e.data === "object" || e.data === null ? describeValue(e.data) : `${typeof e.data} ${describeValue(e.data)}`})`,
        });
        break;
      case "anyOf": {
        const branches = (e.schema as (JsonSchema | undefined)[]).map((s) => s?.type).filter(Boolean);
        const what = branches.length ? branches.map(typeName).join(" or ") : "one of the allowed shapes";
        add({ path: at, locate: at, message: `must be ${what} (got ${describeValue(e.data)})` });
        break;
      }
      case "oneOf": {
        // oneOf over `required` alone means "exactly one of these fields" (e.g. a backend provider).
        const fields = (e.schema as (JsonSchema | undefined)[]).map((b) =>
          Array.isArray(b?.required) && b.required.length === 1 && Object.keys(b).length === 1 ? b.required[0] : undefined,
        );
        if (fields.every((f) => f !== undefined)) {
          const set = fields.filter((f) => e.data && typeof e.data === "object" && f in (e.data as object));
          const found = set.length ? `found ${set.join(" and ")}` : "found none";
          add({ path: at, locate: at, message: `must set exactly one of ${fields.join(", ")} (${found})` });
        } else add({ path: at, locate: at, message: "must match exactly one of the allowed shapes" });
        break;
      }
      case "format":
        add({ path: at, locate: at, message: `must be ${FORMAT_HINTS[p.format] ?? `in ${p.format} format`} (got ${describeValue(e.data)})` });
        break;
      case "minimum":
      case "maximum":
      case "exclusiveMinimum":
      case "exclusiveMaximum":
        add({ path: at, locate: at, message: `must be ${p.comparison} ${p.limit} (got ${describeValue(e.data)})` });
        break;
      case "pattern":
        add({ path: at, locate: at, message: `must be ${patternHint(p.pattern)} (got ${describeValue(e.data)})` });
        break;
      case "minLength":
        add({ path: at, locate: at, message: p.limit === 1 ? "must not be empty" : `must be at least ${p.limit} characters long` });
        break;
      case "maxLength":
        add({ path: at, locate: at, message: `must be at most ${p.limit} characters long` });
        break;
      case "minItems":
        add({ path: at, locate: at, message: `must have at least ${p.limit} item(s)` });
        break;
      case "maxItems":
        add({ path: at, locate: at, message: `must have at most ${p.limit} item(s)` });
        break;
      default:
        add({ path: at, locate: at, message: e.message ?? `fails the ${e.keyword} rule` });
    }
  }
  return out;
}
