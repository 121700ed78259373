import { after, test } from "node:test";
import assert from "node:assert/strict";
import { stopControlPlane, testNamespace } from "../../testing/cluster.ts";
import { backupConfiguration, eventually, repository, secret } from "../../testing/stash-objects.ts";
import { newBackupSession } from "../../stash/new-backup-session.ts";
import { startOperator } from "../operator.ts";
import { START_FAILURE_GRACE_MS, executorVerdict } from "./executor-failure.ts";

after(() => stopControlPlane());

const V1B = "stash.appscode.com/v1beta1";

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

test("against the API server: a BackupSession whose backup Job pod cannot start (ErrImageNeverPull) is Failed with BackupDisrupted naming the pod and reason", async (t) => {
  const { kube, namespace } = await testNamespace("bs-job-fault");
  const op = startOperator({ kube, namespace, image: "restash:test" });
  t.after(() => op.stop());
  await kube.apply({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: "data", namespace },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
  });
  await kube.apply(secret(namespace, "repo-secret", { RESTIC_PASSWORD: "pw-for-tests-only" }));
  await kube.apply(repository(namespace, "repo", { s3: { endpoint: "http://127.0.0.1:1", bucket: "b" } }));
  await kube.apply(backupConfiguration(namespace, "bc", { kind: "PersistentVolumeClaim", name: "data" }, "repo", { timeOut: "1h" }));
  const bc = await eventually("Ready", async () => {
    const o = await kube.getOrNull<any>(V1B, "BackupConfiguration", "bc", namespace);
    return o?.status?.phase === "Ready" && o;
  });
  await kube.create(newBackupSession(bc, 1_700_000_000));
  const jobName = "stash-backup-bc-1700000000-0";
  const job = await eventually("backup Job", () => kube.getOrNull<any>("batch/v1", "Job", jobName, namespace).then((j) => j ?? undefined));
  // No kubelet or Job controller here: the pod and the statuses they would write, written by hand.
  const container = job.spec.template.spec.containers[0];
  await kube.create({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: `${jobName}-x1`, namespace, labels: { "batch.kubernetes.io/job-name": jobName } },
    spec: { restartPolicy: "Never", containers: [{ name: container.name, image: container.image }] },
  });
  await kube.mergePatch(
    { apiVersion: "v1", kind: "Pod", metadata: { name: `${jobName}-x1`, namespace } },
    {
      status: {
        phase: "Pending",
        containerStatuses: [
          {
            name: container.name,
            image: container.image,
            imageID: "",
            ready: false,
            restartCount: 0,
            state: { waiting: { reason: "ErrImageNeverPull", message: `Container image "${container.image}" is not present with pull policy of Never` } },
          },
        ],
      },
    },
    "status",
  );
  await kube.mergePatch(job, { status: { active: 1, startTime: new Date().toISOString() } }, "status");
  const s = await eventually("Failed", async () => {
    const o = await kube.getOrNull<any>(V1B, "BackupSession", "bc-1700000000", namespace);
    return ["Succeeded", "Failed"].includes(o?.status?.phase) && o;
  });
  assert.equal(s.status.phase, "Failed", JSON.stringify(s.status));
  const disrupted = s.status.targets[0].conditions.find((c: any) => c.type === "BackupDisrupted");
  assert.equal(disrupted?.status, "True");
  assert.equal(disrupted.reason, "FailedToCompleteDueToDisruption");
  assert.equal(
    disrupted.message,
    `backup Job ${namespace}/${jobName}: pod ${jobName}-x1: container ${container.name} cannot start: ErrImageNeverPull: Container image "${container.image}" is not present with pull policy of Never`,
  );
  assert.equal(s.status.conditions.find((c: any) => c.type === "Stalled")?.message, disrupted.message);
});
