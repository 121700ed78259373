// RestoreSession admission. Mutation migrates the deprecated spec.rules into spec.target.rules, as
// Stash's mutator does. Validation checks the rules wherever they are (Stash only checks
// spec.rules, after the migration has emptied it: a quirk restash fixes), the references, and that
// the spec never changes after creation.
import { isDeepStrictEqual } from "node:util";
import type { KubeObject } from "../lib/kube/client.ts";
import type { RestoreRule, RestoreSession } from "../schema/types.generated.ts";
import { validating, type KindAdmission, type Violation } from "./types.ts";
import { crossNamespaceTargetViolations, repositoryReferenceViolations, taskReferenceViolations } from "./references.ts";

/** Stash's Migrate(): rules move into the target when there is one. The input is not modified. */
export function migrateRestoreSession<T extends KubeObject>(rs: T): T {
  // On the mutating path the API server has not checked the schema yet: only this shape is relied on.
  const spec = rs.spec as { rules?: unknown; target?: object } | undefined;
  const rules = spec?.rules;
  if (!Array.isArray(rules) || rules.length === 0 || !spec?.target) return rs;
  const { rules: _moved, ...rest } = spec;
  return { ...rs, spec: { ...rest, target: { ...spec.target, rules } } };
}

type Rule = Pick<RestoreRule, "targetHosts" | "sourceHost" | "snapshots" | "paths">;

/** The rule invariants: at most one catch-all rule, no host in two rules, snapshots xor paths. */
export function ruleViolations(rules: Rule[] | undefined, field: string): Violation[] {
  if (!Array.isArray(rules)) return [];
  const out: Violation[] = [];
  const catchAll = rules.map((r, i) => ((r.targetHosts ?? []).length === 0 ? i : -1)).filter((i) => i >= 0);
  if (catchAll.length > 1) {
    out.push({ field, message: `rules ${catchAll.join(", ")} all have empty targetHosts; at most one rule may have empty targetHosts` });
  }
  const seen = new Map<string, number>();
  rules.forEach((r, i) => {
    for (const host of r.targetHosts ?? []) {
      const first = seen.get(host);
      if (first !== undefined && first !== i)
        out.push({
          field: `${field}[${i}].targetHosts`,
          message: `host ${JSON.stringify(host)} is already matched by rule ${first}; a host may match at most one rule`,
        });
      else seen.set(host, i);
    }
    if ((r.snapshots ?? []).length > 0 && (r.paths ?? []).length > 0) {
      out.push({ field: `${field}[${i}]`, message: "snapshots and paths cannot both be set in one rule" });
    }
  });
  return out;
}

export const restoreSessionAdmission: KindAdmission = {
  async mutate(obj) {
    return migrateRestoreSession(obj);
  },
  validate: validating<RestoreSession>(async (obj, old, ctx) => {
    if (obj.metadata.deletionTimestamp) return [];
    if (ctx.operation === "UPDATE" && old) {
      const same = isDeepStrictEqual(migrateRestoreSession(old).spec, migrateRestoreSession(obj).spec);
      return same ? [] : [{ field: "spec", message: "RestoreSession spec is immutable" }];
    }
    return [
      ...ruleViolations(obj.spec?.rules, "spec.rules"),
      ...ruleViolations(obj.spec?.target?.rules, "spec.target.rules"),
      ...crossNamespaceTargetViolations(obj),
      ...(await repositoryReferenceViolations(obj, ctx)),
      ...(await taskReferenceViolations(obj, ctx)),
    ];
  }),
};
