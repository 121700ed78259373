import { test } from "node:test";
import assert from "node:assert/strict";
import type { Repository } from "../schema/types.generated.ts";
import { SnapshotIndex } from "./snapshot-index.ts";
import type { ResticSnapshotJson } from "./snapshot-object.ts";

const repo = (status: Record<string, unknown> = {}): Repository => ({
  apiVersion: "stash.appscode.com/v1alpha1",
  kind: "Repository",
  metadata: { name: "r", namespace: "ns", uid: "u" },
  spec: { backend: { local: { mountPath: "/x" } } },
  status,
});
const snap = (id: string): ResticSnapshotJson => ({ id, time: "2026-01-01T00:00:00Z", tree: "t", paths: ["/d"], hostname: "h" });

/** A listing source that returns what `data` holds now and counts its calls. */
function source() {
  const state = { calls: 0, data: [snap("a")] as ResticSnapshotJson[], fail: undefined as Error | undefined };
  return { state, load: async () => (state.calls++, state.fail ? Promise.reject(state.fail) : [...state.data]) };
}

test("concurrent reads share one listing and later reads come from the index", async () => {
  const src = source();
  const idx = new SnapshotIndex({ load: src.load });
  const [a, b] = await Promise.all([idx.snapshotsOf(repo()), idx.snapshotsOf(repo())]);
  assert.deepEqual(a, [snap("a")]);
  assert.deepEqual(b, [snap("a")]);
  await idx.snapshotsOf(repo());
  assert.equal(src.state.calls, 1);
});

test("warming lists every Repository once, concurrently up to the limit, so the first reads cost no listing; a failing one is kept as its error", async () => {
  let running = 0;
  let peak = 0;
  const calls: string[] = [];
  const idx = new SnapshotIndex({
    concurrency: 2,
    load: async (r) => {
      calls.push(r.metadata.name!);
      peak = Math.max(peak, ++running);
      await new Promise((res) => setTimeout(res, 5));
      running--;
      if (r.metadata.name === "broken") throw new Error("backend unreachable");
      return [snap(r.metadata.name!)];
    },
  });
  const repos = ["r1", "r2", "r3", "broken"].map((name) => ({ ...repo(), metadata: { name, namespace: "ns", uid: name } }));
  await idx.warm(repos);
  assert.deepEqual(calls.sort(), ["broken", "r1", "r2", "r3"]);
  assert.equal(peak, 2);
  assert.equal(idx.size, 4);
  assert.deepEqual(await idx.snapshotsOf(repos[2]), [snap("r3")]);
  await assert.rejects(idx.snapshotsOf(repos[3]), /backend unreachable/);
  assert.equal(calls.length, 4, "reads after warming are answered from the index");
});

test("invalidate makes the next read wait for a fresh listing", async () => {
  const src = source();
  const idx = new SnapshotIndex({ load: src.load });
  await idx.snapshotsOf(repo());
  src.state.data.push(snap("b"));
  idx.invalidate("ns", "r");
  assert.deepEqual(await idx.snapshotsOf(repo()), [snap("a"), snap("b")]);
  assert.equal(src.state.calls, 2);
});

test("a new lastBackupTime on the Repository reloads without invalidate", async () => {
  const src = source();
  const idx = new SnapshotIndex({ load: src.load });
  await idx.snapshotsOf(repo({ lastBackupTime: "2026-01-01T00:00:00Z" }));
  src.state.data.push(snap("c"));
  assert.deepEqual(await idx.snapshotsOf(repo({ lastBackupTime: "2026-01-02T00:00:00Z" })), [snap("a"), snap("c")]);
});

test("a failed listing is answered from the failure until the retry pause is over", async () => {
  let now = 0;
  const src = source();
  src.state.fail = new Error("backend down");
  const idx = new SnapshotIndex({ load: src.load, now: () => now, errorRetryMs: 1000, maxAgeMs: undefined });
  await assert.rejects(idx.snapshotsOf(repo()), /backend down/);
  await assert.rejects(idx.snapshotsOf(repo()), /backend down/);
  assert.equal(src.state.calls, 1);
  now = 1500;
  src.state.fail = undefined;
  assert.deepEqual(await idx.snapshotsOf(repo()), [snap("a")]);
  assert.equal(src.state.calls, 2);
});

test("an old listing is answered at once and refreshed behind", async () => {
  let now = 0;
  const src = source();
  const idx = new SnapshotIndex({ load: src.load, now: () => now, maxAgeMs: 1000 });
  await idx.snapshotsOf(repo());
  src.state.data = [snap("z")];
  now = 2000;
  assert.deepEqual(await idx.snapshotsOf(repo()), [snap("a")], "the old listing, without waiting");
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(await idx.snapshotsOf(repo()), [snap("z")], "then the refreshed one");
});

test("a changed storage Secret reloads the listings of the Repositories using it, and only a real change does", async () => {
  const src = source();
  const idx = new SnapshotIndex({ load: src.load });
  const other: Repository = {
    ...repo(),
    metadata: { name: "other", namespace: "ns", uid: "o" },
    spec: { backend: { storageSecretName: "other-secret", local: { mountPath: "/y" } } },
  };
  const mine: Repository = { ...repo(), spec: { backend: { storageSecretName: "s", local: { mountPath: "/x" } } } };
  await idx.snapshotsOf(mine);
  await idx.snapshotsOf(other);
  idx.secretRead("ns", "s", "10"); // what the listing source reports when it reads the Secret
  assert.equal(src.state.calls, 2);

  // A watch re-listing the version the listing used, a Secret of another namespace or name: nothing.
  assert.deepEqual(idx.secretChanged("ns", "s", "10"), []);
  assert.deepEqual(idx.secretChanged("elsewhere", "s", "11"), []);
  assert.deepEqual(idx.secretChanged("ns", "unused", "12"), []);
  assert.equal(src.state.calls, 2);

  // A new version: the next read waits for a fresh listing.
  src.state.data.push(snap("rotated"));
  assert.deepEqual(idx.secretChanged("ns", "s", "13"), ["ns/r"]);
  assert.deepEqual(await idx.snapshotsOf(mine), [snap("a"), snap("rotated")]);
  assert.equal(src.state.calls, 3);

  // Deleted: reloaded too (the listing then fails with the missing Secret).
  src.state.fail = new Error("storage Secret ns/s of Repository ns/r not found");
  assert.deepEqual(idx.secretChanged("ns", "s", undefined), ["ns/r"]);
  await assert.rejects(idx.snapshotsOf(mine), /storage Secret ns\/s .* not found/);
  // Created again: a listing that never read it (it failed) is reloaded whatever the version.
  src.state.fail = undefined;
  assert.deepEqual(idx.secretChanged("ns", "s", "14"), ["ns/r"]);
  assert.deepEqual(await idx.snapshotsOf(mine), [snap("a"), snap("rotated")]);
});
