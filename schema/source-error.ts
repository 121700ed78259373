// An error in a source file, located by file, line and field, and its one-line rendering.

export interface SourceError {
  file: string;
  /** 1-based line in the file. */
  line: number;
  /** 1-based column, when known. */
  column?: number;
  /** "Kind namespace/name" (or "Kind name" for cluster-scoped objects). */
  object?: string;
  /** Dotted field path, e.g. "spec.retentionPolicy.name" or "spec.members[0].task". */
  field?: string;
  message: string;
}

/** "file:line[:col]: Kind ns/name: field: message", leaving out the parts that are unknown. */
export function formatError(e: SourceError): string {
  const where = `${e.file}:${e.line}${e.column ? `:${e.column}` : ""}`;
  return [where, e.object, e.field, e.message].filter((p) => p !== undefined && p !== "").join(": ");
}
