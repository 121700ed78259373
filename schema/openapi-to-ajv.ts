// A CRD's structural OpenAPI v3 schema → a JSON Schema ajv checks the way the API server does.
// Pure: the same input gives the same output, no I/O.

import type { JsonSchema } from "./json-schema.ts";

type Schema = JsonSchema;

/** Formats the API server checks that we check too; any other format is ignored, as the server does. */
export const CHECKED_FORMATS = new Set(["date-time", "date", "byte", "int32", "int64", "uuid", "email", "hostname", "ipv4", "ipv6", "uri"]);

/** Keywords the conversion drops: documentation, server-side behaviour, and API-server-only markers. */
const DROPPED = new Set(["description", "default", "example", "externalDocs", "nullable", "format"]);

/**
 * Converts one openAPIV3Schema node:
 * - a structural object with `properties` and without `x-kubernetes-preserve-unknown-fields`
 *   rejects unknown fields (`additionalProperties: false`), since the API server prunes or, with
 *   strict field validation, rejects them;
 * - `x-kubernetes-int-or-string` becomes "integer or string";
 * - `x-kubernetes-embedded-resource` allows apiVersion/kind/metadata;
 * - `nullable` allows null; other `x-kubernetes-*` keywords (list types, validations) are dropped.
 */
export function openApiToAjv(node: Schema): Schema {
  const out: Schema = {};
  for (const [k, v] of Object.entries(node)) {
    if (k.startsWith("x-kubernetes-") || DROPPED.has(k)) continue;
    if (k === "properties") out.properties = Object.fromEntries(Object.entries(v as Record<string, Schema>).map(([p, s]) => [p, openApiToAjv(s)]));
    else if (k === "items") out.items = Array.isArray(v) ? v.map(openApiToAjv) : openApiToAjv(v as Schema);
    else if (k === "additionalProperties") out.additionalProperties = typeof v === "object" ? openApiToAjv(v as Schema) : (v as boolean);
    else if (k === "anyOf" || k === "allOf" || k === "oneOf") out[k] = (v as Schema[]).map(openApiToAjv);
    else if (k === "not") out.not = openApiToAjv(v as Schema);
    else out[k] = v;
  }
  if (typeof node.format === "string" && CHECKED_FORMATS.has(node.format)) out.format = node.format;
  if (node["x-kubernetes-int-or-string"]) {
    delete out.type;
    out.anyOf ??= [{ type: "integer" }, { type: "string" }];
  }
  if (node["x-kubernetes-embedded-resource"] && out.properties) {
    out.properties = { apiVersion: { type: "string" }, kind: { type: "string" }, metadata: { type: "object" }, ...out.properties };
  }
  if (node.type === "object" && node.properties && !node["x-kubernetes-preserve-unknown-fields"] && node.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  if (node.nullable) {
    if (typeof out.type === "string") out.type = [out.type, "null"];
    if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
  }
  return out;
}

/**
 * Hoists object schemas that occur more than once (hooks, targets, runtime settings, conditions…)
 * into shared schemas referenced by `$ref`, so ajv generates their code once instead of once per
 * occurrence. Pure: the same schemas give the same ids and output.
 */
export function shareSubschemas(roots: Schema[], minChars = 200): { roots: Schema[]; shared: Record<string, Schema> } {
  const count = new Map<string, number>();
  const walk = (node: unknown) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (typeof node !== "object" || node === null) return;
    const n = node as Schema;
    if (n.type === "object" && n.properties) {
      const key = JSON.stringify(n);
      if (key.length >= minChars) count.set(key, (count.get(key) ?? 0) + 1);
    }
    Object.values(n).forEach(walk);
  };
  roots.forEach(walk);

  const ids = new Map<string, string>();
  const shared: Record<string, Schema> = {};
  const rewrite = (node: unknown, isShared = false): unknown => {
    if (Array.isArray(node)) return node.map((x) => rewrite(x));
    if (typeof node !== "object" || node === null) return node;
    const n = node as Schema;
    if (!isShared && n.type === "object" && n.properties) {
      const key = JSON.stringify(n);
      if ((count.get(key) ?? 0) > 1) {
        let id = ids.get(key);
        if (!id) {
          id = `restash-shared-${ids.size + 1}`;
          ids.set(key, id);
          shared[id] = rewrite(n, true) as Schema;
        }
        return { $ref: id };
      }
    }
    return Object.fromEntries(Object.entries(n).map(([k, v]) => [k, k === "enum" || k === "required" ? v : rewrite(v)]));
  };
  return { roots: roots.map((r) => rewrite(r, true) as Schema), shared };
}
