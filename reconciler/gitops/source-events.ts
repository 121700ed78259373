// Events on a PolicySource: what `kubectl describe policysource` and event-based alerting see.
// Built by lib/events.ts's conditionEvent, so they look like every other restash Event; best
// effort (an Event that cannot be written never fails a sync). Messages come from conditions and
// summaries, which never carry secrets.
import type { Kube, KubeObject } from "../../lib/kube/client.ts";
import { conditionEvent } from "../../lib/events.ts";
import { POLICY_SOURCE_API, POLICY_SOURCE_KIND, type PolicySource } from "../../policies/policy-source.ts";

export const EVENT_COMPONENT = "restash-gitops";

export interface SourceEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

export async function sourceEvent(kube: Kube, source: PolicySource, e: SourceEvent, now: Date): Promise<void> {
  const obj = { ...source, apiVersion: POLICY_SOURCE_API, kind: POLICY_SOURCE_KIND } as unknown as KubeObject;
  const ev = conditionEvent(
    obj,
    { type: "Ready", status: e.type === "Warning" ? "False" : "True", reason: e.reason, message: e.message },
    now,
    EVENT_COMPONENT,
  );
  ev.type = e.type;
  await kube.create(ev).catch(() => undefined);
}
