// RestoreSession rules (stash-behaviour.md 1.5): validation and the rule that applies to a host.

import type { RestoreRule, RestoreSessionSpec } from "../schema/types.generated.ts";

export type Rule = RestoreRule;

/** Rules live in spec.target.rules; the deprecated spec.rules is read when the target has none. */
export function rulesOf(rs: { spec?: Pick<RestoreSessionSpec, "target" | "rules"> }): Rule[] {
  return rs.spec?.target?.rules ?? rs.spec?.rules ?? [];
}

/** The first problem with the rules, naming the field; null when valid. */
export function validateRules(rules: Rule[], field = "spec.target.rules"): { field: string; message: string } | null {
  let emptyHostRules = 0;
  const seen = new Map<string, number>();
  for (const [i, r] of rules.entries()) {
    if ((r.snapshots?.length ?? 0) > 0 && (r.paths?.length ?? 0) > 0)
      return { field: `${field}[${i}]`, message: "snapshots and paths cannot be used together in a rule" };
    if (!r.targetHosts?.length) {
      emptyHostRules++;
      if (emptyHostRules > 1) return { field: `${field}[${i}].targetHosts`, message: "at most one rule may have empty targetHosts" };
    }
    for (const h of r.targetHosts ?? []) {
      if (seen.has(h)) return { field: `${field}[${i}].targetHosts`, message: `host "${h}" is already matched by rule ${seen.get(h)}` };
      seen.set(h, i);
    }
  }
  return null;
}

/** The rule for `host`: one naming it, else the one with empty targetHosts, else none. */
export function ruleForHost(rules: Rule[], host: string): Rule | undefined {
  return rules.find((r) => r.targetHosts?.includes(host)) ?? rules.find((r) => !r.targetHosts?.length);
}
