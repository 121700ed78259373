// Finds credentials written into policy files. Policies reference Secrets by name; a Secret
// document, a credential-looking key with a literal value, or a value that looks like a key or a
// password-bearing URL is refused. Messages name the field, never the value.
import type { KubeObject } from "./model.ts";

const SECRET_KEY =
  /(password|passwd|passphrase|secret[_-]?(access[_-]?)?key|access[_-]?key([_-]?id)?|token|private[_-]?key|credentials?|api[_-]?key|client[_-]?secret)$/i;
// Keys that name a Secret (or a key in one) rather than hold a credential.
const REFERENCE_KEY = /(name|ref|namespace|secretname|keyref|secretkeyref)$/i;
const SECRET_VALUE: [RegExp, string][] = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a private key"],
  [/\bAKIA[0-9A-Z]{16}\b/, "an AWS access key id"],
  [/\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i, "a URL with a password"],
  [/\bgh[pousr]_[A-Za-z0-9]{30,}\b/, "a GitHub token"],
];

export interface InlineSecret {
  field: string;
  what: string;
}

export function findInlineSecrets(obj: KubeObject): InlineSecret[] {
  if (obj.kind === "Secret" && (obj.apiVersion === "v1" || !obj.apiVersion?.includes("/")))
    return [{ field: "kind", what: "a Secret document (reference Secrets by name; create them outside Git or with a sealed/external secret tool)" }];
  const found: InlineSecret[] = [];
  const walk = (v: unknown, path: string, key: string) => {
    if (typeof v === "string") {
      if (key && SECRET_KEY.test(key) && !REFERENCE_KEY.test(key) && v.length > 0)
        found.push({ field: path, what: "a credential-looking key with a literal value" });
      else
        for (const [re, what] of SECRET_VALUE)
          if (re.test(v)) {
            found.push({ field: path, what });
            break;
          }
      return;
    }
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`, key));
    else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k, k);
  };
  // metadata.name/labels never hold credentials by design but may match the value patterns.
  for (const [k, v] of Object.entries(obj)) if (k !== "apiVersion" && k !== "kind") walk(v, k, k);
  // Stash env lists: {name: AWS_SECRET_ACCESS_KEY, value: "..."}
  const envWalk = (v: unknown, path: string) => {
    if (Array.isArray(v)) v.forEach((x, i) => envWalk(x, `${path}[${i}]`));
    else if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      if (typeof o.name === "string" && typeof o.value === "string" && SECRET_KEY.test(o.name.replace(/_/g, "-")) && o.value)
        found.push({ field: `${path}.value`, what: `a literal value for ${o.name}` });
      for (const [k, x] of Object.entries(o)) envWalk(x, path ? `${path}.${k}` : k);
    }
  };
  envWalk(obj.spec, "spec");
  return found;
}
