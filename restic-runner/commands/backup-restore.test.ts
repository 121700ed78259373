// End to end, against the real API server and real restic: the operator makes the CronJob and
// sidecar; the runner is started exactly as the CronJob / sidecar / init-container would start
// it (args read from the objects the operator wrote); a fixture tree is backed up, restored into
// another workload, and compared byte for byte.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { stopControlPlane } from "../../testing/cluster.ts";
import { startOperator } from "../../reconciler/operator.ts";
import { deployment, eventually } from "../../reconciler/controllers/test-fixtures.ts";
import { runRunner, treeHash } from "./test-support.ts";
import { PASSWORD, V1B, cond, finalSession, resticSnapshots, setupBackup, startSidecar, trigger, world } from "./e2e-steps.ts";

after(() => stopControlPlane());

test("a Deployment's data is backed up by its sidecar to a local repository, restored into another Deployment byte for byte, and retention keeps what the policy says", async (t) => {
  const w = await world("e2e-local", t);
  const op = startOperator({ kube: w.kube, namespace: w.namespace, image: "restash:e2e" });
  t.after(() => op.stop());
  const { src, repoDir, pathMap } = await setupBackup(w, { bcExtra: { retentionPolicy: { name: "keep-last-2", keepLast: 2, prune: true } } });
  const sidecar = await startSidecar(w, "app", { RESTASH_PATH_MAP: pathMap });
  t.after(() => sidecar.stop());

  const first = await trigger(w, "app-backup");
  assert.match(first, /^app-backup-\d{10}$/);
  const s1 = await finalSession(w, first);
  assert.equal(s1.status.phase, "Succeeded", `${JSON.stringify(s1.status, null, 1)}\n${sidecar.output()}`);
  assert.deepEqual(
    Object.fromEntries(Object.entries(s1.metadata.labels).filter(([k]) => k.startsWith("stash.appscode.com/"))),
    {
      "stash.appscode.com/invoker-name": "app-backup",
      "stash.appscode.com/invoker-type": "BackupConfiguration",
      "stash.appscode.com/target-kind": "Deployment",
      "stash.appscode.com/target-name": "app",
      "stash.appscode.com/target-namespace": w.namespace,
    },
  );
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
  await w.kube.apply(deployment(w.namespace, "restored", src));
  await w.kube.apply({
    apiVersion: V1B,
    kind: "RestoreSession",
    metadata: { name: "restore", namespace: w.namespace },
    spec: {
      repository: { name: "repo" },
      target: { ref: { apiVersion: "apps/v1", kind: "Deployment", name: "restored" }, volumeMounts: [{ name: "source-data", mountPath: src }], rules: [{ paths: [src] }] },
    },
  });
  const init = await eventually("stash-init injected", async () => {
    const d = await w.kube.get<any>("apps/v1", "Deployment", "restored", w.namespace);
    return (d.spec.template.spec.initContainers ?? []).find((c: any) => c.name === "stash-init");
  });
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
  assert.deepEqual(rs.status.stats.map((s: any) => [s.hostname, s.phase]), [["host-0", "Succeeded"]]);
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
