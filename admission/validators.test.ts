import { test } from "node:test";
import assert from "node:assert/strict";
import type { KubeObject } from "../lib/kube/client.ts";
import type { RestoreSession } from "../schema/types.generated.ts";
import { repositoryAdmission } from "./repository.ts";
import { backupConfigurationAdmission } from "./backup-configuration.ts";
import { restoreSessionAdmission, migrateRestoreSession, ruleViolations } from "./restore-session.ts";
import { taskAdmission } from "./task.ts";
import { lookupsOf } from "../testing/admission-lookups.ts";
import type { AdmissionContext, Operation } from "./types.ts";

const ctx = (objects: KubeObject[] = [], operation: Operation = "CREATE", namespace = "demo"): AdmissionContext => ({
  operation,
  namespace,
  lookups: lookupsOf(objects),
});
const repo = (spec: any, ns = "demo", name = "repo"): KubeObject => ({
  apiVersion: "stash.appscode.com/v1alpha1",
  kind: "Repository",
  metadata: { name, namespace: ns },
  spec,
});
const bc = (spec: any, status?: any): KubeObject => ({
  apiVersion: "stash.appscode.com/v1beta1",
  kind: "BackupConfiguration",
  metadata: { name: "bc", namespace: "demo" },
  spec: { repository: { name: "repo" }, retentionPolicy: { name: "keep", keepLast: 1, prune: true }, schedule: "*/5 * * * *", ...spec },
  ...(status ? { status } : {}),
});

test("wipeOut is refused for local and B2 backends, allowed for S3", async () => {
  assert.deepEqual(
    await repositoryAdmission.validate!(repo({ wipeOut: true, backend: { local: { mountPath: "/data", hostPath: { path: "/x" } } } }), undefined, ctx()),
    [{ field: "spec.wipeOut", message: "wipe out operation is not supported for local backend" }],
  );
  assert.deepEqual(await repositoryAdmission.validate!(repo({ wipeOut: true, backend: { b2: { bucket: "b" } } }), undefined, ctx()), [
    { field: "spec.wipeOut", message: "wipe out operation is not supported for B2 backend" },
  ]);
  assert.deepEqual(await repositoryAdmission.validate!(repo({ wipeOut: true, backend: { s3: { endpoint: "e", bucket: "b" } } }), undefined, ctx()), []);
});

test("a local backend may not be mounted at /stash or below it", async () => {
  for (const mountPath of ["/stash", "/stash/repo"]) {
    const v = await repositoryAdmission.validate!(repo({ backend: { local: { mountPath } } }), undefined, ctx());
    assert.equal(v.length, 1);
    assert.equal(v[0].field, "spec.backend.local.mountPath");
  }
  assert.deepEqual(await repositoryAdmission.validate!(repo({ backend: { local: { mountPath: "/stash-backup" } } }), undefined, ctx()), []);
});

test("a BackupConfiguration naming a missing Task is refused", async () => {
  const v = await backupConfigurationAdmission.validate!(
    bc({ task: { name: "pvc-backup" }, target: { ref: { apiVersion: "v1", kind: "PersistentVolumeClaim", name: "data" } } }),
    undefined,
    ctx(),
  );
  assert.deepEqual(v, [{ field: "spec.task.name", message: 'Task "pvc-backup" not found' }]);
  const task: KubeObject = { apiVersion: "stash.appscode.com/v1beta1", kind: "Task", metadata: { name: "pvc-backup" } };
  assert.deepEqual(await backupConfigurationAdmission.validate!(bc({ task: { name: "pvc-backup" } }), undefined, ctx([task])), []);
});

test("a cross-namespace Repository is refused unless its usagePolicy admits the namespace", async () => {
  const shared = repo(
    { backend: { s3: {} }, usagePolicy: { allowedNamespaces: { from: "Selector", selector: { matchLabels: { backup: "yes" } } } } },
    "storage",
    "shared",
  );
  const obj = bc({ repository: { name: "shared", namespace: "storage" } });
  const nsNo: KubeObject = { apiVersion: "v1", kind: "Namespace", metadata: { name: "demo" } };
  const nsYes: KubeObject = { apiVersion: "v1", kind: "Namespace", metadata: { name: "demo", labels: { backup: "yes" } } };
  const denied = await backupConfigurationAdmission.validate!(obj, undefined, ctx([shared, nsNo]));
  assert.equal(denied.length, 1);
  assert.equal(denied[0].field, "spec.repository");
  assert.match(
    denied[0].message,
    /^namespace "demo" is not allowed to refer Repository "shared" of "storage" namespace\. Please, check the usagePolicy of the Repository/,
  );
  assert.deepEqual(await backupConfigurationAdmission.validate!(obj, undefined, ctx([shared, nsYes])), []);
  // A Repository that does not exist yet is the controller's business (RepositoryFound=False).
  assert.deepEqual(await backupConfigurationAdmission.validate!(bc({ repository: { name: "later", namespace: "storage" } }), undefined, ctx([nsNo])), []);
});

test("a workload target in another namespace is refused, a kubedump task is not", async () => {
  const v = await backupConfigurationAdmission.validate!(
    bc({ target: { ref: { apiVersion: "apps/v1", kind: "Deployment", name: "app", namespace: "other" } } }),
    undefined,
    ctx(),
  );
  assert.deepEqual(v, [{ field: "spec.target.ref.namespace", message: 'cross-namespace target reference is not allowed for "Deployment/app"' }]);
  const task: KubeObject = { apiVersion: "stash.appscode.com/v1beta1", kind: "Task", metadata: { name: "kubedump-backup-0.1.0" } };
  assert.deepEqual(
    await backupConfigurationAdmission.validate!(
      bc({ task: { name: "kubedump-backup-0.1.0" }, target: { ref: { apiVersion: "v1", kind: "Namespace", name: "x", namespace: "other" } } }),
      undefined,
      ctx([task]),
    ),
    [],
  );
});

test("the target of a Ready BackupConfiguration cannot change; other fields can", async () => {
  const target = { ref: { apiVersion: "apps/v1", kind: "Deployment", name: "app" }, paths: ["/data"] };
  const old = bc({ target }, { phase: "Ready" });
  const moved = bc({ target: { ...target, paths: ["/other"] } });
  assert.deepEqual(await backupConfigurationAdmission.validate!(moved, old, ctx([], "UPDATE")), [
    { field: "spec.target", message: "updating target is forbidden when BackupConfiguration is in READY state" },
  ]);
  assert.deepEqual(await backupConfigurationAdmission.validate!(bc({ target, paused: true }), old, ctx([], "UPDATE")), []);
  assert.deepEqual(await backupConfigurationAdmission.validate!(moved, bc({ target }, { phase: "NotReady" }), ctx([], "UPDATE")), []);
});

test("RestoreSession rules move from spec.rules into spec.target.rules", () => {
  const rs: RestoreSession = {
    apiVersion: "stash.appscode.com/v1beta1",
    kind: "RestoreSession",
    metadata: { name: "rs", namespace: "demo" },
    spec: { repository: { name: "r" }, rules: [{ paths: ["/data"] }], target: { ref: { kind: "Deployment", name: "app" } } },
  };
  assert.deepEqual(migrateRestoreSession(rs).spec, {
    repository: { name: "r" },
    target: { ref: { kind: "Deployment", name: "app" }, rules: [{ paths: ["/data"] }] },
  });
  assert.deepEqual(rs.spec.rules, [{ paths: ["/data"] }], "the input is not modified");
  const targetless = { ...rs, spec: { rules: [{ paths: ["/d"] }] } };
  assert.equal(migrateRestoreSession(targetless), targetless);
});

test("restore rules: one catch-all at most, no host twice, snapshots or paths", () => {
  assert.deepEqual(ruleViolations([{ paths: ["/a"] }, { targetHosts: ["h1"], snapshots: ["s"] }], "spec.target.rules"), []);
  assert.deepEqual(
    ruleViolations(
      [{ paths: ["/a"] }, { targetHosts: [] }, { targetHosts: ["h1"] }, { targetHosts: ["h1", "h2"], snapshots: ["s"], paths: ["/b"] }],
      "spec.target.rules",
    ),
    [
      { field: "spec.target.rules", message: "rules 0, 1 all have empty targetHosts; at most one rule may have empty targetHosts" },
      { field: "spec.target.rules[3].targetHosts", message: 'host "h1" is already matched by rule 2; a host may match at most one rule' },
      { field: "spec.target.rules[3]", message: "snapshots and paths cannot both be set in one rule" },
    ],
  );
});

test("a RestoreSession's spec is immutable", async () => {
  const rs: RestoreSession = {
    apiVersion: "stash.appscode.com/v1beta1",
    kind: "RestoreSession",
    metadata: { name: "rs", namespace: "demo" },
    spec: { repository: { name: "r" }, target: { ref: { kind: "Deployment", name: "a" } } },
  };
  const changed = { ...rs, spec: { ...rs.spec, repository: { name: "other" } } };
  assert.deepEqual(await restoreSessionAdmission.validate!(changed, rs, ctx([], "UPDATE")), [{ field: "spec", message: "RestoreSession spec is immutable" }]);
  assert.deepEqual(await restoreSessionAdmission.validate!({ ...rs, metadata: { ...rs.metadata, labels: { a: "b" } } }, rs, ctx([], "UPDATE")), []);
});

test("a Task whose steps name missing Functions is refused", async () => {
  const task: KubeObject = {
    apiVersion: "stash.appscode.com/v1beta1",
    kind: "Task",
    metadata: { name: "t" },
    spec: { steps: [{ name: "pvc-backup" }, { name: "update-status" }] },
  };
  const fn: KubeObject = { apiVersion: "stash.appscode.com/v1beta1", kind: "Function", metadata: { name: "update-status" } };
  assert.deepEqual(await taskAdmission.validate!(task, undefined, ctx([fn])), [{ field: "spec.steps[0].name", message: 'Function "pvc-backup" not found' }]);
});
