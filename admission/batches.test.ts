import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, globSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { KubeObject } from "../lib/kube/client.ts";
import type { BackupBatch, Repository, RestoreBatch } from "../schema/types.generated.ts";
import { parseYaml } from "../schema/parse-yaml.ts";
import { backupBatchAdmission, restoreBatchAdmission } from "./batches.ts";
import { lookupsOf } from "../testing/admission-lookups.ts";
import type { AdmissionContext, Operation } from "./types.ts";

const ctx = (objects: KubeObject[] = [], operation: Operation = "CREATE"): AdmissionContext => ({ operation, namespace: "demo", lookups: lookupsOf(objects) });
const task = (name: string): KubeObject => ({ apiVersion: "stash.appscode.com/v1beta1", kind: "Task", metadata: { name } });
const deploymentMember = (name: string, namespace?: string) => ({
  target: {
    alias: name,
    ref: { apiVersion: "apps/v1", kind: "Deployment", name, ...(namespace ? { namespace } : {}) },
    volumeMounts: [{ name: "data", mountPath: "/data" }],
    paths: ["/data"],
  },
});
const backupBatch = (members: unknown[], extra: Record<string, unknown> = {}, status?: unknown): KubeObject => ({
  apiVersion: "stash.appscode.com/v1beta1",
  kind: "BackupBatch",
  metadata: { name: "batch", namespace: "demo" },
  spec: { repository: { name: "repo" }, schedule: "*/5 * * * *", members, retentionPolicy: { name: "keep", keepLast: 5, prune: true }, ...extra },
  ...(status ? { status } : {}),
});
const restoreBatch = (members: unknown[], extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: "stash.appscode.com/v1beta1",
  kind: "RestoreBatch",
  metadata: { name: "restore", namespace: "demo" },
  spec: { repository: { name: "repo" }, members, ...extra },
});

test("a BackupBatch member may not back up a workload or PVC in another namespace; a kubedump member may", async () => {
  const members = [
    deploymentMember("web"),
    deploymentMember("api", "other"),
    { target: { ref: { apiVersion: "v1", kind: "PersistentVolumeClaim", name: "data", namespace: "other" } }, task: { name: "pvc-backup" } },
    { target: { ref: { apiVersion: "v1", kind: "Namespace", name: "x", namespace: "other" } }, task: { name: "kubedump-backup-0.1.0" } },
  ];
  assert.deepEqual(await backupBatchAdmission.validate!(backupBatch(members), undefined, ctx([task("pvc-backup"), task("kubedump-backup-0.1.0")])), [
    { field: "spec.members[1].target.ref.namespace", message: 'cross-namespace target reference is not allowed for "Deployment/api"' },
    { field: "spec.members[2].target.ref.namespace", message: 'cross-namespace target reference is not allowed for "PersistentVolumeClaim/data"' },
  ]);
  // The batch's own namespace spelled out is not cross-namespace.
  assert.deepEqual(await backupBatchAdmission.validate!(backupBatch([deploymentMember("web", "demo")]), undefined, ctx()), []);
});

test("every Task a batch member names must exist", async () => {
  const members = [
    deploymentMember("web"),
    { target: { ref: { apiVersion: "appcatalog.appscode.com/v1alpha1", kind: "AppBinding", name: "db" } }, task: { name: "mysql-backup-8.0.14" } },
  ];
  assert.deepEqual(await backupBatchAdmission.validate!(backupBatch(members), undefined, ctx()), [
    { field: "spec.members[1].task.name", message: 'Task "mysql-backup-8.0.14" not found' },
  ]);
  assert.deepEqual(await backupBatchAdmission.validate!(backupBatch(members), undefined, ctx([task("mysql-backup-8.0.14")])), []);
  const restore = restoreBatch([
    {
      target: { ref: { apiVersion: "appcatalog.appscode.com/v1alpha1", kind: "AppBinding", name: "db" }, rules: [{ snapshots: ["latest"] }] },
      task: { name: "mysql-restore-8.0.14" },
    },
  ]);
  assert.deepEqual(await restoreBatchAdmission.validate!(restore, undefined, ctx()), [
    { field: "spec.members[0].task.name", message: 'Task "mysql-restore-8.0.14" not found' },
  ]);
});

test("a batch's Repository in another namespace must admit the batch's namespace", async () => {
  const shared = {
    apiVersion: "stash.appscode.com/v1alpha1",
    kind: "Repository",
    metadata: { name: "shared", namespace: "storage" },
    spec: { backend: { s3: {} }, usagePolicy: { allowedNamespaces: { from: "Same" } } },
  } as Repository;
  const demo: KubeObject = { apiVersion: "v1", kind: "Namespace", metadata: { name: "demo" } };
  const repository = { repository: { name: "shared", namespace: "storage" } };
  for (const [admission, obj] of [
    [backupBatchAdmission, backupBatch([deploymentMember("web")], repository)],
    [restoreBatchAdmission, restoreBatch([deploymentMember("web")], repository)],
  ] as const) {
    const v = await admission.validate!(obj, undefined, ctx([shared, demo]));
    assert.equal(v.length, 1, JSON.stringify(v));
    assert.equal(v[0].field, "spec.repository");
    assert.match(
      v[0].message,
      /^namespace "demo" is not allowed to refer Repository "shared" of "storage" namespace\. Please, check the usagePolicy of the Repository/,
    );
    const everyone = { ...shared, spec: { ...shared.spec, usagePolicy: { allowedNamespaces: { from: "All" } } } };
    assert.deepEqual(await admission.validate!(obj, undefined, ctx([everyone, demo])), []);
  }
});

test("the member targets of a Ready BackupBatch cannot change; pausing it can", async () => {
  const old = backupBatch([deploymentMember("web"), deploymentMember("api")], {}, { phase: "Ready" });
  const moved = backupBatch([deploymentMember("web"), deploymentMember("worker")]);
  const added = backupBatch([deploymentMember("web"), deploymentMember("api"), deploymentMember("worker")]);
  for (const next of [moved, added]) {
    assert.deepEqual(await backupBatchAdmission.validate!(next, old, ctx([], "UPDATE")), [
      { field: "spec.members", message: "updating target is forbidden when BackupBatch is in READY state" },
    ]);
  }
  assert.deepEqual(
    await backupBatchAdmission.validate!(backupBatch([deploymentMember("web"), deploymentMember("api")], { paused: true }), old, ctx([], "UPDATE")),
    [],
  );
  assert.deepEqual(await backupBatchAdmission.validate!(moved, { ...old, status: { phase: "NotReady" } }, ctx([], "UPDATE")), []);
  // Deleting (finalizer removal) is never refused.
  assert.deepEqual(
    await backupBatchAdmission.validate!(
      { ...moved, metadata: { ...moved.metadata, deletionTimestamp: new Date("2026-01-01T00:00:00Z") } },
      old,
      ctx([], "UPDATE"),
    ),
    [],
  );
});

test("RestoreBatch member rules hold Stash's invariants, and the spec is immutable", async () => {
  const bad = restoreBatch([
    { target: { ...deploymentMember("web").target, rules: [{ paths: ["/data"] }, { snapshots: ["a1b2c3d4"], paths: ["/data"], targetHosts: ["host-0"] }] } },
    { target: { ...deploymentMember("api").target, rules: [{ paths: ["/a"] }, { paths: ["/b"] }] } },
  ]);
  assert.deepEqual(await restoreBatchAdmission.validate!(bad, undefined, ctx()), [
    { field: "spec.members[0].target.rules[1]", message: "snapshots and paths cannot both be set in one rule" },
    { field: "spec.members[1].target.rules", message: "rules 0, 1 all have empty targetHosts; at most one rule may have empty targetHosts" },
  ]);
  const rb = restoreBatch([deploymentMember("web")]);
  assert.deepEqual(await restoreBatchAdmission.validate!(restoreBatch([deploymentMember("api")]), rb, ctx([], "UPDATE")), [
    { field: "spec", message: "RestoreBatch spec is immutable" },
  ]);
  assert.deepEqual(await restoreBatchAdmission.validate!({ ...rb, metadata: { ...rb.metadata, labels: { a: "b" } } }, rb, ctx([], "UPDATE")), []);
});

// The Stash docs' example YAML (see schema/stash-docs-compat.test.ts); RESTASH_STASH_DOCS moves it.
const CORPUS =
  process.env.RESTASH_STASH_DOCS ??
  [resolve(import.meta.dirname, "../../shared/compat/stash-docs"), "/work/shared/compat/stash-docs"].find((d) => existsSync(d)) ??
  "../shared/compat/stash-docs";

test("every BackupBatch and RestoreBatch of the Stash docs is admitted, with the Tasks it names installed", async () => {
  assert.ok(existsSync(CORPUS), `the Stash docs corpus is missing at ${CORPUS} (set RESTASH_STASH_DOCS to its directory)`);
  const batches: { where: string; obj: KubeObject }[] = [];
  for (const f of globSync("**/*.yaml", { cwd: CORPUS }).sort()) {
    for (const { object, line } of parseYaml(f, readFileSync(join(CORPUS, f), "utf8")).objects) {
      if (object.kind === "BackupBatch" || object.kind === "RestoreBatch") batches.push({ where: `${f}:${line}`, obj: object as KubeObject });
    }
  }
  assert.deepEqual(batches.map((b) => b.obj.kind).sort(), ["BackupBatch", "BackupBatch", "BackupBatch", "RestoreBatch", "RestoreBatch"]);
  for (const { where, obj } of batches) {
    const tasks = ((obj as BackupBatch | RestoreBatch).spec.members as any[])
      .map((m) => m.task?.name)
      .filter(Boolean)
      .map(task);
    const admission = obj.kind === "BackupBatch" ? backupBatchAdmission : restoreBatchAdmission;
    assert.deepEqual(await admission.validate!(obj, undefined, { ...ctx(tasks), namespace: obj.metadata.namespace! }), [], where);
    // A GitOps re-apply of the same document (an UPDATE), also once the batch is Ready.
    assert.deepEqual(
      await admission.validate!(obj, { ...obj, status: { phase: "Ready" } }, { ...ctx(tasks, "UPDATE"), namespace: obj.metadata.namespace! }),
      [],
      where,
    );
  }
});
