import { test } from "node:test";
import assert from "node:assert/strict";
import { autoBackupName, renderAutoBackup, targetVariables } from "./render.ts";
import { autoBackupRequest } from "./annotations.ts";
import { blueprintViolations } from "./checks.ts";

const bp = {
  metadata: { name: "pg" },
  spec: {
    backend: { gcs: { bucket: "b", prefix: "${TARGET_APP_RESOURCE}/${TARGET_NAMESPACE}/${TARGET_NAME}" }, storageSecretName: "gcs" },
    task: { name: "postgres-backup-${TARGET_APP_VERSION}", params: [{ name: "args", value: "--clean" }] },
    schedule: "*/5 * * * *",
    retentionPolicy: { name: "keep", keepLast: 5, prune: true },
    interimVolumeTemplate: { metadata: { name: "${TARGET_APP_RESOURCE}-${TARGET_NAME}" } },
    runtimeSettings: { container: { env: [{ name: "X", value: "${LATER}" }] } },
  },
};
const app = {
  apiVersion: "appcatalog.appscode.com/v1alpha1",
  kind: "AppBinding",
  name: "db",
  namespace: "prod",
  uid: "u1",
  appType: "kubedb.com/postgres",
  appVersion: "15.2",
};

test("an AppBinding's blueprint renders `app-<name>` objects with every TARGET_* variable filled and others kept", () => {
  const req = autoBackupRequest(
    { "stash.appscode.com/backup-blueprint": "pg", "params.stash.appscode.com/args": "--if-exists" },
    { kind: "AppBinding", name: "db" },
  )!;
  const labels = {
    "app.kubernetes.io/managed-by": "stash.appscode.com",
    "stash.appscode.com/backup-blueprint": "pg",
    "stash.appscode.com/target-kind": "AppBinding",
    "stash.appscode.com/target-name": "db",
    "stash.appscode.com/target-namespace": "prod",
  };
  assert.deepEqual(renderAutoBackup(bp, app, req), {
    repository: {
      apiVersion: "stash.appscode.com/v1alpha1",
      kind: "Repository",
      metadata: { name: "app-db", namespace: "prod", labels },
      spec: { backend: { gcs: { bucket: "b", prefix: "postgres/prod/db" }, storageSecretName: "gcs" } },
    },
    backupConfiguration: {
      apiVersion: "stash.appscode.com/v1beta1",
      kind: "BackupConfiguration",
      metadata: {
        name: "app-db",
        namespace: "prod",
        labels,
        ownerReferences: [{ apiVersion: "appcatalog.appscode.com/v1alpha1", kind: "AppBinding", name: "db", uid: "u1" }],
      },
      spec: {
        repository: { name: "app-db" },
        schedule: "*/5 * * * *",
        target: { ref: { apiVersion: "appcatalog.appscode.com/v1alpha1", kind: "AppBinding", name: "db" } },
        retentionPolicy: { name: "keep", keepLast: 5, prune: true },
        task: { name: "postgres-backup-15.2", params: [{ name: "args", value: "--if-exists" }] },
        interimVolumeTemplate: { metadata: { name: "postgres-db" } },
        runtimeSettings: { container: { env: [{ name: "X", value: "${LATER}" }] } },
      },
    },
  });
});

test("names follow Stash: lower-case kind, the target namespace in another backup namespace, the blueprint when several", () => {
  const d = { apiVersion: "apps/v1", kind: "Deployment", name: "web", namespace: "demo" };
  assert.equal(autoBackupName(d, "demo", "bp", false), "deployment-web");
  assert.equal(autoBackupName({ ...d, kind: "PersistentVolumeClaim", name: "nfs-pvc" }, "demo", "bp", false), "persistentvolumeclaim-nfs-pvc");
  assert.equal(autoBackupName({ ...app, name: "sample-postgres-1", namespace: "prod-1" }, "backup", "bp", false), "prod-1-app-sample-postgres-1");
  assert.equal(autoBackupName(d, "demo", "daily", true), "deployment-web-daily");
  assert.deepEqual(targetVariables(d), {
    TARGET_API_VERSION: "apps/v1",
    TARGET_KIND: "deployment",
    TARGET_NAMESPACE: "demo",
    TARGET_NAME: "web",
    TARGET_RESOURCE: "deployments",
  });
});

test("annotations give schedule, paths, volume mounts and params; a malformed one is an error naming it", () => {
  assert.deepEqual(
    autoBackupRequest(
      {
        "stash.appscode.com/backup-blueprint": "a, b,a",
        "stash.appscode.com/schedule": "0 * * * *",
        "stash.appscode.com/target-paths": "/d1,/d2",
        "stash.appscode.com/volume-mounts": "v1:/d1,v2:/d2:sub",
        "params.stash.appscode.com/z": "1",
        "params.stash.appscode.com/a": "2",
      },
      { kind: "Deployment", name: "w" },
    ),
    {
      blueprints: ["a", "b"],
      schedule: "0 * * * *",
      paths: ["/d1", "/d2"],
      volumeMounts: [
        { name: "v1", mountPath: "/d1" },
        { name: "v2", mountPath: "/d2", subPath: "sub" },
      ],
      params: [
        { name: "a", value: "2" },
        { name: "z", value: "1" },
      ],
    },
  );
  assert.equal(autoBackupRequest({ other: "x" }, { kind: "Deployment", name: "w" }), undefined);
  assert.throws(
    () =>
      autoBackupRequest(
        { "stash.appscode.com/backup-blueprint": "a", "stash.appscode.com/target-paths": "data" },
        { kind: "Deployment", namespace: "n", name: "w" },
      ),
    {
      message:
        'Deployment n/w, field metadata.annotations["stash.appscode.com/target-paths"]: annotation stash.appscode.com/target-paths: path "data" is not absolute',
    },
  );
});

test("a blueprint whose rendering the BackupConfiguration schema rejects is reported by the blueprint field", () => {
  const bad = { metadata: { name: "x" }, spec: { ...bp.spec, retentionPolicy: { name: "keep", keepLast: 5 } } };
  assert.deepEqual(blueprintViolations(bad), [
    { field: "spec.retentionPolicy.prune", message: "renders an invalid BackupConfiguration: required field is missing" },
  ]);
  assert.deepEqual(blueprintViolations(bp), []);
});
