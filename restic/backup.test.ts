import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { generateFixtureTree } from "../fixtures/data/generate.ts";
import { treeHash, diffManifests } from "../testing/tree-hash.ts";
import { ensureRepository, repositoryExists } from "./init.ts";
import { backup } from "./backup.ts";
import { restore } from "./restore.ts";
import { snapshots } from "./snapshots.ts";
import { check } from "./check.ts";
import { stats } from "./stats.ts";
import { localRepoContext, restRepoContext, s3RepoContext, type TestRepo } from "../testing/restic-context.ts";
import { NothingToBackUpError } from "./errors.ts";

async function roundTrip(t: TestRepo, largeFileBytes: number) {
  const src = join(t.work, "data");
  await generateFixtureTree(src, { largeFileBytes });
  const before = await treeHash(src);

  assert.deepEqual(await ensureRepository(t.ctx), { created: true });
  assert.deepEqual(await ensureRepository(t.ctx), { created: false });
  const progress: number[] = [];
  const res = await backup(t.ctx, { path: src, host: "app-0", onProgress: (p) => progress.push(p.percentDone), progressIntervalMs: 200 });
  assert.match(res.snapshot.name, /^[0-9a-f]{8}$/);
  assert.equal(res.snapshot.path, src);
  assert.equal(res.snapshot.fileStats.totalFiles, before.files);
  assert.equal(res.snapshot.fileStats.newFiles, before.files);
  assert.equal(res.snapshot.fileStats.unmodifiedFiles, 0);
  assert.match(res.snapshot.processingTime, /^\d+:\d\d$/);
  assert.ok(res.totalBytes >= before.bytes, `${res.totalBytes} >= ${before.bytes}`);

  // A second backup of the unchanged tree uploads (almost) nothing and sees every file unmodified.
  const again = await backup(t.ctx, { path: src, host: "app-0" });
  assert.equal(again.snapshot.fileStats.unmodifiedFiles, before.files);
  assert.equal(again.snapshot.fileStats.newFiles, 0);
  assert.ok(again.uploadedBytes < 64 * 1024, `incremental upload ${again.uploadedBytes}`);

  const list = await snapshots(t.ctx, { host: "app-0" });
  assert.equal(list.length, 2);
  assert.deepEqual(
    list.map((s) => s.paths),
    [[src], [src]],
  );

  const target = join(t.work, "restored");
  const r = await restore(t.ctx, { snapshot: "latest", host: "app-0", path: src, target });
  assert.ok(r.filesRestored > 0);
  const after = await treeHash(join(target, src));
  assert.deepEqual(diffManifests(before.manifest, after.manifest), []);
  assert.equal(after.hash, before.hash);

  assert.equal((await check(t.ctx)).integrity, true);
  const st = await stats(t.ctx);
  assert.ok(st.totalSize > 0);
  return { before, res, progress };
}

test("a backup restored from a local repository is byte-identical, large file included", async () => {
  const t = await localRepoContext("bk-local");
  const { before, progress } = await roundTrip(t, 24 * 1024 * 1024);
  // restic's JSON status messages reach the callback, throttled to the interval asked for.
  assert.ok(progress.length >= 1 && progress.every((p) => p >= 0 && p <= 1), JSON.stringify(progress));
  assert.ok(before.bytes > 24 * 1024 * 1024);
  assert.ok(before.symlinks >= 4 && before.dirs >= 10, JSON.stringify({ ...before, manifest: undefined }));
});

test("a backup restored from S3 (MinIO) is byte-identical and lands under bucket/prefix", async () => {
  const t = await s3RepoContext("bk-s3");
  await roundTrip(t, 2 * 1024 * 1024);
  const { listObjects } = await (await import("../testing/services.ts")).sharedMinio();
  const bucket = t.repo.spec!.backend!.s3!.bucket;
  const keys = await listObjects(bucket);
  assert.ok(keys.includes("demo/app/config"), keys.slice(0, 5).join(","));
  assert.ok(keys.every((k) => k.startsWith("demo/app/")));
});

test("a backup restored from a REST server with credentials is byte-identical", async () => {
  const t = await restRepoContext("bk-rest");
  await roundTrip(t, 2 * 1024 * 1024);
});

test("restoring with include and exclude restores only the chosen files", async () => {
  const t = await localRepoContext("bk-include");
  const src = join(t.work, "data");
  await generateFixtureTree(src, { largeFileBytes: 0, smallFiles: 4 });
  await ensureRepository(t.ctx);
  const b = await backup(t.ctx, { path: src });
  const target = join(t.work, "restored");
  await restore(t.ctx, { snapshot: b.snapshot.name, target, include: [join(src, "config")] });
  assert.deepEqual(await readdir(join(target, src)), ["config"]);
  const target2 = join(t.work, "restored2");
  await restore(t.ctx, { snapshot: b.snapshotId, target: target2, exclude: ["large", "many", "*.bin"] });
  const names = await readdir(join(target2, src));
  assert.ok(!names.includes("many") && names.includes("config"));
});

test("a missing path fails with NothingToBackUpError and takes no snapshot", async () => {
  const t = await localRepoContext("bk-missing");
  await ensureRepository(t.ctx);
  await assert.rejects(backup(t.ctx, { path: join(t.work, "nope") }), (e: unknown) => {
    assert.ok(e instanceof NothingToBackUpError);
    assert.match(e.message, /nothing to back up at .*nope: the path does not exist/);
    assert.equal(e.kind, "Transient");
    return true;
  });
  assert.deepEqual(await snapshots(t.ctx), []);
});

test("an empty directory, an empty file and a tree of empty directories are failures, not successes", async () => {
  const t = await localRepoContext("bk-empty");
  await ensureRepository(t.ctx);
  const empty = join(t.work, "empty");
  await mkdir(empty);
  await assert.rejects(backup(t.ctx, { path: empty }), /the directory is empty/);
  await writeFile(join(t.work, "zero"), "");
  await assert.rejects(backup(t.ctx, { path: join(t.work, "zero") }), /the file is empty/);
  const hollow = join(t.work, "hollow");
  await mkdir(join(hollow, "a/b"), { recursive: true });
  await assert.rejects(backup(t.ctx, { path: hollow }), (e: unknown) => e instanceof NothingToBackUpError && /only empty directories/.test(e.message));
  // The snapshot restic took of the empty tree was dropped again.
  assert.deepEqual(await snapshots(t.ctx), []);
  assert.equal(await repositoryExists(t.ctx), true);
});
