// Label selectors in both shapes Kubernetes uses: the query-string form (`a=b,c in (d,e),!f`) that
// list requests carry, and the LabelSelector object (matchLabels/matchExpressions) in specs such
// as a Repository's usagePolicy. Both become one list of requirements with one matcher.

export type Operator = "=" | "!=" | "in" | "notin" | "exists" | "!";

export interface Requirement {
  key: string;
  op: Operator;
  values: string[];
}

export interface LabelSelectorObject {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** A selector the caller wrote wrongly; the message quotes the offending part. */
export class SelectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SelectorError";
  }
}

const KEY = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?\/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$/;
const VALUE = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?)?$/;

function checkKey(key: string, whole: string): string {
  if (!KEY.test(key)) throw new SelectorError(`invalid label key ${JSON.stringify(key)} in selector ${JSON.stringify(whole)}`);
  return key;
}

function checkValue(value: string, whole: string): string {
  if (!VALUE.test(value) || value.length > 63) throw new SelectorError(`invalid label value ${JSON.stringify(value)} in selector ${JSON.stringify(whole)}`);
  return value;
}

/** Splits on commas that are not inside parentheses. */
function splitTop(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  parts.push(cur);
  return parts;
}

/** Parses the string form; an empty or absent selector selects everything. */
export function parseSelector(selector: string | undefined): Requirement[] {
  const whole = selector ?? "";
  if (!whole.trim()) return [];
  return splitTop(whole).map((raw) => {
    const part = raw.trim();
    if (!part) throw new SelectorError(`empty requirement in selector ${JSON.stringify(whole)}`);
    let m = /^!\s*(\S+)$/.exec(part);
    if (m) return { key: checkKey(m[1], whole), op: "!", values: [] };
    m = /^(\S+?)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part);
    if (m) {
      const values = m[3].split(",").map((v) => checkValue(v.trim(), whole));
      return { key: checkKey(m[1], whole), op: m[2] as Operator, values };
    }
    m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part);
    if (m) return { key: checkKey(m[1], whole), op: m[2] === "!=" ? "!=" : "=", values: [checkValue(m[3], whole)] };
    if (/^[^\s=!()]+$/.test(part)) return { key: checkKey(part, whole), op: "exists", values: [] };
    throw new SelectorError(`cannot parse requirement ${JSON.stringify(part)} in selector ${JSON.stringify(whole)}`);
  });
}

/** Converts a LabelSelector object; an unknown operator is an error naming it. */
export function fromLabelSelector(sel: LabelSelectorObject | undefined, field = "selector"): Requirement[] {
  if (!sel) return [];
  const reqs: Requirement[] = Object.entries(sel.matchLabels ?? {}).map(([key, value]) => ({ key, op: "=", values: [value] }));
  for (const [i, e] of (sel.matchExpressions ?? []).entries()) {
    const op = ({ In: "in", NotIn: "notin", Exists: "exists", DoesNotExist: "!" } as Record<string, Operator>)[e.operator];
    if (!op) throw new SelectorError(`${field}.matchExpressions[${i}].operator: unknown operator ${JSON.stringify(e.operator)}`);
    reqs.push({ key: e.key, op, values: e.values ?? [] });
  }
  return reqs;
}

export function matchesRequirement(r: Requirement, labels: Record<string, string | undefined>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key) && labels[r.key] !== undefined;
  const v = labels[r.key];
  switch (r.op) {
    case "=":
    case "in":
      return has && r.values.includes(v!);
    case "!=":
    case "notin":
      return !has || !r.values.includes(v!);
    case "exists":
      return has;
    case "!":
      return !has;
  }
}

export function matches(reqs: Requirement[], labels: Record<string, string | undefined>): boolean {
  return reqs.every((r) => matchesRequirement(r, labels));
}
