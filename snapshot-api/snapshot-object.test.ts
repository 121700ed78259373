import { test } from "node:test";
import assert from "node:assert/strict";
import { snapshotObject, kubeTime } from "./snapshot-object.ts";
import { snapshotTable, formatSize, wantsTable } from "./table.ts";

const restic = {
  id: "4bba301e" + "0".repeat(56),
  time: "2026-11-24T03:01:02.123456789+01:00",
  tree: "tree-id",
  paths: ["/data", "/etc"],
  hostname: "host-0",
  username: "root",
  uid: 0,
  gid: 0,
  tags: null,
  summary: { total_bytes_processed: 3 * 1024 * 1024 },
};

test("a restic snapshot becomes Stash's Snapshot object", () => {
  assert.deepEqual(snapshotObject({ namespace: "demo", name: "gcs-repo", labels: { team: "a", repository: "spoofed" } }, restic), {
    apiVersion: "repositories.stash.appscode.com/v1alpha1",
    kind: "Snapshot",
    metadata: {
      name: "gcs-repo-4bba301e",
      namespace: "demo",
      uid: restic.id,
      creationTimestamp: "2026-11-24T02:01:02Z" as any,
      labels: { team: "a", repository: "gcs-repo", hostname: "host-0" },
    },
    status: { tree: "tree-id", paths: ["/data", "/etc"], hostname: "host-0", username: "root", uid: 0, gid: 0, repository: "gcs-repo" },
  });
  assert.equal(snapshotObject({ namespace: "d", name: "r" }, { ...restic, tags: ["x"] }).status.tags!.length, 1);
  assert.equal(kubeTime("not a time"), "not a time");
});

test("the table has Stash's columns plus paths and size, and honours includeObject", () => {
  const obj = snapshotObject({ namespace: "demo", name: "r" }, restic);
  const t = snapshotTable([{ object: obj, sizeBytes: 3 * 1024 * 1024 }]);
  assert.deepEqual(
    t.columnDefinitions.map((c) => c.name),
    ["Name", "ID", "Repository", "Hostname", "Created", "Paths", "Size"],
  );
  assert.deepEqual(t.rows[0].cells, ["r-4bba301e", "4bba301e", "r", "host-0", "2026-11-24T02:01:02Z", "/data,/etc", "3.000 MiB"]);
  assert.deepEqual(t.rows[0].object, { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: obj.metadata });
  assert.equal(snapshotTable([{ object: obj }], "None").rows[0].object, undefined);
  assert.equal(snapshotTable([{ object: obj }], "Object").rows[0].object, obj);
});

test("sizes use 1024-based units and Accept headers are read as kubectl sends them", () => {
  assert.equal(formatSize(512), "512 B");
  assert.equal(formatSize(1536), "1.500 KiB");
  assert.equal(formatSize(undefined), "");
  assert.equal(wantsTable("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"), true);
  assert.equal(wantsTable("application/json"), false);
});
