// Shell-style variable substitution over every string of a JSON value, as Stash resolves a Task
// and its Functions: `${VAR}`, `${VAR:=default}` and `${VAR:-default}` (a default applies when the
// variable is unset or empty), `${VAR=default}` / `${VAR-default}` (only when unset). `$$` is a
// literal `$`. Pure: the input is never modified.
//
// Strict mode (the Task resolver) reports a variable with no value and no default; lenient mode
// (BackupBlueprints, whose templates also carry variables meant for later) leaves it as written.

export interface Unresolved {
  /** JSON path of the string that names it, e.g. `spec.args[3]`. */
  field: string;
  variable: string;
}

export interface SubstOptions {
  /** Leave `${VAR}` with no value verbatim instead of reporting it. */
  lenient?: boolean;
}

const VAR = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[=-])([^}]*))?\}/g;

/** Substitutes one string; `missing` collects variables that have neither value nor default. */
export function substString(s: string, vars: Readonly<Record<string, string | undefined>>, missing: string[] = [], opts: SubstOptions = {}): string {
  return s.replace(VAR, (whole, name: string | undefined, op: string | undefined, def: string | undefined) => {
    if (name === undefined) return "$";
    const v = Object.hasOwn(vars, name) ? vars[name] : undefined;
    if (op === undefined) {
      if (v !== undefined) return v;
      if (opts.lenient) return whole;
      missing.push(name);
      return "";
    }
    const emptyCounts = op.startsWith(":");
    if (v === undefined || (emptyCounts && v === "")) return def ?? "";
    return v;
  });
}

function pathJoin(base: string, key: string | number): string {
  if (typeof key === "number") return `${base}[${key}]`;
  return base ? `${base}.${key}` : key;
}

/** Substitutes every string (values only, never keys) of a JSON value; returns a new value. */
export function substJson<T>(
  value: T,
  vars: Readonly<Record<string, string | undefined>>,
  base = "",
  opts: SubstOptions = {},
): { value: T; unresolved: Unresolved[] } {
  const unresolved: Unresolved[] = [];
  const walk = (v: unknown, path: string): unknown => {
    if (typeof v === "string") {
      const missing: string[] = [];
      const out = substString(v, vars, missing, opts);
      for (const m of missing) unresolved.push({ field: path, variable: m });
      return out;
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, pathJoin(path, i)));
    if (v && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, pathJoin(path, k));
      return out;
    }
    return v;
  };
  return { value: walk(value, base) as T, unresolved };
}

/** The variables a JSON value refers to (with or without defaults), sorted. */
export function variablesOf(value: unknown): { required: string[]; optional: string[] } {
  const required = new Set<string>();
  const optional = new Set<string>();
  const walk = (v: unknown) => {
    if (typeof v === "string") {
      for (const m of v.matchAll(VAR)) if (m[1]) (m[2] === undefined ? required : optional).add(m[1]);
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  walk(value);
  for (const r of required) optional.delete(r);
  return { required: [...required].sort(), optional: [...optional].sort() };
}
