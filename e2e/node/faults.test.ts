// Faults on the real node. The operator pod holding the Lease deleted while the sidecar or a backup Job
// backs up a larger volume: another replica takes the Lease and carries on, the Deployment replaces the pod, and
// the session ends Succeeded because the backup really completed. A backup Job whose container cannot start (its image cannot be pulled: registries
// point at a closed loopback port) or is OOM-killed (a tight runtimeSettings memory limit): the
// session fails with the pod's reason within its timeOut, never left Running.
//
// Deleting the leader pauses the controllers for every test on the node until another replica leads
// (the other replica keeps serving the webhooks and the Snapshot API); the test waits for the
// Deployment's replicas to be Ready again before it ends.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "../../testing/eventually.ts";
import { freshBucket } from "../../testing/services.ts";
import { kubectl, nodeNamespace, reachableFromPods, type NodeNamespace } from "../../testing/node.ts";
import { newBackupSession } from "../../stash/new-backup-session.ts";

const V1B = "stash.appscode.com/v1beta1";
const V1A = "stash.appscode.com/v1alpha1";
const BUSYBOX = "docker.io/library/busybox:1.35";
/** Never fires while a test runs: the tests create their BackupSessions as `kubectl stash trigger` does. */
const NEVER = "0 0 1 1 *";
const cond = (list: any[] | undefined, type: string) => (list ?? []).find((c: any) => c.type === type);
const seconds = (from: number) => ((Date.now() - from) / 1000).toFixed(1);

async function minioRepository(w: NodeNamespace, prefix: string) {
  const { minio, bucket } = await eventually("a MinIO bucket", () => freshBucket(prefix), 20_000, 100);
  const endpoint = await reachableFromPods(minio.endpoint);
  await w.kube.apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "minio-creds", namespace: w.namespace },
    stringData: { RESTIC_PASSWORD: randomBytes(12).toString("hex"), AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: minio.secretKey },
  });
  await w.kube.apply({
    apiVersion: V1A,
    kind: "Repository",
    metadata: { name: "repo", namespace: w.namespace },
    spec: { backend: { storageSecretName: "minio-creds", s3: { endpoint, bucket, prefix, region: minio.region } } },
  });
  return { minio, bucket };
}

async function readyBackupConfiguration(w: NodeNamespace, spec: Record<string, unknown>): Promise<any> {
  await w.kube.apply({
    apiVersion: V1B,
    kind: "BackupConfiguration",
    metadata: { name: "bc", namespace: w.namespace },
    spec: { repository: { name: "repo" }, schedule: NEVER, retentionPolicy: { name: "keep-last-5", keepLast: 5, prune: true }, ...spec },
  });
  return eventually(
    "BackupConfiguration Ready",
    async () => {
      const bc = await w.kube.get<any>(V1B, "BackupConfiguration", "bc", w.namespace);
      return bc.status?.phase === "Ready" && bc;
    },
    120_000,
    250,
  );
}

/** Creates a BackupSession for `bc` now (as `kubectl stash trigger` does) and returns its name. */
async function trigger(w: NodeNamespace, bc: any): Promise<string> {
  const s = newBackupSession(bc, Math.floor(Date.now() / 1000));
  await w.kube.create(s);
  return s.metadata.name;
}

function endedSession(w: NodeNamespace, name: string, timeoutMs: number): Promise<any> {
  return eventually(
    `BackupSession ${name} Succeeded or Failed`,
    async () => {
      const s = await w.kube.get<any>(V1B, "BackupSession", name, w.namespace);
      return ["Succeeded", "Failed"].includes(s.status?.phase) && s;
    },
    timeoutMs,
    250,
  );
}

/** The operator pods that are Running, Ready and not being deleted. */
async function readyOperatorPods(w: NodeNamespace): Promise<any[]> {
  const pods = (await w.kube.list<any>("v1", "Pod", "restash", "app.kubernetes.io/component=operator")).items;
  return pods.filter(
    (p) => !p.metadata.deletionTimestamp && p.status?.phase === "Running" && p.status.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"),
  );
}

/** A hostPath PersistentVolume on a temp dir bound to claim `claim` only, and the claim; both (and the dir) removed after the test. */
async function hostPathClaim(w: NodeNamespace, claim: string, after: (fn: () => unknown) => void): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), `restash-${claim}-`));
  const name = `${w.namespace}-${claim}`;
  after(() => rmSync(dir, { recursive: true, force: true }));
  after(() => w.kube.delete({ apiVersion: "v1", kind: "PersistentVolume", metadata: { name } }).catch(() => undefined));
  after(() => w.kube.delete({ apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: claim, namespace: w.namespace } }).catch(() => undefined));
  await w.kube.apply({
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name },
    spec: {
      capacity: { storage: "1Gi" },
      accessModes: ["ReadWriteOnce"],
      persistentVolumeReclaimPolicy: "Retain",
      storageClassName: "",
      claimRef: { namespace: w.namespace, name: claim },
      hostPath: { path: dir, type: "Directory" },
    },
  });
  await w.kube.apply({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: claim, namespace: w.namespace },
    spec: { accessModes: ["ReadWriteOnce"], storageClassName: "", resources: { requests: { storage: "1Gi" } } },
  });
  return dir;
}

/**
 * Triggers a backup of `bc`; once the runner has initialised the repository and is backing up (no
 * host result yet), deletes the operator pod that holds the Lease. Waits for another replica to lead,
 * the session to end, the deleted pod to be replaced and gone and the APIService Available again.
 */
async function leaderDeletedDuring(w: NodeNamespace, bc: any, what: string) {
  // The Deployment settled (every replica Ready, none terminating): the pod to delete is the Lease holder,
  // the one whose controllers run this session.
  const old = await eventually(
    "the operator Deployment settled, and its Lease holder",
    async () => {
      const d = await w.kube.get<any>("apps/v1", "Deployment", "restash-operator", "restash");
      const all = (await w.kube.list<any>("v1", "Pod", "restash", "app.kubernetes.io/component=operator")).items;
      const ready = await readyOperatorPods(w);
      const holder = (await w.kube.get<any>("coordination.k8s.io/v1", "Lease", "restash-operator", "restash")).spec?.holderIdentity ?? "";
      const leader = ready.find((p) => holder.startsWith(p.metadata.name));
      return all.length === d.spec.replicas && ready.length === d.spec.replicas && leader;
    },
    180_000,
    250,
  );
  const name = await trigger(w, bc);
  // The runner has initialised the repository and is backing up: no host result yet.
  const running = await eventually(
    what,
    async () => {
      const s = await w.kube.get<any>(V1B, "BackupSession", name, w.namespace);
      return s.status?.phase === "Running" && cond(s.status.conditions, "BackendRepositoryInitialized")?.status === "True" && s;
    },
    120_000,
    100,
  );
  assert.deepEqual(running.status.targets[0].stats ?? [], [], "the backup is still running when the operator goes");
  const deleted = Date.now();
  await kubectl(w.node, ["-n", "restash", "delete", "pod", old.metadata.name, "--wait=false"]);
  const lease = await eventually(
    "another operator pod holding the Lease",
    async () => {
      const l = await w.kube.get<any>("coordination.k8s.io/v1", "Lease", "restash-operator", "restash");
      const h: string = l.spec?.holderIdentity ?? "";
      return h !== "" && !h.startsWith(old.metadata.name) && l;
    },
    180_000,
    100,
  );
  const holder: string = lease.spec.holderIdentity;
  const acquired = Date.parse(lease.spec.acquireTime ?? lease.spec.renewTime);
  const leaderChanged = seconds(deleted);
  const s = await endedSession(w, name, 300_000);
  const ended = seconds(deleted);
  const replicas = (await w.kube.get<any>("apps/v1", "Deployment", "restash-operator", "restash")).spec.replicas;
  const [next] = await eventually(
    "the Deployment's replicas Ready again, the deleted pod replaced",
    async () => {
      const pods = (await readyOperatorPods(w)).filter((p) => p.metadata.name !== old.metadata.name);
      const fresh = pods.filter((p) => Date.parse(p.metadata.creationTimestamp) >= Math.floor(deleted / 1000) * 1000);
      return pods.length >= replicas && fresh.length > 0 && fresh;
    },
    180_000,
    100,
  );
  assert.ok(next, "a replacement pod");
  const failover = seconds(deleted);
  await eventually("the deleted operator pod gone", async () => (await w.kube.getOrNull("v1", "Pod", old.metadata.name, "restash")) === null, 120_000, 100);
  const oldGone = Date.now();
  // The webhooks and the Snapshot API are back for everyone before the test ends.
  await eventually(
    "the Snapshot APIService Available again",
    async () => {
      const a = await w.kube.request<any>("/apis/apiregistration.k8s.io/v1/apiservices/v1alpha1.repositories.stash.appscode.com");
      return a.status?.conditions?.some((c: any) => c.type === "Available" && c.status === "True");
    },
    120_000,
    250,
  );
  const timings = `Lease holder ${old.metadata.name} deleted -> ${holder} leads: ${leaderChanged} s; -> session ${s.status.phase}: ${ended} s; -> replacement ${next.metadata.name} Ready: ${failover} s; -> old pod gone: ${((oldGone - deleted) / 1000).toFixed(1)} s`;
  return { s, acquired, holder, timings };
}

test("the Lease-holding operator pod deleted while the sidecar backs up 200 MB: another replica leads and carries on, the pod is replaced, and the session ends Succeeded with the snapshot in MinIO", async (t) => {
  const started = Date.now();
  const w = await nodeNamespace("node-failover");
  const { minio, bucket } = await minioRepository(w, "failover");
  await w.kube.apply({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "app", namespace: w.namespace, labels: { app: "app" } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "app" } },
      template: {
        metadata: { labels: { app: "app" } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: "app",
              image: BUSYBOX,
              command: ["sh", "-c", "head -c 200000000 /dev/urandom > /source/data/big && touch /tmp/written && exec sleep 36000"],
              readinessProbe: { exec: { command: ["test", "-f", "/tmp/written"] }, periodSeconds: 1 },
              volumeMounts: [{ name: "source-data", mountPath: "/source/data" }],
            },
          ],
          volumes: [{ name: "source-data", emptyDir: {} }],
        },
      },
    },
  });
  const bc = await readyBackupConfiguration(w, {
    target: {
      ref: { apiVersion: "apps/v1", kind: "Deployment", name: "app" },
      volumeMounts: [{ name: "source-data", mountPath: "/source/data" }],
      paths: ["/source/data"],
    },
  });
  await eventually(
    "the app's pod with the sidecar, its data written",
    async () => {
      const pods = (await w.kube.list<any>("v1", "Pod", w.namespace, "app=app")).items;
      return pods.some(
        (p) =>
          !p.metadata.deletionTimestamp &&
          p.spec.containers.some((c: any) => c.name === "stash") &&
          p.status?.containerStatuses?.length === 2 &&
          p.status.containerStatuses.every((c: any) => c.ready),
      );
    },
    180_000,
    250,
  );
  const { s, acquired, holder, timings } = await leaderDeletedDuring(w, bc, "the sidecar backing up");
  assert.equal(s.status.phase, "Succeeded", JSON.stringify(s.status, null, 1));
  const host = s.status.targets[0].stats[0];
  assert.equal(host.phase, "Succeeded");
  assert.equal(host.snapshots[0].fileStats.totalFiles, 1);
  for (const type of ["BackendRepositoryInitialized", "RetentionPolicyApplied", "RepositoryIntegrityVerified", "MetricsPushed"])
    assert.equal(cond(s.status.conditions, type)?.status, "True", type);
  // The operator's last steps (history, metrics, phase) were taken once another replica led: by the new leader.
  const finished = Date.parse(cond(s.status.conditions, "MetricsPushed").lastTransitionTime);
  assert.ok(
    finished >= Math.floor(acquired / 1000) * 1000,
    `session finished at ${new Date(finished).toISOString()}, before ${holder} took the Lease at ${new Date(acquired).toISOString()}`,
  );
  assert.ok(
    (await minio.listObjects(bucket, "failover/")).some((k) => k.startsWith("failover/snapshots/")),
    "restic wrote the snapshot into MinIO",
  );
  const repo = await eventually(
    "Repository status",
    async () => {
      const r = await w.kube.get<any>(V1A, "Repository", "repo", w.namespace);
      return r.status?.snapshotCount >= 1 && r;
    },
    60_000,
    250,
  );
  assert.equal(repo.status.integrity, true);
  t.diagnostic(`${timings}; session ${s.status.sessionDuration}; test ${seconds(started)} s`);
});

test("the Lease-holding operator pod deleted while a backup Job backs up a 200 MB PVC: another replica leads and the session ends Succeeded", async (t) => {
  const started = Date.now();
  const w = await nodeNamespace("node-failover-job");
  const dir = await hostPathClaim(w, "data", (fn) => t.after(fn));
  const fd = openSync(join(dir, "big"), "w");
  for (let i = 0; i < 20; i++) writeSync(fd, randomBytes(10_000_000));
  closeSync(fd);
  await minioRepository(w, "failover-job");
  const bc = await readyBackupConfiguration(w, { target: { ref: { apiVersion: "v1", kind: "PersistentVolumeClaim", name: "data" }, paths: ["/stash-data"] } });
  const { s, acquired, holder, timings } = await leaderDeletedDuring(w, bc, "the backup Job backing up");
  assert.equal(s.status.phase, "Succeeded", JSON.stringify(s.status, null, 1));
  const host = s.status.targets[0].stats[0];
  assert.equal(host.phase, "Succeeded");
  assert.equal(host.snapshots[0].fileStats.totalFiles, 1);
  assert.equal(cond(s.status.targets[0].conditions, "BackupDisrupted"), undefined, "a Job that completed is not a disruption");
  const finished = Date.parse(cond(s.status.conditions, "MetricsPushed").lastTransitionTime);
  assert.ok(
    finished >= Math.floor(acquired / 1000) * 1000,
    `session finished at ${new Date(finished).toISOString()}, before ${holder} took the Lease at ${new Date(acquired).toISOString()}`,
  );
  // The Job controller counts the pod's success a little after the session has read it.
  const job = await eventually(
    "the backup Job counted as succeeded",
    async () => {
      const j = (await w.kube.list<any>("batch/v1", "Job", w.namespace)).items[0];
      return j?.status?.succeeded === 1 && j;
    },
    180_000,
    500,
  );
  assert.equal(job.status?.succeeded, 1, JSON.stringify(job.status));
  t.diagnostic(`${timings}; session ${s.status.sessionDuration}; test ${seconds(started)} s`);
});

test("a backup Job whose image cannot be pulled fails its BackupSession with ImagePullBackOff/ErrImagePull naming the image, within its timeOut", async (t) => {
  const started = Date.now();
  const w = await nodeNamespace("node-badimage");
  const image = `ghcr.io/restash/does-not-exist:${w.namespace}`;
  const fn = `${w.namespace}-missing-image`;
  // Functions and Tasks are cluster-scoped: named after the namespace, removed after the test.
  t.after(() => w.kube.delete({ apiVersion: V1B, kind: "Task", metadata: { name: fn } }).catch(() => undefined));
  t.after(() => w.kube.delete({ apiVersion: V1B, kind: "Function", metadata: { name: fn } }).catch(() => undefined));
  await w.kube.apply({
    apiVersion: V1B,
    kind: "Function",
    metadata: { name: fn },
    spec: { image, args: ["backup-pvc", "--backupsession=${BACKUP_SESSION:=}"] },
  });
  await w.kube.apply({ apiVersion: V1B, kind: "Task", metadata: { name: fn }, spec: { steps: [{ name: fn }] } });
  await hostPathClaim(w, "data", (fn) => t.after(fn));
  await minioRepository(w, "badimage");
  const bc = await readyBackupConfiguration(w, {
    task: { name: fn },
    target: { ref: { apiVersion: "v1", kind: "PersistentVolumeClaim", name: "data" } },
    timeOut: "5m",
  });
  const triggered = Date.now();
  const name = await trigger(w, bc);
  const s = await endedSession(w, name, 330_000);
  const toFailed = seconds(triggered);
  assert.equal(s.status.phase, "Failed", JSON.stringify(s.status, null, 1));
  assert.equal(cond(s.status.conditions, "DeadlineExceeded"), undefined, "failed on the pod's reason, before the deadline");
  const disrupted = cond(s.status.targets[0].conditions, "BackupDisrupted");
  assert.equal(disrupted?.status, "True", JSON.stringify(s.status.targets[0]));
  assert.equal(disrupted.reason, "FailedToCompleteDueToDisruption");
  assert.match(disrupted.message, /cannot start: (ErrImagePull|ImagePullBackOff)/);
  assert.ok(disrupted.message.includes(image), disrupted.message);
  assert.match(cond(s.status.conditions, "Stalled")?.message ?? "", /(ErrImagePull|ImagePullBackOff)/);
  t.diagnostic(`trigger -> Failed (ImagePullBackOff): ${toFailed} s; test ${seconds(started)} s`);
});

test("a backup Job OOM-killed under a tight runtimeSettings memory limit fails its BackupSession with OOMKilled, within its timeOut", async (t) => {
  const started = Date.now();
  const w = await nodeNamespace("node-oom");
  await hostPathClaim(w, "data", (fn) => t.after(fn));
  await minioRepository(w, "oom");
  const bc = await readyBackupConfiguration(w, {
    target: { ref: { apiVersion: "v1", kind: "PersistentVolumeClaim", name: "data" }, paths: ["/stash-data"] },
    runtimeSettings: { container: { resources: { limits: { memory: "48Mi" } } } },
    timeOut: "5m",
  });
  const triggered = Date.now();
  const name = await trigger(w, bc);
  const s = await endedSession(w, name, 330_000);
  const toFailed = seconds(triggered);
  assert.equal(s.status.phase, "Failed", JSON.stringify(s.status, null, 1));
  assert.equal(cond(s.status.conditions, "DeadlineExceeded"), undefined, "failed on the pod's reason, before the deadline");
  const disrupted = cond(s.status.targets[0].conditions, "BackupDisrupted");
  assert.equal(disrupted?.status, "True", JSON.stringify(s.status.targets[0]));
  assert.match(disrupted.message, /failed: pod stash-backup-.*: container stash was OOMKilled \(exit code 137\)/);
  assert.match(cond(s.status.conditions, "Stalled")?.message ?? "", /OOMKilled/);
  const job = (await w.kube.list<any>("batch/v1", "Job", w.namespace)).items[0];
  assert.equal(job.spec.template.spec.containers[0].resources.limits.memory, "48Mi");
  t.diagnostic(`trigger -> Failed (OOMKilled): ${toFailed} s; test ${seconds(started)} s`);
});
