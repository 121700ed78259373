// What the API server changed in an object beyond applying the schema's defaults. Pure.

import type { JsonSchema } from "./json-schema.ts";

type Schema = JsonSchema | undefined;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Differences between what was sent and what was read back, as "path: sent X, read Y" lines.
 * A field that was not sent may be read back only if the schema defaults it (or its parent object)
 * to that value.
 */
export function defaultsDiff(sent: unknown, read: unknown, schema: Schema, path: string): string[] {
  if (sent === undefined) {
    if (read === undefined) return [];
    if (schema?.default !== undefined) return defaultsDiff(structuredClone(schema.default), read, schema, path);
    return [`${path}: not sent, read back ${JSON.stringify(read)}`];
  }
  if (isObject(sent) && isObject(read)) {
    // An object the schema defaults as a whole (status: {observedGeneration: -1}) may keep those
    // values once it exists, since no field manager removes them.
    const given: Record<string, unknown> = isObject(schema?.default) ? { ...structuredClone(schema.default), ...sent } : sent;
    const out: string[] = [];
    for (const k of new Set([...Object.keys(given), ...Object.keys(read)])) {
      const extra = schema?.additionalProperties;
      const sub = schema?.properties?.[k] ?? (isObject(extra) ? (extra as JsonSchema) : undefined);
      out.push(...defaultsDiff(given[k], read[k], sub, `${path}.${k}`));
    }
    return out;
  }
  if (Array.isArray(sent) && Array.isArray(read)) {
    if (sent.length !== read.length) return [`${path}: sent ${sent.length} items, read back ${read.length}`];
    // A structural schema has one items schema (never a tuple).
    const items = schema?.items as JsonSchema | undefined;
    return sent.flatMap((s, i) => defaultsDiff(s, read[i], items, `${path}[${i}]`));
  }
  if (sent === read) return [];
  return [`${path}: sent ${JSON.stringify(sent)}, read back ${JSON.stringify(read)}`];
}
