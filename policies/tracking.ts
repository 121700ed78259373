// Tracking metadata the sync puts on every object it applies, and the content hash that lets a
// resync skip unchanged objects without a write.
import { createHash } from "node:crypto";
import type { KubeObject, RenderedObject } from "./model.ts";

export const SOURCE_NAME_LABEL = "restash.dev/source-name";
export const SOURCE_NAMESPACE_LABEL = "restash.dev/source-namespace";
export const FILE_ANNOTATION = "restash.dev/file";
export const REVISION_ANNOTATION = "restash.dev/revision";
export const HASH_ANNOTATION = "restash.dev/content-hash";

export interface SourceKey {
  namespace: string;
  name: string;
}

export function sourceSelector(s: SourceKey): string {
  return `${SOURCE_NAMESPACE_LABEL}=${s.namespace},${SOURCE_NAME_LABEL}=${s.name}`;
}

/** The PolicySource that applied `obj`, from its labels. */
export function trackedBy(obj: KubeObject | null | undefined): SourceKey | undefined {
  const l = obj?.metadata?.labels;
  if (!l?.[SOURCE_NAME_LABEL] || !l?.[SOURCE_NAMESPACE_LABEL]) return undefined;
  return { namespace: l[SOURCE_NAMESPACE_LABEL], name: l[SOURCE_NAME_LABEL] };
}

/** JSON with object keys sorted, so equal content always hashes equal. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v && typeof v === "object")
    return `{${Object.keys(v as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
}

export function contentHash(obj: unknown): string {
  return createHash("sha256").update(canonicalJson(obj)).digest("hex").slice(0, 32);
}

/**
 * The object as applied: tracking labels and the file annotation. The hash covers everything
 * but the revision annotation, which names the revision that last changed the object: a commit
 * that leaves an object alone does not rewrite it.
 */
export function withTracking(r: RenderedObject, source: SourceKey, revision: string): { object: KubeObject; hash: string } {
  const o = structuredClone(r.object);
  o.metadata.labels = { ...(o.metadata.labels ?? {}), [SOURCE_NAMESPACE_LABEL]: source.namespace, [SOURCE_NAME_LABEL]: source.name };
  o.metadata.annotations = { ...(o.metadata.annotations ?? {}), [FILE_ANNOTATION]: r.file };
  const hash = contentHash(o);
  o.metadata.annotations[HASH_ANNOTATION] = hash;
  o.metadata.annotations[REVISION_ANNOTATION] = revision;
  return { object: o, hash };
}

/** Paths where `live` differs from what `desired` sets (fields desired leaves out are not compared). */
export function driftedFields(desired: unknown, live: unknown, path = "", out: string[] = []): string[] {
  if (Array.isArray(desired)) {
    if (!Array.isArray(live) || live.length !== desired.length) out.push(path || ".");
    else desired.forEach((d, i) => driftedFields(d, live[i], `${path}[${i}]`, out));
    return out;
  }
  if (desired && typeof desired === "object") {
    if (!live || typeof live !== "object" || Array.isArray(live)) {
      out.push(path || ".");
      return out;
    }
    for (const [k, v] of Object.entries(desired)) driftedFields(v, (live as Record<string, unknown>)[k], path ? `${path}.${k}` : k, out);
    return out;
  }
  if (desired !== live) out.push(path || ".");
  return out;
}
