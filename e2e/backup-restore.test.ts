// End to end, against the real API server and real restic: the operator makes the CronJob and
// sidecar; the runner is started exactly as the CronJob / sidecar / init-container would start
// it (args read from the objects the operator wrote); a fixture tree is backed up, restored into
// another workload, and compared byte for byte.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { stopControlPlane } from "../testing/cluster.ts";
import { startOperator } from "../reconciler/operator.ts";
import { deployment, eventually, repository, secret } from "../testing/stash-objects.ts";
import { runRunner, treeHash } from "../testing/runner.ts";
import { freshBucket, sharedPushgateway } from "../testing/services.ts";
import { generateFixtureTree } from "../fixtures/data/generate.ts";
import { treeHash as hashTree } from "../testing/tree-hash.ts";
import { Watch } from "@kubernetes/client-node";
import {
  PASSWORD,
  V1B,
  applyBackupConfiguration,
  cond,
  finalSession,
  injected,
  resticSnapshots,
  setupBackup,
  startSidecar,
  trigger,
  world,
  type World,
} from "../testing/e2e-steps.ts";

after(() => stopControlPlane());

/**
 * A Deployment "restored" mounting `src` as the source Deployment does, and RestoreSession `name`
 * restoring `rule` from Repository `repo` into it; returns the stash-init container injected into it.
 */
async function restoreIntoNewDeployment(w: World, name: string, repo: string, src: string, rule: Record<string, unknown>): Promise<any> {
  await w.kube.apply(deployment(w.namespace, "restored", src));
  await w.kube.apply({
    apiVersion: V1B,
    kind: "RestoreSession",
    metadata: { name, namespace: w.namespace },
    spec: {
      repository: { name: repo },
      target: { ref: { apiVersion: "apps/v1", kind: "Deployment", name: "restored" }, volumeMounts: [{ name: "source-data", mountPath: src }], rules: [rule] },
    },
  });
  return injected(w, "restored", "stash-init");
}

test("a Deployment's data is backed up by its sidecar to a local repository, restored into another Deployment byte for byte, and retention keeps what the policy says", async (t) => {
  const w = await world("e2e-local", t);
  const op = startOperator({ kube: w.kube, namespace: w.namespace, image: "restash:e2e" });
  t.after(() => op.stop());
  const { src, repoDir, pathMap } = await setupBackup(w, { bcExtra: { retentionPolicy: { name: "keep-last-2", keepLast: 2, prune: true } } });
  const sidecar = await startSidecar(w, "app", { RESTASH_PATH_MAP: pathMap, RESTASH_PROGRESS_INTERVAL_MS: "200" });
  t.after(() => sidecar.stop());

  // Every progress entry the runner writes into the session, as the API server stores it.
  const progress: any[] = [];
  const watch = await new Watch(w.kube.kc).watch(
    `/apis/${V1B}/namespaces/${w.namespace}/backupsessions`,
    {},
    (_type, obj: any) => {
      for (const tg of obj.status?.targets ?? []) progress.push(...(tg.progress ?? []));
    },
    () => {},
  );
  t.after(() => watch.abort());

  const first = await trigger(w, "app-backup");
  assert.match(first, /^app-backup-\d{10}$/);
  const s1 = await finalSession(w, first);
  assert.equal(s1.status.phase, "Succeeded", `${JSON.stringify(s1.status, null, 1)}\n${sidecar.output()}`);
  assert.deepEqual(Object.fromEntries(Object.entries(s1.metadata.labels).filter(([k]) => k.startsWith("stash.appscode.com/"))), {
    "stash.appscode.com/invoker-name": "app-backup",
    "stash.appscode.com/invoker-type": "BackupConfiguration",
    "stash.appscode.com/target-kind": "Deployment",
    "stash.appscode.com/target-name": "app",
    "stash.appscode.com/target-namespace": w.namespace,
  });
  const target = s1.status.targets[0];
  assert.equal(target.phase, "Succeeded");
  assert.equal(target.totalHosts, 1);
  assert.deepEqual(target.preBackupActions, ["InitializeBackendRepository"]);
  assert.deepEqual(target.postBackupActions, ["ApplyRetentionPolicy", "VerifyRepositoryIntegrity", "SendRepositoryMetrics"]);
  assert.equal(target.stats.length, 1);
  const host = target.stats[0];
  assert.equal(host.hostname, "host-0");
  assert.equal(host.phase, "Succeeded");
  assert.equal(host.snapshots.length, 1);
  assert.equal(host.snapshots[0].path, src);
  assert.match(host.snapshots[0].name, /^[0-9a-f]{8}$/);
  assert.equal(host.snapshots[0].fileStats.totalFiles, 8, "regular files (symlinks and dirs are not counted by restic)");
  assert.equal(host.snapshots[0].fileStats.newFiles, 8);
  assert.match(host.snapshots[0].totalSize, /^20\.\d{3} MiB$/);
  for (const type of ["BackendRepositoryInitialized", "RetentionPolicyApplied", "RepositoryIntegrityVerified", "BackupHistoryCleaned", "MetricsPushed"]) {
    assert.equal(cond(s1.status.conditions, type)?.status, "True", type);
  }
  assert.match(s1.status.sessionDuration, /^\d+s$|^\d+m\d+s$/);
  // Progress was visible in status while the backup ran (files, bytes, percent, ETA), ending at
  // 100%, and is gone once the host finished.
  assert.ok(progress.length >= 1, "no progress was written into the BackupSession");
  const last = progress[progress.length - 1];
  assert.equal(last.hostname, "host-0");
  assert.equal(last.path, src);
  assert.equal(last.percentDone, 100);
  assert.equal(last.totalFiles, 8);
  assert.ok(last.totalBytes >= 20 * 1024 * 1024 && last.bytesDone === last.totalBytes, JSON.stringify(last));
  assert.equal(last.secondsRemaining, 0);
  assert.equal(target.progress, undefined, "progress is removed when the host finishes");
  assert.ok(!JSON.stringify(s1).includes(PASSWORD), "no secret in the session");

  const repo1 = await w.kube.get<any>("stash.appscode.com/v1alpha1", "Repository", "repo", w.namespace);
  assert.equal(repo1.status.integrity, true);
  assert.equal(repo1.status.snapshotCount, 1);
  assert.equal(repo1.status.firstBackupTime, s1.metadata.creationTimestamp);
  assert.equal(repo1.status.lastBackupTime, s1.metadata.creationTimestamp);
  assert.match(repo1.status.totalSize, /MiB$/);
  assert.equal(resticSnapshots(repoDir, PASSWORD).length, 1);

  // Restore into another Deployment, via a RestoreSession and its init-container.
  const dst = join(w.dir, "restored-data");
  const init = await restoreIntoNewDeployment(w, "restore", "repo", src, { paths: [src] });
  const rsBefore = await eventually("RestoreSession Running", async () => {
    const r = await w.kube.get<any>(V1B, "RestoreSession", "restore", w.namespace);
    return r.status?.phase === "Running" && r;
  });
  assert.equal(rsBefore.status.totalHosts, 1);
  assert.equal(cond(rsBefore.status.conditions, "StashInitContainerInjected")?.status, "True");
  const restore = await runRunner(init.args, w.env({ POD_NAME: "restored-7c9d-xyz12", RESTASH_PATH_MAP: `${pathMap},${src}=${dst}` }));
  assert.equal(restore.code, 0, restore.output);
  const rs = await eventually("RestoreSession Succeeded", async () => {
    const r = await w.kube.get<any>(V1B, "RestoreSession", "restore", w.namespace);
    return ["Succeeded", "Failed"].includes(r.status?.phase) && r;
  });
  assert.equal(rs.status.phase, "Succeeded", JSON.stringify(rs.status));
  assert.deepEqual(
    rs.status.stats.map((s: any) => [s.hostname, s.phase]),
    [["host-0", "Succeeded"]],
  );
  assert.equal(cond(rs.status.conditions, "RestoreExecutorEnsured")?.status, "True");
  assert.equal(cond(rs.status.conditions, "MetricsPushed")?.status, "True");
  assert.equal(treeHash(dst), treeHash(src), "restored tree is byte-identical");

  // More backups: keepLast 2 leaves exactly two snapshots; history keeps the last completed session.
  for (let i = 0; i < 2; i++) {
    const name = await trigger(w, "app-backup");
    const s = await finalSession(w, name);
    assert.equal(s.status.phase, "Succeeded", JSON.stringify(s.status));
    assert.equal(s.status.targets[0].stats[0].snapshots[0].fileStats.newFiles, 0, "nothing changed");
  }
  const snaps = resticSnapshots(repoDir, PASSWORD);
  assert.equal(snaps.length, 2, "keepLast: 2");
  const repo2 = await w.kube.get<any>("stash.appscode.com/v1alpha1", "Repository", "repo", w.namespace);
  assert.equal(repo2.status.snapshotCount, 2);
  assert.equal(repo2.status.snapshotsRemovedOnLastCleanup, 1);
  assert.equal(repo2.status.firstBackupTime, s1.metadata.creationTimestamp, "firstBackupTime stays");
  const sessions = (await w.kube.list<any>(V1B, "BackupSession", w.namespace)).items;
  assert.equal(sessions.length, 2, `backupHistoryLimit 1 keeps the newest and the last completed: ${sessions.map((s) => s.metadata.name)}`);
  assert.ok(!sessions.some((s) => s.metadata.name === first), "the oldest session was cleaned");
});

test("backed up to S3 (MinIO) by the sidecar, restored into another Deployment byte for byte, with Stash's metrics in the pushgateway and no key in status", async (t) => {
  const w = await world("e2e-s3", t);
  const pgw = await sharedPushgateway();
  const { minio, bucket } = await freshBucket("e2e");
  const op = startOperator({ kube: w.kube, namespace: w.namespace, image: "restash:e2e", pushgatewayUrl: pgw.url });
  t.after(() => op.stop());
  const src = join(w.dir, "data");
  const gen = await generateFixtureTree(src, { largeFileBytes: 12 * 1024 * 1024, smallFiles: 30 });
  await w.kube.apply(
    secret(w.namespace, "s3-secret", { RESTIC_PASSWORD: PASSWORD, AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: minio.secretKey }),
  );
  await w.kube.apply({
    ...repository(w.namespace, "s3-repo", { s3: { endpoint: minio.endpoint, bucket, prefix: "demo/app", region: minio.region } }),
    spec: { backend: { storageSecretName: "s3-secret", s3: { endpoint: minio.endpoint, bucket, prefix: "demo/app", region: minio.region } } },
  });
  await w.kube.apply(deployment(w.namespace, "app", src));
  const stash = await applyBackupConfiguration(w, "s3-backup", "app", "s3-repo", src, { retentionPolicy: { name: "keep-last-3", keepLast: 3, prune: true } });
  assert.ok(stash.args.includes(`--pushgateway-url=${pgw.url}`));
  const sidecar = await startSidecar(w, "app");
  t.after(() => sidecar.stop());

  const name = await trigger(w, "s3-backup");
  const s = await finalSession(w, name);
  assert.equal(s.status.phase, "Succeeded", `${JSON.stringify(s.status)}\n${sidecar.output()}`);
  assert.equal(cond(s.status.conditions, "RepositoryMetricsPushed")?.status, "True");
  assert.equal(cond(s.status.conditions, "MetricsPushed")?.status, "True");
  assert.equal(s.status.targets[0].stats[0].snapshots[0].fileStats.totalFiles, gen.files);
  const text = JSON.stringify(s) + JSON.stringify(await w.kube.get("stash.appscode.com/v1alpha1", "Repository", "s3-repo", w.namespace));
  assert.ok(!text.includes(minio.secretKey) && !text.includes(PASSWORD), "no key or password in status");
  assert.ok(!sidecar.output().includes(minio.secretKey), "no key in logs");
  const objects = await minio.listObjects(bucket, "demo/app/");
  assert.ok(objects.includes("demo/app/config"), "restic repository under bucket/prefix");
  assert.ok(objects.some((k) => k.startsWith("demo/app/data/")));

  // Metrics: host and repository (sidecar) and session (operator), under the invoker's job.
  const metrics = await pgw.metrics();
  const job = `job="backupconfiguration-${w.namespace}-s3-backup"`;
  const line = (name: string) => metrics.split("\n").find((l) => l.startsWith(name + "{") && l.includes(job));
  assert.match(line("stash_backup_session_success") ?? "", / 1$/);
  assert.match(line("stash_appscode_com_backupsession_success") ?? "", / 1$/);
  assert.match(
    line("stash_backup_host_backup_success") ?? "",
    /hostname="host-0".* 1$/,
    `${metrics
      .split("\n")
      .filter((l) => l.includes("host"))
      .slice(0, 5)
      .join("\n")}\n${sidecar
      .output()
      .split("\n")
      .filter((l) => l.includes("metric"))
      .join("\n")}`,
  );
  assert.match(line("stash_backup_host_files_total") ?? "", new RegExp(` ${gen.files}$`));
  const integrity = line("stash_repository_integrity") ?? "";
  assert.ok(
    integrity.includes('backend="s3"') && integrity.includes(`bucket="${bucket}"`) && integrity.includes('prefix="demo/app"') && integrity.endsWith(" 1"),
    integrity,
  );
  assert.match(line("stash_repository_snapshot_count") ?? "", / 1$/);
  const targetOk = line("stash_backup_target_success") ?? "";
  assert.ok(targetOk.includes('kind="Deployment"') && targetOk.includes('group="apps"') && targetOk.endsWith(" 1"), targetOk);

  // Restore into another Deployment.
  const dst = join(w.dir, "restored");
  const init = await restoreIntoNewDeployment(w, "s3-restore", "s3-repo", src, { sourceHost: "host-0", paths: [src] });
  await eventually("RestoreSession Running", async () => (await w.kube.get<any>(V1B, "RestoreSession", "s3-restore", w.namespace)).status?.phase === "Running");
  const r = await runRunner(init.args, w.env({ POD_NAME: "restored-5f6d-q1w2e", RESTASH_PATH_MAP: `${src}=${dst}` }));
  assert.equal(r.code, 0, r.output);
  const rs = await eventually("RestoreSession final", async () => {
    const o = await w.kube.get<any>(V1B, "RestoreSession", "s3-restore", w.namespace);
    return ["Succeeded", "Failed"].includes(o.status?.phase) && o;
  });
  assert.equal(rs.status.phase, "Succeeded", JSON.stringify(rs.status));
  const [a, b] = await Promise.all([hashTree(src), hashTree(dst)]);
  assert.equal(b.hash, a.hash, "restored tree is byte-identical");
  assert.equal(b.files, gen.files);
  const after = await pgw.metrics();
  assert.ok(
    after
      .split("\n")
      .some((l) => l.startsWith("stash_restore_session_success{") && l.includes(`job="restoresession-${w.namespace}-s3-restore"`) && l.endsWith(" 1")),
    "restore session metric pushed",
  );
});
