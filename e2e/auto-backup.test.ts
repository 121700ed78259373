// Auto-backup end to end: a PVC annotated with a blueprint gets a Repository and
// BackupConfiguration from the auto-backup controller, the operator makes the configuration Ready
// and builds the backup Job from the blueprint's Task, and that Job (run without a kubelet) puts
// the PVC's data into MinIO under the prefix the blueprint's ${TARGET_*} variables give.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { KubeObject } from "../lib/kube/client.ts";
import { installCatalog } from "../stash/tasks/catalog.ts";
import { runJobLocally } from "../testing/local-pod.ts";
import { testNamespace } from "../testing/cluster.ts";
import { cleanupAfterFile, eventually, s3StorageSecret } from "../testing/e2e.ts";
import { newBackupSession } from "../stash/new-backup-session.ts";
import { backupJobName } from "../stash/names.ts";
import { startOperator } from "../reconciler/operator.ts";
import { startBlueprintController } from "../reconciler/blueprints/controller.ts";
import type { BackupConfiguration } from "../schema/types.generated.ts";

const V1BETA1 = "stash.appscode.com/v1beta1";
const { defer, tempDir } = cleanupAfterFile({ sharedServices: true });

test("an annotated PVC is backed up into MinIO through the configuration its blueprint generated", async () => {
  const { cp, kube, namespace } = await testNamespace("auto-e2e");
  await installCatalog(kube);
  const { minio, bucket } = await s3StorageSecret(kube, namespace, "minio-creds", "auto");
  const bp = `pvc-bp-${randomBytes(3).toString("hex")}`;
  await kube.apply({
    apiVersion: V1BETA1,
    kind: "BackupBlueprint",
    metadata: { name: bp },
    spec: {
      backend: {
        s3: { endpoint: minio.endpoint, bucket, prefix: "${TARGET_NAMESPACE}/${TARGET_KIND}/${TARGET_NAME}", region: minio.region },
        storageSecretName: "minio-creds",
      },
      task: { name: "pvc-backup" },
      schedule: "*/5 * * * *",
      retentionPolicy: { name: "keep-last-5", keepLast: 5, prune: true },
    },
  });
  defer(() => kube.delete({ apiVersion: V1BETA1, kind: "BackupBlueprint", metadata: { name: bp } }));
  const operator = startOperator({ kube, namespace, image: "ghcr.io/restash/restash:test" });
  defer(() => operator.stop());
  const blueprints = startBlueprintController({ kube, namespace });
  defer(() => blueprints.stop());

  const src = await tempDir("restash-auto-src-");
  await writeFile(join(src, "orders.csv"), "id,total\n1,9.99\n2,19.50\n");
  await kube.apply({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: "app-data", namespace, annotations: { "stash.appscode.com/backup-blueprint": bp } },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
  });

  const bc = await eventually("the generated BackupConfiguration Ready", async () => {
    const o = await kube.getOrNull<BackupConfiguration>(V1BETA1, "BackupConfiguration", "persistentvolumeclaim-app-data", namespace);
    return o?.status?.phase === "Ready" && o;
  });
  const bs = newBackupSession(bc, 1_700_003_000);
  await kube.create(bs);
  await eventually("the backup Job", () => kube.getOrNull("batch/v1", "Job", backupJobName(bs.metadata.name, 0), namespace));
  const run = await runJobLocally({
    kube,
    kubeconfig: cp.kubeconfig,
    namespace,
    name: backupJobName(bs.metadata.name, 0),
    volumeDirs: { "target-volume": src },
  });
  assert.deepEqual(
    run.containers.map((c) => [c.name, c.exitCode]),
    [
      ["pvc-backup-0", 0],
      ["update-status-1", 0],
    ],
    run.containers.map((c) => c.stderr).join("\n"),
  );
  const done = await eventually("the BackupSession final", async () => {
    const o = await kube.get<KubeObject>(V1BETA1, "BackupSession", bs.metadata.name, namespace);
    return ["Succeeded", "Failed"].includes(o.status?.phase) && o;
  });
  assert.equal(done.status.phase, "Succeeded", JSON.stringify(done.status));
  assert.equal(done.status.targets[0].stats[0].snapshots[0].fileStats.totalFiles, 1);
  const objects = await minio.listObjects(bucket, `${namespace}/persistentvolumeclaim/app-data/`);
  assert.ok(
    objects.some((k) => k.includes("/snapshots/")),
    objects.join(", "),
  );
});
