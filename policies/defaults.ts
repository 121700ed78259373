// BackupPolicyDefaults: a defaults.yaml applies to its directory and everything below it. The
// nearest file wins field by field (backend and retention are replaced whole, not merged, so a
// team never gets half of another team's backend).
import { posix } from "node:path";
import type { BackupPolicyDefaultsSpec } from "../schema/types.generated.ts";

export type PolicyDefaultsSpec = BackupPolicyDefaultsSpec;

export interface DefaultsEntry {
  /** Directory the defaults apply to ("" = the policy root). */
  dir: string;
  file: string;
  spec: PolicyDefaultsSpec;
}

export const DEFAULTS_FILE_NAMES = new Set(["defaults.yaml", "defaults.yml"]);

export interface ResolvedDefaults {
  spec: PolicyDefaultsSpec;
  /** For each field, the defaults file that supplied it. */
  from: Partial<Record<keyof PolicyDefaultsSpec, string>>;
}

/** Dir of a policy file path ("team/a/x.yaml" -> "team/a"; "x.yaml" -> ""). */
export function dirOf(file: string): string {
  const d = posix.dirname(file);
  return d === "." ? "" : d;
}

/** The defaults that apply to `file`: root first, nearest last, later ones win per field. */
export function resolveDefaults(file: string, entries: DefaultsEntry[]): ResolvedDefaults {
  const dir = dirOf(file);
  const applies = entries.filter((e) => e.dir === "" || dir === e.dir || dir.startsWith(e.dir + "/")).sort((a, b) => a.dir.length - b.dir.length);
  const spec: PolicyDefaultsSpec = {};
  const from: ResolvedDefaults["from"] = {};
  for (const e of applies) {
    const take = <K extends keyof PolicyDefaultsSpec>(k: K) => {
      if (e.spec[k] === undefined) return;
      spec[k] = e.spec[k];
      from[k] = e.file;
    };
    for (const k of ["namespace", "schedule", "paths", "backend", "retention"] as const) take(k);
  }
  return { spec, from };
}
