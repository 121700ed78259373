// The auto-backup controller against a real API server: annotations on a Deployment, a PVC and an
// AppBinding make the Repository and BackupConfiguration of their blueprint; a blueprint change
// reaches them; removing the annotation removes the configuration and keeps the Repository.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { Kube, KubeObject } from "../../lib/kube/client.ts";
import { testNamespace } from "../../testing/cluster.ts";
import { cleanupAfterFile, eventually } from "../../testing/e2e.ts";
import { startBlueprintController } from "./controller.ts";
import type { BackupConfiguration, Repository } from "../../schema/types.generated.ts";

const V1BETA1 = "stash.appscode.com/v1beta1";
const V1ALPHA1 = "stash.appscode.com/v1alpha1";
const { defer } = cleanupAfterFile();

function blueprint(name: string, over: Record<string, unknown> = {}) {
  return {
    apiVersion: V1BETA1,
    kind: "BackupBlueprint",
    metadata: { name },
    spec: {
      backend: { gcs: { bucket: "stash-backup", prefix: "stash/${TARGET_NAMESPACE}/${TARGET_KIND}/${TARGET_NAME}" }, storageSecretName: "gcs-secret" },
      schedule: "*/5 * * * *",
      backupHistoryLimit: 3,
      retentionPolicy: { name: "keep-last-5", keepLast: 5, prune: true },
      ...over,
    },
  };
}

function deployment(namespace: string, annotations: Record<string, string>) {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "stash-demo", namespace, annotations },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "stash-demo" } },
      template: {
        metadata: { labels: { app: "stash-demo" } },
        spec: {
          containers: [{ name: "busybox", image: "busybox", volumeMounts: [{ name: "source-data", mountPath: "/source/data" }] }],
          volumes: [{ name: "source-data", emptyDir: {} }],
        },
      },
    },
  };
}

async function start(prefix: string) {
  const { kube, namespace } = await testNamespace(prefix);
  const controller = startBlueprintController({ kube, namespace });
  defer(() => controller.stop());
  await controller.synced;
  const bpName = `${prefix}-${randomBytes(3).toString("hex")}`;
  defer(() => kube.delete({ apiVersion: V1BETA1, kind: "BackupBlueprint", metadata: { name: bpName } }));
  return { kube, namespace, controller, bpName };
}

const bcOf = (kube: Kube, ns: string, name: string) => kube.getOrNull<BackupConfiguration>(V1BETA1, "BackupConfiguration", name, ns);
const repoOf = (kube: Kube, ns: string, name: string) => kube.getOrNull<Repository>(V1ALPHA1, "Repository", name, ns);

test("an annotated Deployment gets its blueprint's Repository and BackupConfiguration, kept in step and removed with the annotation", async () => {
  const { kube, namespace, bpName } = await start("auto-deploy");
  await kube.apply(blueprint(bpName));
  await kube.apply(
    deployment(namespace, {
      "stash.appscode.com/backup-blueprint": bpName,
      "stash.appscode.com/target-paths": "/source/data",
      "stash.appscode.com/volume-mounts": "source-data:/source/data",
      "stash.appscode.com/schedule": "*/15 * * * *",
    }),
  );
  const bc = await eventually("the BackupConfiguration", () => bcOf(kube, namespace, "deployment-stash-demo"));
  assert.deepEqual(bc.spec, {
    driver: "Restic",
    repository: { name: "deployment-stash-demo" },
    schedule: "*/15 * * * *",
    target: {
      ref: { apiVersion: "apps/v1", kind: "Deployment", name: "stash-demo" },
      paths: ["/source/data"],
      volumeMounts: [{ name: "source-data", mountPath: "/source/data" }],
    },
    retentionPolicy: { name: "keep-last-5", keepLast: 5, prune: true },
    backupHistoryLimit: 3,
  });
  assert.equal(bc.metadata.labels?.["stash.appscode.com/backup-blueprint"], bpName);
  assert.deepEqual(
    bc.metadata.ownerReferences?.map((r: any) => [r.kind, r.name]),
    [["Deployment", "stash-demo"]],
  );
  const repo = await eventually("the Repository", () => repoOf(kube, namespace, "deployment-stash-demo"));
  assert.deepEqual(repo.spec.backend, { gcs: { bucket: "stash-backup", prefix: `stash/${namespace}/deployment/stash-demo` }, storageSecretName: "gcs-secret" });

  // The blueprint changes: the generated objects follow.
  await kube.apply(
    blueprint(bpName, {
      retentionPolicy: { name: "keep-last-7", keepLast: 7, prune: false },
      backend: { gcs: { bucket: "other", prefix: "x/${TARGET_NAME}" }, storageSecretName: "gcs-secret" },
    }),
  );
  await eventually("the new retention policy", async () => (await bcOf(kube, namespace, "deployment-stash-demo"))?.spec.retentionPolicy.keepLast === 7);
  await eventually("the new prefix", async () => (await repoOf(kube, namespace, "deployment-stash-demo"))?.spec.backend.gcs!.prefix === "x/stash-demo");

  // An annotation changes: so does the configuration.
  await kube.apply(deployment(namespace, { "stash.appscode.com/backup-blueprint": bpName, "stash.appscode.com/schedule": "0 3 * * *" }));
  await eventually("the new schedule", async () => {
    const spec = (await bcOf(kube, namespace, "deployment-stash-demo"))?.spec;
    return spec?.schedule === "0 3 * * *" && spec.target!.paths === undefined;
  });

  // The annotation goes: the configuration goes, the Repository (and its data) stays.
  await kube.apply(deployment(namespace, {}));
  await eventually("the BackupConfiguration removed", async () => !(await bcOf(kube, namespace, "deployment-stash-demo")));
  assert.ok(await repoOf(kube, namespace, "deployment-stash-demo"), "the Repository was kept");
});

test("a PVC and an AppBinding get `persistentvolumeclaim-<name>` and `app-<name>` with their params and TARGET_APP_* filled in", async () => {
  const { kube, namespace, bpName } = await start("auto-db");
  await kube.apply(
    blueprint(bpName, {
      task: { name: "postgres-backup", params: [{ name: "args", value: "--clean" }] },
      backend: {
        s3: { endpoint: "http://minio:9000", bucket: "b", prefix: "${TARGET_APP_RESOURCE}/${TARGET_NAMESPACE}/${TARGET_NAME}" },
        storageSecretName: "s3",
      },
    }),
  );
  await kube.apply({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: "nfs-pvc", namespace, annotations: { "stash.appscode.com/backup-blueprint": bpName } },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
  });
  await kube.apply({
    apiVersion: "appcatalog.appscode.com/v1alpha1",
    kind: "AppBinding",
    metadata: {
      name: "sample-postgres",
      namespace,
      annotations: {
        "stash.appscode.com/backup-blueprint": bpName,
        "params.stash.appscode.com/args": "--if-exists",
        "params.stash.appscode.com/database": "shop",
      },
    },
    spec: { type: "kubedb.com/postgres", version: "15", clientConfig: { service: { name: "sample-postgres", port: 5432 } }, secret: { name: "pg-auth" } },
  });
  const pvcBc = await eventually("the PVC's BackupConfiguration", () => bcOf(kube, namespace, "persistentvolumeclaim-nfs-pvc"));
  assert.deepEqual(pvcBc.spec.task, { name: "postgres-backup", params: [{ name: "args", value: "--clean" }] });
  const app = await eventually("the AppBinding's BackupConfiguration", () => bcOf(kube, namespace, "app-sample-postgres"));
  assert.deepEqual(app.spec.task, {
    name: "postgres-backup",
    params: [
      { name: "args", value: "--if-exists" },
      { name: "database", value: "shop" },
    ],
  });
  assert.deepEqual(app.spec.target!.ref, { apiVersion: "appcatalog.appscode.com/v1alpha1", kind: "AppBinding", name: "sample-postgres" });
  const repo = await eventually("the AppBinding's Repository", () => repoOf(kube, namespace, "app-sample-postgres"));
  assert.equal(repo.spec.backend.s3!.prefix, `postgres/${namespace}/sample-postgres`);
});

test("a blueprint in another backupNamespace names the objects `<target ns>-<kind>-<name>` there and points back at the target", async () => {
  const { kube, namespace, bpName } = await start("auto-ns");
  const backupNs = `${namespace}-backup`;
  await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: backupNs } });
  await kube.apply(blueprint(bpName, { backupNamespace: backupNs }));
  await kube.apply(deployment(namespace, { "stash.appscode.com/backup-blueprint": bpName }));
  const name = `${namespace}-deployment-stash-demo`;
  const bc = await eventually("the BackupConfiguration in the backup namespace", () => bcOf(kube, backupNs, name));
  assert.deepEqual(bc.spec.target!.ref, { apiVersion: "apps/v1", kind: "Deployment", name: "stash-demo", namespace });
  assert.equal(bc.metadata.ownerReferences, undefined);
  assert.ok(await repoOf(kube, backupNs, name));
});

test("a malformed volume-mounts annotation creates nothing and records a Warning event naming the annotation", async () => {
  const { kube, namespace, bpName } = await start("auto-bad");
  await kube.apply(blueprint(bpName));
  await kube.apply(deployment(namespace, { "stash.appscode.com/backup-blueprint": bpName, "stash.appscode.com/volume-mounts": "source-data" }));
  const ev = await eventually("the Warning event", async () => {
    const list = await kube.list<KubeObject>("v1", "Event", namespace);
    return list.items.find((e: any) => e.reason === "AutoBackupFailed");
  });
  assert.equal(
    (ev as any).message,
    `Deployment ${namespace}/stash-demo, field metadata.annotations["stash.appscode.com/volume-mounts"]: annotation stash.appscode.com/volume-mounts: "source-data" is not <volume>:<absolute mountPath>[:<subPath>]`,
  );
  assert.equal(await bcOf(kube, namespace, "deployment-stash-demo"), null);
});
