// Kubernetes Events for condition changes: each condition that appears or changes status or
// reason becomes one Event on the object, with the condition's reason as the Event's reason, so
// `kubectl describe` and event-based alerting tell the same story as status. Best effort: an Event
// that cannot be written never fails the reconcile. Messages come from conditions, which never
// carry secrets.
import { randomBytes } from "node:crypto";
import type { Kube, KubeObject } from "./kube/client.ts";

export interface Cond {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** Conditions that kstatus derives; they restate others, so they make no Event of their own. */
const DERIVED = new Set(["Ready", "Reconciling"]);

/** Pure: the conditions of `next` that are new or whose status or reason changed since `prev`. */
export function changedConditions(prev: Cond[] | undefined, next: Cond[] | undefined): Cond[] {
  const before = new Map((prev ?? []).map((c) => [c.type, c]));
  return (next ?? []).filter((c) => {
    if (DERIVED.has(c.type) || !c.reason) return false;
    const old = before.get(c.type);
    return !old || old.status !== c.status || old.reason !== c.reason;
  });
}

/** Pure: Warning for a failed condition (False) or a stalled object; Normal otherwise. */
export function eventType(c: Cond): "Normal" | "Warning" {
  if (c.type === "Stalled") return c.status === "True" ? "Warning" : "Normal";
  if (c.type === "DeadlineExceeded" || c.type === "BackupDisrupted") return c.status === "True" ? "Warning" : "Normal";
  return c.status === "False" ? "Warning" : "Normal";
}

export function conditionEvent(obj: KubeObject, c: Cond, now: Date, component = "restash"): KubeObject {
  const ts = now.toISOString();
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: `${obj.metadata.name}.${randomBytes(8).toString("hex")}`, namespace: obj.metadata.namespace ?? "default" },
    involvedObject: {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      name: obj.metadata.name,
      namespace: obj.metadata.namespace,
      uid: obj.metadata.uid,
      resourceVersion: obj.metadata.resourceVersion,
    },
    reason: c.reason,
    message: (c.message ?? `${c.type} is ${c.status}`).slice(0, 1024),
    type: eventType(c),
    source: { component },
    reportingComponent: component,
    reportingInstance: component,
    firstTimestamp: ts,
    lastTimestamp: ts,
    count: 1,
  };
}

export async function recordConditionEvents(kube: Kube, obj: KubeObject, prev: Cond[] | undefined, next: Cond[] | undefined, now = new Date()): Promise<void> {
  const changed = changedConditions(prev, next);
  await Promise.all(changed.map((c) => kube.create(conditionEvent(obj, c, now)).catch(() => undefined)));
}
