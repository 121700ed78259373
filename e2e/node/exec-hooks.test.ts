// Exec hooks for real: the sidecar runs a preBackup hook in the app container of its own pod through
// the API server's pods/exec and the kubelet, before the real CronJob's backup; the restore Job's
// post-task-hook runs a postRestore hook in the restored database's container (the pod behind the
// AppBinding's Service), after the data is in, and a failing one fails the RestoreSession.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { eventually } from "../../testing/eventually.ts";
import { freshBucket } from "../../testing/services.ts";
import { endedBackupSession, kubectl, nodeNamespace, reachableFromPods, type NodeNamespace } from "../../testing/node.ts";
import { APPBINDING, deleteAfter, endedRestoreSession, minioRepository, postgresCredentials, postgresServer, psql } from "../../testing/node-postgres.ts";

const V1B = "stash.appscode.com/v1beta1";
const cond = (list: any[] | undefined, type: string) => (list ?? []).find((c: any) => c.type === type);

test("a preBackup exec hook runs in the app container through the kubelet, and the backup that follows holds what it wrote", async () => {
  const w = await nodeNamespace("node-hooks");
  const { minio, bucket } = await eventually("a MinIO bucket", () => freshBucket("hooks"), 20_000, 100);
  const endpoint = await reachableFromPods(minio.endpoint);
  await w.kube.apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "minio-creds", namespace: w.namespace },
    stringData: { RESTIC_PASSWORD: randomBytes(12).toString("hex"), AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: minio.secretKey },
  });
  await w.kube.apply({
    apiVersion: "stash.appscode.com/v1alpha1",
    kind: "Repository",
    metadata: { name: "repo", namespace: w.namespace },
    spec: { backend: { storageSecretName: "minio-creds", s3: { endpoint, bucket, prefix: "hooks", region: minio.region } } },
  });
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
              image: "docker.io/library/busybox:1.35",
              command: ["sh", "-c", "echo data > /source/data/file && exec sleep 36000"],
              volumeMounts: [{ name: "source-data", mountPath: "/source/data" }],
            },
          ],
          volumes: [{ name: "source-data", emptyDir: {} }],
        },
      },
    },
  });
  await w.kube.apply({
    apiVersion: V1B,
    kind: "BackupConfiguration",
    metadata: { name: "app-backup", namespace: w.namespace },
    spec: {
      repository: { name: "repo" },
      schedule: "*/1 * * * *",
      hooks: { preBackup: { exec: { command: ["/bin/sh", "-c", "echo written-by-the-hook > /source/data/pre-backup"] }, containerName: "app" } },
      target: {
        ref: { apiVersion: "apps/v1", kind: "Deployment", name: "app" },
        volumeMounts: [{ name: "source-data", mountPath: "/source/data" }],
        paths: ["/source/data"],
      },
      retentionPolicy: { name: "keep-last-5", keepLast: 5, prune: true },
    },
  });
  // The CronJob's trigger Job, then the sidecar's backup: slow on a loaded 2-core machine.
  const session = await endedBackupSession(w, 360_000);
  assert.equal(session.status.phase, "Succeeded", JSON.stringify(session.status, null, 1));
  const target = session.status.targets[0];
  assert.equal(cond(target.conditions, "PreBackupHookExecutionSucceeded")?.status, "True", JSON.stringify(target.conditions));
  assert.equal(target.stats[0].snapshots[0].fileStats.totalFiles, 2, "the file the hook wrote was backed up with the app's");
  const pods = (await w.kube.list<any>("v1", "Pod", w.namespace, "app=app")).items.filter(
    (p) => p.status?.phase === "Running" && !p.metadata.deletionTimestamp,
  );
  assert.equal(pods.length, 1);
  assert.equal(
    await kubectl(w.node, ["-n", w.namespace, "exec", pods[0].metadata.name, "-c", "app", "--", "cat", "/source/data/pre-backup"]),
    "written-by-the-hook\n",
  );
});

/** A RestoreSession of the latest dump into the AppBinding `pg` with the postgres-restore Task and a postRestore exec hook. */
function restoreWithHook(w: NodeNamespace, name: string, script: string): any {
  return {
    apiVersion: V1B,
    kind: "RestoreSession",
    metadata: { name, namespace: w.namespace },
    spec: {
      task: { name: "postgres-restore" },
      repository: { name: "repo" },
      hooks: { postRestore: { containerName: "postgres", exec: { command: ["/bin/sh", "-c", script] } } },
      target: { ref: { apiVersion: APPBINDING, kind: "AppBinding", name: "pg" }, rules: [{ snapshots: ["latest"] }] },
    },
  };
}

/** The containers of the pod of the restore Job a RestoreSession owns. */
async function restorePodContainers(w: NodeNamespace, session: string): Promise<string[]> {
  const jobs = (await w.kube.list<any>("batch/v1", "Job", w.namespace)).items.filter((j) =>
    j.metadata.ownerReferences?.some((o: any) => o.kind === "RestoreSession" && o.name === session),
  );
  assert.equal(jobs.length, 1, `one restore Job for ${session}`);
  const pods = (await w.kube.list<any>("v1", "Pod", w.namespace, `job-name=${jobs[0].metadata.name}`)).items;
  return [...(pods[0]?.spec.initContainers ?? []), ...(pods[0]?.spec.containers ?? [])].map((c: any) => c.name);
}

let pg: NodeNamespace;
let server = "";

test("a postRestore exec hook runs in the restored database pod's container through the kubelet, after the data is in", async () => {
  pg = await nodeNamespace("node-hooks-pg");
  deleteAfter(pg);
  const { env } = await minioRepository(pg, "repo", "hooks-pg");
  await postgresCredentials(pg, "pg-auth");
  server = (await postgresServer(pg, "pg", "pg-auth")).pod;
  // The dump in the repository, as postgres-backup stores it (one file /dumpfile.sql of host-0), written by restic here.
  const dump = `CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO items SELECT g, 'item-' || g FROM generate_series(1, 500) g ON CONFLICT DO NOTHING;
`;
  const renv = { ...process.env, ...env };
  execFileSync("restic", ["init"], { env: renv, stdio: "ignore" });
  execFileSync("restic", ["backup", "--stdin", "--stdin-filename", "dumpfile.sql", "--host", "host-0", "--quiet"], { env: renv, input: dump });

  // The hook reads the restored table: what it writes is the count the restore left.
  await pg.kube.apply(
    restoreWithHook(pg, "restore", 'psql -XAtq -U postgres -d postgres -c "SELECT count(*) FROM items" > /tmp/post-restore && hostname >> /tmp/post-restore'),
  );
  const rs = await endedRestoreSession(pg, "restore");
  assert.equal(rs.status.phase, "Succeeded", JSON.stringify(rs.status, null, 1));
  const c = cond(rs.status.conditions, "PostRestoreHookExecutionSucceeded");
  assert.equal(c?.status, "True", JSON.stringify(rs.status.conditions));
  assert.equal(c.reason, "SuccessfullyExecutedPostRestoreHook");
  assert.deepEqual(await restorePodContainers(pg, "restore"), ["postgres-restore-0", "update-status-1", "post-task-hook"]);
  assert.equal(await kubectl(pg.node, ["-n", pg.namespace, "exec", server, "-c", "postgres", "--", "cat", "/tmp/post-restore"]), `500\n${server}\n`);
  assert.equal((await psql(pg, server, "postgres", "SELECT count(*) FROM items")).trim(), "500");
  console.log(`[hooks] postRestore: ${rs.status.phase} after ${rs.status.sessionDuration ?? "?"}`);
});

test("a postRestore exec hook that exits non-zero fails the RestoreSession with the hook's condition False, after it ran in the container", async () => {
  assert.ok(server, "the postRestore test ran first");
  await pg.kube.apply(restoreWithHook(pg, "restore-bad-hook", "echo ran-before-failing > /tmp/failing-hook; exit 3"));
  const rs = await endedRestoreSession(pg, "restore-bad-hook");
  assert.equal(rs.status.phase, "Failed", JSON.stringify(rs.status, null, 1));
  const c = cond(rs.status.conditions, "PostRestoreHookExecutionSucceeded");
  assert.equal(c?.status, "False", JSON.stringify(rs.status.conditions));
  assert.equal(c.reason, "FailedToExecutePostRestoreHook");
  assert.match(c.message, /exit (code|status) 3|code 3/, c.message);
  assert.equal(await kubectl(pg.node, ["-n", pg.namespace, "exec", server, "-c", "postgres", "--", "cat", "/tmp/failing-hook"]), "ran-before-failing\n");
  // The data step itself went through: the failure is the hook's.
  assert.equal((await psql(pg, server, "postgres", "SELECT count(*) FROM items")).trim(), "500");
  console.log(`[hooks] failing postRestore: ${rs.status.phase} after ${rs.status.sessionDuration ?? "?"}: ${c.message}`);
});
