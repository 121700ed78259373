// What a revision would change, for review: created, changed (field by field) and pruned objects,
// as text or as a Markdown PR comment. Server-filled fields (managedFields, resourceVersion, uid,
// status, …) and restash's own tracking annotations are not differences.
import type { V1ObjectMeta } from "@kubernetes/client-node";
import type { KubeObject } from "./model.ts";
import { FILE_ANNOTATION, HASH_ANNOTATION, REVISION_ANNOTATION } from "./tracking.ts";

export interface FieldChange {
  path: string;
  from?: unknown;
  to?: unknown;
}

export interface PlanEntry {
  action: "create" | "change" | "prune" | "keep" | "unchanged" | "conflict" | "error";
  ref: string;
  file?: string;
  changes?: FieldChange[];
  message?: string;
}

const SERVER_METADATA: (keyof V1ObjectMeta)[] = [
  "managedFields",
  "resourceVersion",
  "uid",
  "generation",
  "creationTimestamp",
  "selfLink",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
];
const TRACKING = [REVISION_ANNOTATION, HASH_ANNOTATION, FILE_ANNOTATION];

/** The object without what the server or the tracking adds. */
export function normalizeForDiff(o: KubeObject | null | undefined): Record<string, unknown> | undefined {
  if (!o) return undefined;
  const { status: _s, ...rest } = structuredClone(o);
  for (const k of SERVER_METADATA) delete rest.metadata?.[k];
  if (rest.metadata?.annotations) {
    for (const k of TRACKING) delete rest.metadata.annotations[k];
    if (Object.keys(rest.metadata.annotations).length === 0) delete rest.metadata.annotations;
  }
  return rest;
}

/** Field-level differences between two JSON values (arrays compared element by element). */
export function diffFields(from: unknown, to: unknown, path = "", out: FieldChange[] = []): FieldChange[] {
  const isObj = (v: unknown) => v !== null && typeof v === "object" && !Array.isArray(v);
  if (isObj(from) && isObj(to)) {
    const keys = [...new Set([...Object.keys(from as object), ...Object.keys(to as object)])].sort();
    for (const k of keys) diffFields((from as Record<string, unknown>)[k], (to as Record<string, unknown>)[k], path ? `${path}.${k}` : k, out);
    return out;
  }
  if (Array.isArray(from) && Array.isArray(to) && from.length === to.length) {
    from.forEach((f, i) => diffFields(f, to[i], `${path}[${i}]`, out));
    return out;
  }
  if (JSON.stringify(from) !== JSON.stringify(to))
    out.push({ path: path || ".", ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) });
  return out;
}

export function hasChanges(entries: PlanEntry[]): boolean {
  return entries.some((e) => e.action === "create" || e.action === "change" || e.action === "prune");
}

const show = (v: unknown) => (v === undefined ? "(none)" : JSON.stringify(v));

export function formatPlanText(entries: PlanEntry[]): string {
  const lines: string[] = [];
  const sym: Record<PlanEntry["action"], string> = { create: "+", change: "~", prune: "-", keep: "!", unchanged: "=", conflict: "!", error: "x" };
  for (const e of entries) {
    if (e.action === "unchanged") continue;
    lines.push(
      `${sym[e.action]} ${e.ref}${e.file ? ` (${e.file})` : ""} ${e.action === "change" ? "changed" : e.action === "create" ? "created" : e.action === "prune" ? "pruned" : e.action}${e.message ? `: ${e.message}` : ""}`,
    );
    for (const c of e.changes ?? []) lines.push(`    ${c.path}: ${show(c.from)} -> ${show(c.to)}`);
  }
  const count = (a: PlanEntry["action"]) => entries.filter((e) => e.action === a).length;
  lines.push(
    `${count("create")} to create, ${count("change")} to change, ${count("prune")} to prune, ${count("unchanged")} unchanged${count("keep") ? `, ${count("keep")} kept (not pruned)` : ""}${count("conflict") + count("error") ? `, ${count("conflict") + count("error")} blocked` : ""}`,
  );
  return lines.join("\n") + "\n";
}

export function formatPlanMarkdown(entries: PlanEntry[], title = "restash plan"): string {
  const count = (a: PlanEntry["action"]) => entries.filter((e) => e.action === a).length;
  const out = [
    `### ${title}`,
    "",
    `**${count("create")}** to create, **${count("change")}** to change, **${count("prune")}** to prune, ${count("unchanged")} unchanged.`,
    "",
  ];
  const shown = entries.filter((e) => e.action !== "unchanged");
  if (shown.length) {
    out.push("| | Object | File | Note |", "|---|---|---|---|");
    const icon: Record<PlanEntry["action"], string> = {
      create: "➕ create",
      change: "✏️ change",
      prune: "🗑️ prune",
      keep: "📌 kept",
      unchanged: "",
      conflict: "⚠️ conflict",
      error: "❌ error",
    };
    for (const e of shown) out.push(`| ${icon[e.action]} | \`${e.ref}\` | ${e.file ? `\`${e.file}\`` : ""} | ${(e.message ?? "").replace(/\|/g, "\\|")} |`);
    const changed = shown.filter((e) => e.changes?.length);
    if (changed.length) {
      out.push("", "<details><summary>Field changes</summary>", "", "```diff");
      for (const e of changed) {
        out.push(`@@ ${e.ref} @@`);
        for (const c of e.changes!) {
          if (c.from !== undefined) out.push(`- ${c.path}: ${JSON.stringify(c.from)}`);
          if (c.to !== undefined) out.push(`+ ${c.path}: ${JSON.stringify(c.to)}`);
        }
      }
      out.push("```", "", "</details>");
    }
  }
  return out.join("\n") + "\n";
}
