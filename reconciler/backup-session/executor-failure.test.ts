import { test } from "node:test";
import assert from "node:assert/strict";
import { START_FAILURE_GRACE_MS, executorVerdict } from "./executor-failure.ts";

const job = (status: any = { active: 1 }) => ({ metadata: { name: "stash-backup-bc-1-0", namespace: "ns" }, status });
const created = "2026-01-01T00:00:00Z";
const at = (ms: number) => new Date(Date.parse(created) + ms);
const pod = (status: any) => ({ metadata: { name: "stash-backup-bc-1-0-abcde", creationTimestamp: created }, status });
const failedJob = job({
  failed: 1,
  conditions: [{ type: "Failed", status: "True", reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit" }],
});

test("a failed backup Job is reported with its pod's OOMKilled container and exit code", () => {
  const p = pod({ phase: "Failed", containerStatuses: [{ name: "stash", state: { terminated: { reason: "OOMKilled", exitCode: 137 } } }] });
  assert.deepEqual(executorVerdict(failedJob, [p], at(0)), {
    failed: "backup Job ns/stash-backup-bc-1-0 failed: pod stash-backup-bc-1-0-abcde: container stash was OOMKilled (exit code 137)",
  });
});

test("a failed backup Job whose pod is gone is reported with the Job's own reason", () => {
  assert.deepEqual(executorVerdict(failedJob, [], at(0)), {
    failed: "backup Job ns/stash-backup-bc-1-0 failed: BackoffLimitExceeded: Job has reached the specified backoff limit",
  });
});

test("an image that cannot be pulled is rechecked during the grace period, then fails naming the reason", () => {
  const p = pod({
    phase: "Pending",
    initContainerStatuses: [{ name: "missing-0", state: { waiting: { reason: "ImagePullBackOff", message: 'Back-off pulling image "nope:1"' } } }],
  });
  assert.deepEqual(executorVerdict(job(), [p], at(5_000)), { recheckMs: 10_000 });
  assert.deepEqual(executorVerdict(job(), [p], at(START_FAILURE_GRACE_MS - 3_000)), { recheckMs: 3_000 });
  assert.deepEqual(executorVerdict(job(), [p], at(START_FAILURE_GRACE_MS)), {
    failed:
      'backup Job ns/stash-backup-bc-1-0: pod stash-backup-bc-1-0-abcde: container missing-0 cannot start: ImagePullBackOff: Back-off pulling image "nope:1" (for more than 60 s)',
  });
});

test("a missing image with imagePullPolicy Never fails at once; a pod still being created is rechecked; a running or finished Job is left to the runner", () => {
  const never = pod({
    phase: "Pending",
    containerStatuses: [{ name: "stash", state: { waiting: { reason: "ErrImageNeverPull", message: "image not present" } } }],
  });
  assert.match((executorVerdict(job(), [never], at(0)) as any).failed, /container stash cannot start: ErrImageNeverPull: image not present$/);
  const creating = pod({ phase: "Pending", containerStatuses: [{ name: "stash", state: { waiting: { reason: "ContainerCreating" } } }] });
  assert.deepEqual(executorVerdict(job(), [creating], at(0)), { recheckMs: 10_000 });
  const running = pod({ phase: "Running", containerStatuses: [{ name: "stash", state: { running: {} } }] });
  assert.equal(executorVerdict(job(), [running], at(0)), undefined);
  assert.equal(executorVerdict(job({ succeeded: 1 }), [], at(0)), undefined);
  assert.equal(executorVerdict(null, [], at(0)), undefined);
});
