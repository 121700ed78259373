// The values of a Secret as strings: .data decoded from base64, .stringData laid over it (what a
// Secret written with stringData holds before the API server folds it into .data).
export function secretDataOf(secret: { data?: Record<string, string>; stringData?: Record<string, string> }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) out[k] = Buffer.from(v, "base64").toString("utf8");
  for (const [k, v] of Object.entries(secret.stringData ?? {})) out[k] = v;
  return out;
}
