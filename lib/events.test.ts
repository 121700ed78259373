import { test } from "node:test";
import assert from "node:assert/strict";
import { changedConditions, conditionEvent, eventType } from "./events.ts";

test("only new conditions, or ones whose status or reason changed, make Events; kstatus's derived ones make none", () => {
  const prev = [
    { type: "RepositoryFound", status: "True", reason: "RepositoryAvailable" },
    { type: "CronJobCreated", status: "False", reason: "CronJobCreationFailed" },
    { type: "Ready", status: "False", reason: "NotReady" },
  ];
  const next = [
    { type: "RepositoryFound", status: "True", reason: "RepositoryAvailable", message: "changed message only" },
    { type: "CronJobCreated", status: "True", reason: "CronJobCreationSucceeded" },
    { type: "BackendSecretFound", status: "False", reason: "BackendSecretNotAvailable" },
    { type: "Ready", status: "True", reason: "Ready" },
  ];
  assert.deepEqual(
    changedConditions(prev, next).map((c) => c.type),
    ["CronJobCreated", "BackendSecretFound"],
  );
});

test("a failed condition is a Warning, a stalled object too, and the Event names the condition's reason on the object", () => {
  assert.equal(eventType({ type: "BackendSecretFound", status: "False" }), "Warning");
  assert.equal(eventType({ type: "Stalled", status: "True" }), "Warning");
  assert.equal(eventType({ type: "DeadlineExceeded", status: "True" }), "Warning");
  assert.equal(eventType({ type: "MetricsPushed", status: "True" }), "Normal");
  const e = conditionEvent(
    { apiVersion: "stash.appscode.com/v1beta1", kind: "BackupSession", metadata: { name: "s-1", namespace: "demo", uid: "u", resourceVersion: "7" } },
    { type: "MetricsPushed", status: "True", reason: "SuccessfullyPushedMetrics", message: "Successfully pushed metrics." },
    new Date("2026-11-24T00:00:00Z"),
  ) as any;
  assert.match(e.metadata.name, /^s-1\.[0-9a-f]{16}$/);
  assert.deepEqual(
    { ns: e.metadata.namespace, obj: e.involvedObject, reason: e.reason, message: e.message, type: e.type, first: e.firstTimestamp },
    {
      ns: "demo",
      obj: { apiVersion: "stash.appscode.com/v1beta1", kind: "BackupSession", name: "s-1", namespace: "demo", uid: "u", resourceVersion: "7" },
      reason: "SuccessfullyPushedMetrics",
      message: "Successfully pushed metrics.",
      type: "Normal",
      first: "2026-11-24T00:00:00.000Z",
    },
  );
});
