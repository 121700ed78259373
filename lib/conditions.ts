// One helper for status conditions (kmodules/kstatus shape). Setting a condition stamps the
// object's generation and keeps lastTransitionTime unless the status value changed. kstatus()
// derives Ready/Reconciling/Stalled so Argo CD and Flux can judge health beside Stash's own types.

export type ConditionStatus = "True" | "False" | "Unknown";

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason?: string;
  message?: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
  severity?: string;
}

export interface ConditionInput {
  type: string;
  status: ConditionStatus | boolean;
  reason?: string;
  message?: string;
  severity?: string;
}

const toStatus = (s: ConditionStatus | boolean): ConditionStatus => (s === true ? "True" : s === false ? "False" : s);

/** Second-precision RFC 3339, as metav1.Time serialises. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Returns a new list with `input` set; the order of other conditions is kept, new ones appended. */
export function setCondition(list: readonly Condition[] | undefined, input: ConditionInput, now: Date, generation?: number): Condition[] {
  const status = toStatus(input.status);
  const out = [...(list ?? [])];
  const i = out.findIndex((c) => c.type === input.type);
  const prev = i >= 0 ? out[i] : undefined;
  const next: Condition = {
    type: input.type,
    status,
    ...(input.reason !== undefined ? { reason: input.reason } : {}),
    ...(input.message !== undefined ? { message: input.message } : {}),
    ...(input.severity !== undefined ? { severity: input.severity } : {}),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    lastTransitionTime: prev && prev.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : rfc3339(now),
  };
  if (i >= 0) out[i] = next;
  else out.push(next);
  return out;
}

export function removeCondition(list: readonly Condition[] | undefined, type: string): Condition[] {
  return (list ?? []).filter((c) => c.type !== type);
}

export function getCondition(list: readonly Condition[] | undefined, type: string): Condition | undefined {
  return (list ?? []).find((c) => c.type === type);
}

export const hasCondition = (list: readonly Condition[] | undefined, type: string) => getCondition(list, type) !== undefined;
export const isTrue = (list: readonly Condition[] | undefined, type: string) => getCondition(list, type)?.status === "True";
export const isFalse = (list: readonly Condition[] | undefined, type: string) => getCondition(list, type)?.status === "False";
/** Absent or Unknown. */
export const isNotTrueOrFalse = (list: readonly Condition[] | undefined, type: string) => {
  const s = getCondition(list, type)?.status;
  return s === undefined || s === "Unknown";
};

export type Health = "Ready" | "Reconciling" | "Stalled";

export interface HealthInput {
  health: Health;
  reason: string;
  message: string;
}

/**
 * Sets the kstatus trio: Ready True only when healthy; Reconciling True while work is under way;
 * Stalled True when the object cannot make progress without a spec change. Absent-when-false is
 * what kstatus expects for Reconciling and Stalled, so they are removed rather than set False.
 */
export function setHealth(list: readonly Condition[] | undefined, h: HealthInput, now: Date, generation?: number): Condition[] {
  let out = setCondition(list, { type: "Ready", status: h.health === "Ready", reason: h.reason, message: h.message }, now, generation);
  out =
    h.health === "Reconciling"
      ? setCondition(out, { type: "Reconciling", status: "True", reason: h.reason, message: h.message }, now, generation)
      : removeCondition(out, "Reconciling");
  out =
    h.health === "Stalled"
      ? setCondition(out, { type: "Stalled", status: "True", reason: h.reason, message: h.message }, now, generation)
      : removeCondition(out, "Stalled");
  return out;
}
