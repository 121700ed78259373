// A stand-alone PVC backed up and restored through the shipped pvc-backup / pvc-restore Tasks:
// the operator runs against the real API server and creates the sessions' Jobs from the Tasks;
// with no kubelet, each Job's stored pod runs its steps as local processes against a
// real restic repository, and the sessions' status in the API server tells the outcome.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import type { Kube, KubeObject } from "../lib/kube/client.ts";
import { startOperator, type Operator } from "../reconciler/operator.ts";
import { newBackupSession } from "../stash/new-backup-session.ts";
import { testNamespace } from "../testing/cluster.ts";
import { cleanupAfterFile, eventually } from "../testing/e2e.ts";
import { sharedPushgateway, type Pushgateway } from "../testing/services.ts";
import { installCatalog } from "../stash/tasks/catalog.ts";
import { runJobLocally } from "../testing/local-pod.ts";
import { backupJobName, restoreJobName } from "../stash/names.ts";
import type { BackupConfiguration } from "../schema/types.generated.ts";

const V1BETA1 = "stash.appscode.com/v1beta1";
const { defer, tempDir } = cleanupAfterFile({ sharedServices: true });

/** The value of one sample in exposition text, found by name and a subset of its labels. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{")) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

async function treeHashes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else
        out[relative(dir, p)] = createHash("sha256")
          .update(await readFile(p))
          .digest("hex");
    }
  };
  await walk(dir);
  return out;
}

interface Setup {
  pushgateway?: Pushgateway;
  kube: Kube;
  kubeconfig: string;
  namespace: string;
  operator: Operator;
  repoDir: string;
}

async function setup(prefix: string, withMetrics = false): Promise<Setup> {
  const { cp, kube, namespace } = await testNamespace(prefix);
  const pushgateway = withMetrics ? await sharedPushgateway() : undefined;
  await installCatalog(kube);
  const repoDir = await tempDir("restash-repo-");
  await kube.apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "restic", namespace },
    stringData: { RESTIC_PASSWORD: randomBytes(12).toString("hex") },
  });
  await kube.apply({
    apiVersion: "stash.appscode.com/v1alpha1",
    kind: "Repository",
    metadata: { name: "local-repo", namespace },
    spec: { backend: { local: { mountPath: repoDir, hostPath: { path: repoDir } }, storageSecretName: "restic" } },
  });
  const operator = startOperator({ kube, namespace, image: "ghcr.io/restash/restash:test", pushgatewayUrl: pushgateway?.url });
  defer(() => operator.stop());
  return { kube, kubeconfig: cp.kubeconfig, namespace, operator, repoDir, pushgateway };
}

const pvc = (namespace: string, name: string) => ({
  apiVersion: "v1",
  kind: "PersistentVolumeClaim",
  metadata: { name, namespace },
  spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
});

async function backupConfiguration(s: Setup, name: string, claim: string, mountPath: string): Promise<BackupConfiguration> {
  await s.kube.apply(pvc(s.namespace, claim));
  await s.kube.apply({
    apiVersion: V1BETA1,
    kind: "BackupConfiguration",
    metadata: { name, namespace: s.namespace },
    spec: {
      task: { name: "pvc-backup" },
      schedule: "*/5 * * * *",
      repository: { name: "local-repo" },
      target: { ref: { apiVersion: "v1", kind: "PersistentVolumeClaim", name: claim }, volumeMounts: [{ name: "target-volume", mountPath }] },
      retentionPolicy: { name: "keep-last-5", keepLast: 5, prune: true },
    },
  });
  return eventually(`BackupConfiguration ${name} Ready`, async () => {
    const bc = await s.kube.get<BackupConfiguration>(V1BETA1, "BackupConfiguration", name, s.namespace);
    return bc.status?.phase === "Ready" && bc;
  });
}

/** Creates a BackupSession as the trigger would and waits until the operator has initiated its target. */
async function triggerBackup(s: Setup, bc: BackupConfiguration, seconds: number): Promise<string> {
  const bs = newBackupSession(bc, seconds);
  await s.kube.create(bs);
  await eventually("the backup target initiated", async () => {
    const got = await s.kube.get<KubeObject>(V1BETA1, "BackupSession", bs.metadata.name, s.namespace);
    return got.status?.targets?.[0]?.totalHosts === 1;
  });
  return bs.metadata.name;
}

const finalSession = (s: Setup, kind: string, name: string) =>
  eventually(`${kind} ${name} final`, async () => {
    const o = await s.kube.get<KubeObject>(V1BETA1, kind, name, s.namespace);
    return ["Succeeded", "Failed", "Skipped", "Unknown"].includes(o.status?.phase) && o;
  });

test("a PVC backed up through the pvc-backup Task restores byte for byte through the pvc-restore Task", async () => {
  const s = await setup("pvc-task", true);
  const src = await tempDir("restash-src-");
  await mkdir(join(src, "sub"), { recursive: true });
  await writeFile(join(src, "hello.txt"), "hello from the PVC\n");
  await writeFile(join(src, "sub", "blob.bin"), randomBytes(64 * 1024));
  const bc = await backupConfiguration(s, "pvc-backup", "data", src);
  const session = await triggerBackup(s, bc, 1_700_000_000);

  const run = await runJobLocally({
    kube: s.kube,
    kubeconfig: s.kubeconfig,
    namespace: s.namespace,
    name: backupJobName(session, 0),
    volumeDirs: { "target-volume": src },
  });
  assert.deepEqual(
    run.containers.map((c) => [c.name, c.exitCode]),
    [
      ["pvc-backup-0", 0],
      ["update-status-1", 0],
    ],
  );

  const bs = await finalSession(s, "BackupSession", session);
  assert.equal(bs.status.phase, "Succeeded", JSON.stringify(bs.status));
  const stat = bs.status.targets[0].stats[0];
  assert.equal(stat.hostname, "host-0");
  assert.equal(stat.phase, "Succeeded");
  assert.equal(stat.snapshots.length, 1);
  assert.equal(stat.snapshots[0].path, src);
  assert.equal(stat.snapshots[0].name.length, 8);
  assert.deepEqual(stat.snapshots[0].fileStats, { totalFiles: 2, newFiles: 2, modifiedFiles: 0, unmodifiedFiles: 0 });
  const cond = (t: string) => bs.status.conditions.find((c: any) => c.type === t)?.status;
  assert.deepEqual(
    ["BackendRepositoryInitialized", "RetentionPolicyApplied", "RepositoryIntegrityVerified", "RepositoryMetricsPushed", "MetricsPushed"].map(cond),
    ["True", "True", "True", "True", "True"],
  );
  // update-status pushed the host's and the Repository's metrics to the real pushgateway.
  const metrics = await s.pushgateway!.metrics();
  const who = { invoker_kind: "BackupConfiguration", invoker_name: "pvc-backup", namespace: s.namespace };
  assert.equal(sample(metrics, "stash_backup_host_backup_success", { ...who, hostname: "host-0", kind: "PersistentVolumeClaim", name: "data" }), 1);
  assert.equal(sample(metrics, "stash_appscode_com_backupsession_host_files_total", { ...who, hostname: "host-0" }), 2);
  assert.equal(sample(metrics, "stash_repository_snapshot_count", { invoker_name: "pvc-backup", name: "local-repo", backend: "local" }), 1);
  assert.equal(sample(metrics, "stash_repository_integrity", { invoker_name: "pvc-backup", name: "local-repo" }), 1);
  const repo = await s.kube.get<KubeObject>("stash.appscode.com/v1alpha1", "Repository", "local-repo", s.namespace);
  assert.equal(repo.status.snapshotCount, 1);
  assert.equal(repo.status.integrity, true);
  assert.equal(repo.status.lastBackupTime, bs.metadata.creationTimestamp);

  // Restore into another, empty PVC.
  const dst = await tempDir("restash-dst-");
  await s.kube.apply(pvc(s.namespace, "data-restored"));
  await s.kube.apply({
    apiVersion: V1BETA1,
    kind: "RestoreSession",
    metadata: { name: "pvc-restore", namespace: s.namespace },
    spec: {
      task: { name: "pvc-restore" },
      repository: { name: "local-repo" },
      target: {
        ref: { apiVersion: "v1", kind: "PersistentVolumeClaim", name: "data-restored" },
        volumeMounts: [{ name: "target-volume", mountPath: dst }],
        rules: [{ paths: [src] }],
      },
    },
  });
  const rs = await eventually("the restore Job created", async () => {
    const o = await s.kube.get<KubeObject>(V1BETA1, "RestoreSession", "pvc-restore", s.namespace);
    return o.status?.totalHosts === 1 && o;
  });
  const restore = await runJobLocally({
    kube: s.kube,
    kubeconfig: s.kubeconfig,
    namespace: s.namespace,
    name: restoreJobName(rs.metadata.name!, 0),
    volumeDirs: { "target-volume": dst },
  });
  assert.deepEqual(
    restore.containers.map((c) => [c.name, c.exitCode]),
    [
      ["pvc-restore-0", 0],
      ["update-status-1", 0],
    ],
  );
  const done = await finalSession(s, "RestoreSession", "pvc-restore");
  assert.equal(done.status.phase, "Succeeded", JSON.stringify(done.status));
  assert.deepEqual(
    done.status.stats.map((x: any) => [x.hostname, x.phase]),
    [["host-0", "Succeeded"]],
  );
  assert.deepEqual(await treeHashes(dst), await treeHashes(src));
  assert.equal(
    sample(await s.pushgateway!.metrics(), "stash_restore_host_restore_success", {
      invoker_kind: "RestoreSession",
      invoker_name: "pvc-restore",
      namespace: s.namespace,
      hostname: "host-0",
    }),
    1,
  );
});

test("a backup of an empty PVC fails its BackupSession with a message naming the path", async () => {
  const s = await setup("pvc-empty");
  const empty = await tempDir("restash-empty-");
  const bc = await backupConfiguration(s, "empty-backup", "empty", empty);
  const session = await triggerBackup(s, bc, 1_700_000_100);
  const run = await runJobLocally({
    kube: s.kube,
    kubeconfig: s.kubeconfig,
    namespace: s.namespace,
    name: backupJobName(session, 0),
    volumeDirs: { "target-volume": empty },
  });
  assert.deepEqual(
    run.containers.map((c) => [c.name, c.exitCode]),
    [
      ["pvc-backup-0", 1],
      ["update-status-1", 1],
    ],
  );
  assert.equal(run.failed, "pvc-backup-0");
  const bs = await finalSession(s, "BackupSession", session);
  assert.equal(bs.status.phase, "Failed");
  const stat = bs.status.targets[0].stats[0];
  assert.equal(stat.phase, "Failed");
  assert.equal(stat.error, `nothing to back up at ${empty}: the directory is empty`);
  assert.equal(await readdir(s.repoDir).then((l) => l.length), 0, "no repository was even created");
});

test("a BackupConfiguration whose Task names a missing Function gets a Failed BackupSession naming the Task and the Function", async () => {
  const s = await setup("pvc-nofn");
  const task = `broken-${randomBytes(3).toString("hex")}`;
  await s.kube.apply({
    apiVersion: V1BETA1,
    kind: "Task",
    metadata: { name: task },
    spec: { steps: [{ name: "pvc-backup" }, { name: "no-such-function" }, { name: "update-status" }] },
  });
  defer(() => s.kube.delete({ apiVersion: V1BETA1, kind: "Task", metadata: { name: task } }));
  const src = await tempDir("restash-src-");
  await writeFile(join(src, "a.txt"), "a");
  await s.kube.apply(pvc(s.namespace, "data"));
  await s.kube.apply({
    apiVersion: V1BETA1,
    kind: "BackupConfiguration",
    metadata: { name: "broken", namespace: s.namespace },
    spec: {
      task: { name: task },
      schedule: "0 * * * *",
      repository: { name: "local-repo" },
      target: { ref: { apiVersion: "v1", kind: "PersistentVolumeClaim", name: "data" } },
      retentionPolicy: { name: "k", keepLast: 1, prune: true },
    },
  });
  const bc = await eventually("BackupConfiguration broken Ready", async () => {
    const o = await s.kube.get<BackupConfiguration>(V1BETA1, "BackupConfiguration", "broken", s.namespace);
    return o.status?.phase === "Ready" && o;
  });
  const bs = newBackupSession(bc, 1_700_000_200);
  await s.kube.create(bs);
  const done = await finalSession(s, "BackupSession", bs.metadata.name);
  assert.equal(done.status.phase, "Failed");
  const ensured = done.status.targets[0].conditions.find((c: any) => c.type === "BackupExecutorEnsured");
  assert.equal(ensured.status, "False");
  assert.equal(ensured.message, `Failed to ensure backup executor. Reason: Task ${task}, field spec.steps[1].name: Function "no-such-function" not found`);
});
