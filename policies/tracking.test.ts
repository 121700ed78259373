import { test } from "node:test";
import assert from "node:assert/strict";
import { canonicalJson, contentHash, driftedFields, withTracking } from "./tracking.ts";
import { diffFields, normalizeForDiff } from "./plan-diff.ts";
import { staleEntries, parseInventoryId } from "./inventory.ts";

test("content hashes ignore key order and the revision annotation, but see the file", () => {
  assert.equal(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] }), '{"a":[{"c":2,"d":1}],"b":1}');
  assert.equal(contentHash({ a: 1, b: 2 }), contentHash({ b: 2, a: 1 }));
  const r = { object: { apiVersion: "v1", kind: "K", metadata: { name: "n", namespace: "ns" }, spec: { x: 1 } }, file: "a.yaml", line: 1, from: "K" };
  const src = { namespace: "s", name: "p" };
  assert.equal(withTracking(r, src, "main@sha1:1").hash, withTracking(r, src, "main@sha1:2").hash);
  assert.notEqual(withTracking(r, src, "main@sha1:1").hash, withTracking({ ...r, file: "b.yaml" }, src, "main@sha1:1").hash);
  assert.deepEqual(withTracking(r, src, "main@sha1:1").object.metadata, {
    name: "n",
    namespace: "ns",
    labels: { "restash.dev/source-namespace": "s", "restash.dev/source-name": "p" },
    annotations: { "restash.dev/file": "a.yaml", "restash.dev/content-hash": withTracking(r, src, "x").hash, "restash.dev/revision": "main@sha1:1" },
  });
});

test("drift is a field Git sets that differs live; fields Git leaves out are not drift", () => {
  assert.deepEqual(driftedFields({ spec: { a: 1, l: [1, 2] } }, { spec: { a: 1, l: [1, 2], extra: true }, status: {} }), []);
  assert.deepEqual(driftedFields({ spec: { a: 1, l: [1, 2], m: { k: "v" } } }, { spec: { a: 2, l: [1], m: {} } }), ["spec.a", "spec.l", "spec.m.k"]);
});

test("plan diffs ignore server-filled metadata, status and tracking annotations", () => {
  const live = {
    apiVersion: "v1",
    kind: "K",
    metadata: { name: "n", uid: "u", resourceVersion: "9", managedFields: [{}], annotations: { "restash.dev/revision": "r" } },
    spec: { a: 1, b: [1] },
    status: { x: 1 },
  } as any;
  assert.deepEqual(normalizeForDiff(live), { apiVersion: "v1", kind: "K", metadata: { name: "n" }, spec: { a: 1, b: [1] } });
  assert.deepEqual(diffFields({ spec: { a: 1, b: [1], gone: true } }, { spec: { a: 2, b: [1, 2], new: "x" } }), [
    { path: "spec.a", from: 1, to: 2 },
    { path: "spec.b", from: [1], to: [1, 2] },
    { path: "spec.gone", from: true },
    { path: "spec.new", to: "x" },
  ]);
});

test("stale inventory entries are pruned BackupConfigurations first, Repositories last", () => {
  const e = (id: string) => ({ id, v: "v1" });
  assert.deepEqual(
    staleEntries(
      [e("ns_r_stash.appscode.com_Repository"), e("ns_b_stash.appscode.com_BackupConfiguration"), e("ns_keep_stash.appscode.com_BackupConfiguration")],
      [e("ns_keep_stash.appscode.com_BackupConfiguration")],
    ).map((x) => x.id),
    ["ns_b_stash.appscode.com_BackupConfiguration", "ns_r_stash.appscode.com_Repository"],
  );
  assert.deepEqual(parseInventoryId("_task_stash.appscode.com_Task"), { namespace: "", name: "task", group: "stash.appscode.com", kind: "Task" });
});
