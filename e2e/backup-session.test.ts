// BackupSession against the real API server: skipping, deadlines and retries (clock advanced), and a
// PVC target's backup and restore Jobs run by the runner as the Job's container would run it.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testNamespace, stopControlPlane } from "../testing/cluster.ts";
import { ManualClock } from "../lib/workqueue.ts";
import { startOperator } from "../reconciler/operator.ts";
import { newBackupSession } from "../stash/new-backup-session.ts";
import { backupConfiguration, deployment, eventually, repository, secret } from "../testing/stash-objects.ts";
import { runRunner } from "../testing/runner.ts";
import type { Kube } from "../lib/kube/client.ts";

after(() => stopControlPlane());

const V1B = "stash.appscode.com/v1beta1";
const cond = (o: any, type: string) => (o?.status?.conditions ?? []).find((c: any) => c.type === type);
const session = (kube: Kube, ns: string, name: string) => kube.getOrNull<any>(V1B, "BackupSession", name, ns);

async function readyBC(kube: Kube, namespace: string, extra: Record<string, unknown> = {}, target = { kind: "Deployment", name: "app" }) {
  await kube.apply(secret(namespace, "repo-secret", { RESTIC_PASSWORD: "pw-for-tests-only" }));
  await kube.apply(repository(namespace, "repo", { s3: { endpoint: "http://127.0.0.1:1", bucket: "b" } }));
  if (target.kind === "Deployment") await kube.apply(deployment(namespace, target.name));
  await kube.apply(backupConfiguration(namespace, "bc", target, "repo", extra));
  return eventually("BackupConfiguration Ready", async () => {
    const bc = await kube.getOrNull<any>(V1B, "BackupConfiguration", "bc", namespace);
    return bc?.status?.phase === "Ready" && bc;
  });
}

test("a BackupSession that starts while another runs for the same invoker is Skipped, and the running one gets its target initiated", async (t) => {
  const { kube, namespace } = await testNamespace("bs-skip");
  const op = startOperator({ kube, namespace, image: "restash:test" });
  t.after(() => op.stop());
  const bc = await readyBC(kube, namespace);
  await kube.create(newBackupSession(bc, 1_700_000_000));
  const s1 = await eventually("first Running", async () => {
    const s = await session(kube, namespace, "bc-1700000000");
    return s?.status?.phase === "Running" && s;
  });
  assert.deepEqual(s1.status.targets[0].ref, { apiVersion: "apps/v1", kind: "Deployment", name: "app", namespace });
  assert.equal(s1.status.targets[0].totalHosts, 1);
  assert.equal(s1.status.targets[0].conditions[0].type, "BackupExecutorEnsured");
  assert.equal(s1.status.targets[0].conditions[0].status, "True");
  assert.equal(s1.spec.retryLeft, 0);

  await kube.create(newBackupSession(bc, 1_700_000_060));
  const s2 = await eventually("second Skipped", async () => {
    const s = await session(kube, namespace, "bc-1700000060");
    return s?.status?.phase === "Skipped" && s;
  });
  assert.equal(cond(s2, "BackupSkipped").message, 'Skipped taking new backup. Reason: Previous BackupSession: bc-1700000000 is "Running".');
  assert.equal(cond(s2, "BackupSkipped").reason, "SkippedTakingNewBackup");
  assert.equal(s2.status.targets, undefined);
  assert.equal((await session(kube, namespace, "bc-1700000000")).status.phase, "Running");
});

test("a BackupSession past its timeOut fails with DeadlineExceeded, and retryConfig creates the next try after the delay (clock advanced, no sleeping)", async (t) => {
  const { kube, namespace } = await testNamespace("bs-timeout");
  const clock = new ManualClock(Date.now());
  const op = startOperator({ kube, namespace, image: "restash:test", clock });
  t.after(() => op.stop());
  const bc = await readyBC(kube, namespace, { timeOut: "30m", retryConfig: { maxRetry: 2, delay: "10m" } });
  const created = await kube.create(newBackupSession(bc, Math.floor(clock.now() / 1000)));
  const name = created.metadata.name!;
  assert.equal(created.spec.retryLeft, 2);
  const running = await eventually("Running with a deadline", async () => {
    const s = await session(kube, namespace, name);
    return s?.status?.phase === "Running" && s.status.sessionDeadline && s;
  });
  assert.equal(Date.parse(running.status.sessionDeadline), Date.parse(running.metadata.creationTimestamp) + 30 * 60_000);

  clock.advance(31 * 60_000);
  const failed = await eventually("Failed", async () => {
    const s = await session(kube, namespace, name);
    return s?.status?.phase === "Failed" && s;
  });
  assert.equal(cond(failed, "DeadlineExceeded").status, "True");
  assert.equal(cond(failed, "DeadlineExceeded").message, "Failed to complete backup within 30m.");
  assert.equal(cond(failed, "Stalled").message, "Failed to complete backup within 30m.");
  assert.ok(failed.status.sessionDuration);
  const withRetry = await eventually("nextRetry set", async () => {
    const s = await session(kube, namespace, name);
    return s?.status?.nextRetry && s;
  });
  assert.equal(Date.parse(withRetry.status.nextRetry), Math.floor(clock.now() / 1000) * 1000 + 10 * 60_000);
  assert.equal((await kube.list(V1B, "BackupSession", namespace)).items.length, 1, "no retry before the delay");

  clock.advance(10 * 60_000 + 1000);
  const retried = await eventually("retry created", async () => {
    const items = (await kube.list<any>(V1B, "BackupSession", namespace)).items;
    return items.length === 2 && items.find((s) => s.metadata.name !== name);
  });
  assert.equal(retried.spec.retryLeft, 1);
  assert.equal(retried.metadata.labels["stash.appscode.com/invoker-name"], "bc");
  await eventually("retried=true", async () => (await session(kube, namespace, name))?.status?.retried === true);
});

test("a PVC target gets a backup Job per BackupSession, running the Job's container backs the PVC data up, and a restore Job restores a snapshot by id into another PVC", async (t) => {
  const { kube, namespace, cp } = await testNamespace("bs-job");
  const op = startOperator({ kube, namespace, image: "restash:test" });
  t.after(() => op.stop());
  const dir = mkdtempSync(join(tmpdir(), "restash-bs-job-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "data.txt"), "pvc data\n");
  await kube.apply({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: "data", namespace },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
  });
  await kube.apply(secret(namespace, "repo-secret", { RESTIC_PASSWORD: "pw-for-tests-only" }));
  await kube.apply(repository(namespace, "repo", { local: { mountPath: "/safe/repo", hostPath: { path: "/backups" } } }));
  const bcObj = backupConfiguration(namespace, "bc", { kind: "PersistentVolumeClaim", name: "data" }, "repo");
  bcObj.spec.target.paths = [dir];
  bcObj.spec.target.volumeMounts = [{ name: "data", mountPath: dir }];
  await kube.apply(bcObj);
  const bc = await eventually("Ready", async () => {
    const o = await kube.getOrNull<any>(V1B, "BackupConfiguration", "bc", namespace);
    return o?.status?.phase === "Ready" && o;
  });
  assert.equal(cond(bc, "StashSidecarInjected"), undefined, "no sidecar for a PVC");
  await kube.create(newBackupSession(bc, 1_700_000_000));
  const job = await eventually("backup Job", () =>
    kube.getOrNull<any>("batch/v1", "Job", "stash-backup-bc-1700000000-0", namespace).then((j) => j ?? undefined),
  );
  assert.equal(job.metadata.ownerReferences[0].kind, "BackupSession");
  assert.equal(job.spec.backoffLimit, 0);
  const c = job.spec.template.spec.containers[0];
  assert.ok(c.args.includes("--backupsession=bc-1700000000"));
  assert.deepEqual(job.spec.template.spec.volumes[1], { name: "stash-target", persistentVolumeClaim: { claimName: "data" } });

  const r = await runRunner(c.args, {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    KUBECONFIG: cp.kubeconfig,
    RESTASH_SCRATCH_DIR: join(dir, "..", `${namespace}-scratch`),
    RESTASH_PATH_MAP: `/safe/repo=${join(dir, "..", `${namespace}-repo`)}`,
  });
  assert.equal(r.code, 0, r.output);
  const s = await eventually("Succeeded", async () => {
    const o = await session(kube, namespace, "bc-1700000000");
    return ["Succeeded", "Failed"].includes(o?.status?.phase) && o;
  });
  assert.equal(s.status.phase, "Succeeded", JSON.stringify(s.status));
  assert.equal(s.status.targets[0].stats[0].snapshots[0].fileStats.totalFiles, 1);

  // Restore that snapshot by id into another PVC through a restore Job.
  await kube.apply({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: "data-copy", namespace },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
  });
  const snapshotId = s.status.targets[0].stats[0].snapshots[0].name;
  await kube.apply({
    apiVersion: V1B,
    kind: "RestoreSession",
    metadata: { name: "pvc-restore", namespace },
    spec: {
      repository: { name: "repo" },
      target: {
        ref: { apiVersion: "v1", kind: "PersistentVolumeClaim", name: "data-copy" },
        volumeMounts: [{ name: "data", mountPath: dir }],
        rules: [{ snapshots: [snapshotId] }],
      },
    },
  });
  const rjob = await eventually("restore Job", () =>
    kube.getOrNull<any>("batch/v1", "Job", "stash-restore-pvc-restore-0", namespace).then((j) => j ?? undefined),
  );
  assert.equal(rjob.metadata.ownerReferences[0].kind, "RestoreSession");
  assert.deepEqual(rjob.spec.template.spec.volumes[1], { name: "stash-target", persistentVolumeClaim: { claimName: "data-copy" } });
  const restored = join(dir, "..", `${namespace}-restored`);
  const rr = await runRunner(rjob.spec.template.spec.containers[0].args, {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    KUBECONFIG: cp.kubeconfig,
    RESTASH_SCRATCH_DIR: join(dir, "..", `${namespace}-scratch`),
    RESTASH_PATH_MAP: `/safe/repo=${join(dir, "..", `${namespace}-repo`)},${dir}=${restored}`,
  });
  assert.equal(rr.code, 0, rr.output);
  const rs = await eventually("RestoreSession final", async () => {
    const o = await kube.get<any>(V1B, "RestoreSession", "pvc-restore", namespace);
    return ["Succeeded", "Failed"].includes(o.status?.phase) && o;
  });
  assert.equal(rs.status.phase, "Succeeded", JSON.stringify(rs.status));
  assert.equal(cond(rs, "RestoreJobCreated")?.status, "True");
  assert.equal(readFileSync(join(restored, "data.txt"), "utf8"), "pvc data\n");
  rmSync(restored, { recursive: true, force: true });
  rmSync(join(dir, "..", `${namespace}-scratch`), { recursive: true, force: true });
  rmSync(join(dir, "..", `${namespace}-repo`), { recursive: true, force: true });
});
