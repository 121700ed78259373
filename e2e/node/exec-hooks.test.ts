// Exec hooks for real: the sidecar runs a preBackup hook in the app container of its own pod through
// the API server's pods/exec and the kubelet, before the real CronJob's backup.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { eventually } from "../../testing/eventually.ts";
import { freshBucket } from "../../testing/services.ts";
import { endedBackupSession, kubectl, nodeNamespace, reachableFromPods } from "../../testing/node.ts";

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
  const session = await endedBackupSession(w);
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
