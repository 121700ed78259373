// One catalogue of reconcile errors. The kind decides what the work queue does next:
// Stalled (the spec is wrong: don't retry until it changes), Waiting (a dependency is not there
// yet: retry after a fixed delay), anything else is Transient (retry with capped backoff).
// Messages name the object and the field; they never carry secret values.

export type ErrorKind = "Stalled" | "Waiting" | "Transient";

export interface ObjectRef {
  kind: string;
  namespace?: string;
  name: string;
}

export function refString(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ""}${ref.name}`;
}

/** A reconcile error with a machine reason (a Stash/kstatus condition reason) and a kind. */
export class ReconcileError extends Error {
  readonly kind: ErrorKind;
  readonly reason: string;
  readonly object?: ObjectRef;
  readonly field?: string;
  readonly retryAfterMs?: number;
  constructor(kind: ErrorKind, reason: string, message: string, opts: { object?: ObjectRef; field?: string; retryAfterMs?: number; cause?: unknown } = {}) {
    const where = [opts.object ? refString(opts.object) : "", opts.field ? `field ${opts.field}` : ""].filter(Boolean).join(", ");
    super(where ? `${where}: ${message}` : message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = `${kind}Error`;
    this.kind = kind;
    this.reason = reason;
    this.object = opts.object;
    this.field = opts.field;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** The spec is wrong; retrying will not help until the object changes. */
export const stalled = (reason: string, message: string, opts: { object?: ObjectRef; field?: string } = {}) =>
  new ReconcileError("Stalled", reason, message, opts);

/** Something the object depends on is missing or not ready; retry after `retryAfterMs`. */
export const waiting = (reason: string, message: string, retryAfterMs: number, opts: { object?: ObjectRef; field?: string } = {}) =>
  new ReconcileError("Waiting", reason, message, { ...opts, retryAfterMs });

/** A failure that may pass (API server hiccup, network); the queue backs off. */
export const transient = (reason: string, message: string, opts: { object?: ObjectRef; field?: string; cause?: unknown } = {}) =>
  new ReconcileError("Transient", reason, message, opts);

/** The kind of any thrown value: ReconcileErrors say theirs, everything else is Transient. */
export function errorKind(e: unknown): ErrorKind {
  return e instanceof ReconcileError ? e.kind : "Transient";
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Replaces every occurrence of the given secret values with "<redacted>". Short values (< 4 chars) are left alone to keep messages readable. */
export function redact(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const s of secrets) {
    if (!s || s.length < 4) continue;
    out = out.split(s).join("<redacted>");
  }
  return out;
}
