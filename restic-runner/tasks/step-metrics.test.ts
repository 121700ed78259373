import { test } from "node:test";
import assert from "node:assert/strict";
import { metricRepository, metricTarget, stepMetrics } from "./step-metrics.ts";

test("an AppBinding target is labelled by its app and a Repository by provider, bucket and prefix", () => {
  assert.deepEqual(metricTarget("AppBinding", "db", { spec: { type: "kubedb.com/postgres" } }), { kind: "postgres", group: "kubedb.com", name: "db" });
  assert.deepEqual(metricTarget("PersistentVolumeClaim", "data"), { kind: "PersistentVolumeClaim", group: "", name: "data" });
  assert.deepEqual(
    metricRepository({ metadata: { name: "r", namespace: "n" }, spec: { backend: { s3: { endpoint: "http://m", bucket: "b", prefix: "p/q" } } } }),
    { name: "r", namespace: "n", backend: "s3", bucket: "b", prefix: "p/q" },
  );
  assert.deepEqual(metricRepository({ metadata: { name: "r", namespace: "n" }, spec: { backend: { rest: { url: "http://rest:8000/repo" } } } }), {
    name: "r",
    namespace: "n",
    backend: "rest",
    bucket: "rest:8000",
    prefix: "/repo",
  });
});

test("a failed backup pushes only its host's failure, never Repository metrics", async () => {
  const input = {
    invoker: { kind: "BackupConfiguration", name: "bc", namespace: "n" },
    target: { kind: "PersistentVolumeClaim", group: "", name: "data" },
    repository: { name: "r", namespace: "n", backend: "local" },
  };
  const failed = stepMetrics({ kind: "backup", command: "backup-pvc", hostname: "host-0", phase: "Failed", duration: "1s", error: "x" }, input);
  assert.equal(failed.repository, false);
  const text = await failed.registry.metrics();
  assert.match(text, /^stash_backup_host_backup_success\{.*hostname="host-0".*\} 0$/m);
  assert.doesNotMatch(text, /stash_repository_/);
  const ok = stepMetrics(
    {
      kind: "backup",
      command: "backup-pvc",
      hostname: "host-0",
      phase: "Succeeded",
      duration: "2s",
      repository: { integrity: true, sizeBytes: 2048, snapshotCount: 3, snapshotsRemovedOnLastCleanup: 1 },
    },
    input,
  );
  assert.equal(ok.repository, true);
  assert.match(await ok.registry.metrics(), /^stash_repository_size_bytes\{.*name="r".*\} 2048$/m);
});
