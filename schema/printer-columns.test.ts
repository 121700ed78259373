// `kubectl get` against the real API server shows Stash's columns, short names and categories.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import type { ControlPlane } from "../local/control-plane.ts";
import { stopControlPlane, testNamespace } from "../testing/cluster.ts";

after(() => stopControlPlane());

const run = promisify(execFile);

async function kubectl(cp: ControlPlane, args: string[]): Promise<string[][]> {
  const { stdout } = await run(join(cp.binDir, "kubectl"), ["--kubeconfig", cp.kubeconfig, ...args], { encoding: "utf8" });
  return stdout
    .trim()
    .split("\n")
    .map((l) => l.trim().split(/\s{2,}/));
}

test("kubectl get backupconfigurations shows Task, Schedule, Paused, Phase and Age", async () => {
  const { cp, kube, namespace } = await testNamespace("columns");
  const bc = {
    apiVersion: "stash.appscode.com/v1beta1",
    kind: "BackupConfiguration",
    metadata: { name: "pvc-nightly", namespace },
    spec: {
      task: { name: "pvc-backup" },
      schedule: "0 2 * * *",
      paused: true,
      repository: { name: "gcs-repo" },
      target: { ref: { apiVersion: "v1", kind: "PersistentVolumeClaim", name: "data" } },
      retentionPolicy: { name: "keep-last-5", keepLast: 5, prune: true },
    },
  };
  await kube.apply(bc);
  await kube.applyStatus({ ...bc, spec: undefined, status: { observedGeneration: 1, phase: "Ready" } });

  const rows = await kubectl(cp, ["get", "backupconfigurations", "-n", namespace]);
  assert.deepEqual(rows[0], ["NAME", "TASK", "SCHEDULE", "PAUSED", "PHASE", "AGE"]);
  assert.deepEqual(rows[1].slice(0, 5), ["pvc-nightly", "pvc-backup", "0 2 * * *", "true", "Ready"]);
  assert.match(rows[1][5], /^\d+s$/);

  // The short name and the categories reach the same object.
  assert.deepEqual((await kubectl(cp, ["get", "bc", "-n", namespace, "-o", "name"]))[0], ["backupconfiguration.stash.appscode.com/pvc-nightly"]);
  for (const category of ["stash", "appscode", "all"]) {
    const names = (await kubectl(cp, ["get", category, "-n", namespace, "-o", "name"])).map((r) => r[0]);
    assert.ok(names.includes("backupconfiguration.stash.appscode.com/pvc-nightly"), `${category}: ${names.join(", ")}`);
  }
});

test("the API server's table view of every Stash kind has Stash's columns", async () => {
  const { kube, namespace } = await testNamespace("columns");
  const expected: [string, string, string[]][] = [
    ["stash.appscode.com/v1alpha1", "repositories", ["Name", "Integrity", "Size", "Snapshot-Count", "Last-Successful-Backup", "Age"]],
    ["stash.appscode.com/v1beta1", "backupsessions", ["Name", "Invoker-Type", "Invoker-Name", "Phase", "Duration", "Age"]],
    ["stash.appscode.com/v1beta1", "restoresessions", ["Name", "Repository", "Phase", "Duration", "Age"]],
    ["stash.appscode.com/v1beta1", "backupbatches", ["Name", "Schedule", "Paused", "Phase", "Age"]],
    ["stash.appscode.com/v1beta1", "restorebatches", ["Name", "Repository", "Phase", "Duration", "Age"]],
    ["appcatalog.appscode.com/v1alpha1", "appbindings", ["Name", "Type", "Version", "Age"]],
    ["stash.appscode.com/v1beta1", "backupblueprints", ["Name", "Task", "Schedule", "Age"]],
    ["stash.appscode.com/v1beta1", "functions", ["Name", "Age"]],
    ["stash.appscode.com/v1beta1", "tasks", ["Name", "Age"]],
  ];
  for (const [apiVersion, plural, columns] of expected) {
    const clusterScoped = ["backupblueprints", "functions", "tasks"].includes(plural);
    const path = `/apis/${apiVersion}${clusterScoped ? "" : `/namespaces/${namespace}`}/${plural}`;
    // kubectl prints headers only above rows; the Table view is what it prints them from.
    const table = await kube.request<{ columnDefinitions: { name: string }[] }>(path, { headers: { Accept: "application/json;as=Table;v=v1;g=meta.k8s.io" } });
    assert.deepEqual(
      table.columnDefinitions.map((c: { name: string }) => c.name),
      columns,
      plural,
    );
  }
});

test("a BackupPolicy or BackupPolicyDefaults applied to the cluster is refused with what to do instead (they are policy-file kinds)", async () => {
  const { kube, namespace } = await testNamespace("policy-kinds");
  const policy = {
    apiVersion: "restash.dev/v1alpha1",
    kind: "BackupPolicy",
    metadata: { name: "web", namespace },
    spec: { target: { kind: "Deployment", name: "web" }, paths: ["/data"] },
  };
  await assert.rejects(
    kube.apply(policy),
    /BackupPolicy is a policy-file kind and is never stored in the cluster: a PolicySource \(or `restash render`\) renders it into a Repository and a BackupConfiguration/,
  );
  const defaults = {
    apiVersion: "restash.dev/v1alpha1",
    kind: "BackupPolicyDefaults",
    metadata: { name: "defaults", namespace },
    spec: { schedule: "0 2 * * *" },
  };
  await assert.rejects(kube.apply(defaults), /BackupPolicyDefaults is a policy-file kind and is never stored in the cluster/);
  assert.equal((await kube.list("restash.dev/v1alpha1", "BackupPolicy", namespace)).items.length, 0);
});
