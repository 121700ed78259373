// The smallest honest JSON Patch (RFC 6902) from one object to another: objects are compared key by
// key, anything else (arrays, scalars) is replaced whole when it differs. Arrays are not diffed
// element-wise on purpose: index-based ops on containers or volumes race with other mutating
// webhooks, a whole-array replace does not.
import { isDeepStrictEqual } from "node:util";

export type PatchOp = { op: "add" | "replace"; path: string; value: unknown } | { op: "remove"; path: string };

const escape = (key: string) => key.replace(/~/g, "~0").replace(/\//g, "~1");
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export function jsonPatch(from: unknown, to: unknown, path = ""): PatchOp[] {
  if (isDeepStrictEqual(from, to)) return [];
  if (!isObject(from) || !isObject(to)) return [{ op: "replace", path, value: to }];
  const ops: PatchOp[] = [];
  for (const key of Object.keys(from)) {
    if (!(key in to) || to[key] === undefined) {
      if (from[key] !== undefined) ops.push({ op: "remove", path: `${path}/${escape(key)}` });
    }
  }
  for (const [key, value] of Object.entries(to)) {
    if (value === undefined) continue;
    const p = `${path}/${escape(key)}`;
    if (!(key in from) || from[key] === undefined) ops.push({ op: "add", path: p, value });
    else ops.push(...jsonPatch(from[key], value, p));
  }
  return ops;
}

/** Applies ops produced by jsonPatch (used by tests to check a patch round-trips). */
export function applyPatch<T>(doc: T, ops: PatchOp[]): T {
  // Walked by the paths of the ops: each step is an object or an array, indexed by key.
  type Node = Record<string, unknown>;
  let root: unknown = structuredClone(doc);
  for (const op of ops) {
    if (op.path === "") {
      if (op.op === "remove") throw new Error("cannot remove the document root");
      root = structuredClone(op.value);
      continue;
    }
    const keys = op.path
      .slice(1)
      .split("/")
      .map((k) => k.replace(/~1/g, "/").replace(/~0/g, "~"));
    const last = keys.pop()!;
    let parent = root as Node;
    for (const k of keys) parent = parent[k] as Node;
    if (op.op === "remove") delete parent[last];
    else parent[last] = structuredClone(op.value);
  }
  return root as T;
}
