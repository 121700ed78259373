import { test } from "node:test";
import assert from "node:assert/strict";
import { renderBackupPolicy, backendForPolicy } from "./render-policy.ts";
import { resolveDefaults } from "./defaults.ts";

const policy = (spec: Record<string, any>, metadata: Record<string, any> = { name: "web" }) => ({
  apiVersion: "restash.dev/v1alpha1",
  kind: "BackupPolicy",
  metadata,
  spec,
});

test("a BackupPolicy with defaults renders into exactly one Repository and one BackupConfiguration", () => {
  const defaults = {
    schedule: "0 * * * *",
    backend: { storageSecretName: "creds", s3: { endpoint: "http://s3", bucket: "b", prefix: "team/" } },
    retention: { keepDaily: 7, keepLast: 2 },
  };
  const out = renderBackupPolicy(policy({ target: { kind: "StatefulSet", name: "db" }, paths: ["/var/lib/db"], exclude: ["*.tmp"] }), defaults, "apps");
  assert.deepEqual(out, {
    problems: [],
    repository: {
      apiVersion: "stash.appscode.com/v1alpha1",
      kind: "Repository",
      metadata: { name: "web-repo", namespace: "apps" },
      spec: { backend: { storageSecretName: "creds", s3: { endpoint: "http://s3", bucket: "b", prefix: "team/apps/web" } } },
    },
    backupConfiguration: {
      apiVersion: "stash.appscode.com/v1beta1",
      kind: "BackupConfiguration",
      metadata: { name: "web", namespace: "apps" },
      spec: {
        repository: { name: "web-repo" },
        schedule: "0 * * * *",
        target: { ref: { apiVersion: "apps/v1", kind: "StatefulSet", name: "db" }, paths: ["/var/lib/db"], exclude: ["*.tmp"] },
        retentionPolicy: { name: "policy", keepLast: 2, keepDaily: 7, prune: true },
      },
    },
  });
  // Key order is fixed, so serialisations are identical too.
  assert.equal(
    JSON.stringify(renderBackupPolicy(policy({ target: { kind: "StatefulSet", name: "db" }, paths: ["/var/lib/db"], exclude: ["*.tmp"] }), defaults, "apps")),
    JSON.stringify(out),
  );
});

test("a policy's own backend is used as written; a PVC job-model policy gets its task and a prunable Repository", () => {
  const out = renderBackupPolicy(
    policy(
      {
        target: { kind: "PersistentVolumeClaim", name: "data" },
        task: "pvc-backup",
        schedule: "@daily",
        backend: { storageSecretName: "c", rest: { url: "http://rest:8000/x" } },
        retention: { keepLast: 1, prune: false },
        repository: { name: "shared", prunable: true, usagePolicy: { allowedNamespaces: { from: "All" } } },
        paused: true,
        backupHistoryLimit: 3,
      },
      { name: "data", namespace: "ns1" },
    ),
    {},
    "fallback",
  );
  assert.deepEqual(out.repository, {
    apiVersion: "stash.appscode.com/v1alpha1",
    kind: "Repository",
    metadata: { name: "shared", namespace: "ns1", annotations: { "restash.dev/prunable": "true" } },
    spec: { backend: { storageSecretName: "c", rest: { url: "http://rest:8000/x" } }, usagePolicy: { allowedNamespaces: { from: "All" } } },
  });
  assert.deepEqual(out.backupConfiguration?.spec, {
    repository: { name: "shared" },
    task: { name: "pvc-backup" },
    schedule: "@daily",
    target: { ref: { apiVersion: "v1", kind: "PersistentVolumeClaim", name: "data" } },
    retentionPolicy: { name: "policy", keepLast: 1, prune: false },
    paused: true,
    backupHistoryLimit: 3,
  });
});

test("a policy missing schedule, backend and retention with no defaults names each field", () => {
  assert.deepEqual(renderBackupPolicy(policy({ target: { kind: "Deployment", name: "x" } }), {}, "ns").problems, [
    { field: "spec.schedule", message: "is required (in the policy or a defaults.yaml above it)" },
    { field: "spec.backend", message: "is required (in the policy or a defaults.yaml above it)" },
    { field: "spec.retention", message: "is required (in the policy or a defaults.yaml above it)" },
    { field: "spec.paths", message: "is required for a workload target without a task" },
  ]);
});

test("a backend with two providers is refused", () => {
  const out = renderBackupPolicy(
    policy({
      target: { kind: "Deployment", name: "x" },
      paths: ["/d"],
      schedule: "@daily",
      retention: { keepLast: 1 },
      backend: { storageSecretName: "c", s3: {}, gcs: {} },
    }),
    {},
    "ns",
  );
  assert.deepEqual(out.problems, [{ field: "spec.backend", message: "needs exactly one provider of local, s3, gcs, azure, swift, b2, rest; found s3, gcs" }]);
});

test("shared backends give each policy its own place: prefix, local subPath, REST URL path", () => {
  assert.deepEqual(backendForPolicy({ local: { mountPath: "/r", subPath: "base" } }, "n", "p"), { local: { mountPath: "/r", subPath: "base/n/p" } });
  assert.deepEqual(backendForPolicy({ rest: { url: "http://h/" } }, "n", "p"), { rest: { url: "http://h/n/p" } });
  assert.deepEqual(backendForPolicy({ gcs: { bucket: "b" } }, "n", "p"), { gcs: { bucket: "b", prefix: "n/p" } });
});

test("the nearest defaults.yaml wins field by field; a sibling directory's defaults do not apply", () => {
  const entries = [
    { dir: "", file: "defaults.yaml", spec: { schedule: "@daily", retention: { keepLast: 1 }, backend: { s3: { bucket: "root" } } } },
    { dir: "team", file: "team/defaults.yaml", spec: { backend: { s3: { bucket: "team" } } } },
    { dir: "team/sub", file: "team/sub/defaults.yaml", spec: { schedule: "@hourly" } },
    { dir: "teammate", file: "teammate/defaults.yaml", spec: { schedule: "@weekly" } },
  ];
  assert.deepEqual(resolveDefaults("team/sub/x/p.yaml", entries), {
    spec: { schedule: "@hourly", retention: { keepLast: 1 }, backend: { s3: { bucket: "team" } } },
    from: { schedule: "team/sub/defaults.yaml", retention: "defaults.yaml", backend: "team/defaults.yaml" },
  });
  assert.equal(resolveDefaults("team/p.yaml", entries).spec.schedule, "@daily");
});

test("a BackupPolicy's volumeMounts become the BackupConfiguration target's, so the sidecar mounts the data", () => {
  const defaults = { schedule: "0 * * * *", backend: { storageSecretName: "creds", s3: { endpoint: "http://s3", bucket: "b" } }, retention: { keepLast: 2 } };
  const out = renderBackupPolicy(
    policy({
      target: { kind: "Deployment", name: "web" },
      volumeMounts: [{ name: "html", mountPath: "/usr/share/nginx/html", readOnly: true }],
      paths: ["/usr/share/nginx/html"],
    }),
    defaults,
    "web",
  );
  assert.deepEqual(out.problems, []);
  assert.deepEqual(out.backupConfiguration!.spec.target, {
    ref: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
    volumeMounts: [{ name: "html", mountPath: "/usr/share/nginx/html", readOnly: true }],
    paths: ["/usr/share/nginx/html"],
  });
});
