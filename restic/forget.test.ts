import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFile } from "node:fs/promises";
import { retentionArgs, forget, forgetResultOf } from "./forget.ts";
import { ensureRepository } from "./init.ts";
import { backup } from "./backup.ts";
import { snapshots } from "./snapshots.ts";
import { localRepoContext } from "../testing/restic-context.ts";

test("every retention field maps to its restic flag, zero keeps are left out", () => {
  assert.deepEqual(
    retentionArgs({
      name: "all",
      keepLast: 5,
      keepHourly: 0,
      keepDaily: 7,
      keepWeekly: 4,
      keepMonthly: 12,
      keepYearly: 3,
      keepTags: ["a", "b c"],
      prune: true,
      dryRun: true,
    }),
    [
      "--keep-last",
      "5",
      "--keep-daily",
      "7",
      "--keep-weekly",
      "4",
      "--keep-monthly",
      "12",
      "--keep-yearly",
      "3",
      "--keep-tag",
      "a",
      "--keep-tag",
      "b c",
      "--prune",
      "--dry-run",
    ],
  );
  assert.deepEqual(retentionArgs({ name: "min", keepLast: 1, prune: false }), ["--keep-last", "1"]);
  assert.deepEqual(retentionArgs({ name: "hourly", keepHourly: 2, prune: false }), ["--keep-hourly", "2"]);
});

test("forget JSON output counts kept and removed snapshots over all groups", () => {
  const out =
    '[{"host":"a","paths":["/x"],"tags":null,"keep":[{"id":"1"}],"remove":[{"id":"2"},{"id":"3"}]},{"host":"b","paths":["/y"],"tags":null,"keep":[{"id":"4"}],"remove":null}]\nsome prune text\n';
  assert.deepEqual(forgetResultOf(out), {
    kept: 2,
    removed: 2,
    groups: [
      { host: "a", paths: ["/x"], tags: null, keep: ["1"], remove: ["2", "3"] },
      { host: "b", paths: ["/y"], tags: null, keep: ["4"], remove: [] },
    ],
  });
  assert.deepEqual(forgetResultOf(""), { kept: 0, removed: 0, groups: [] });
});

test("a retention policy leaves exactly the snapshots it keeps, per host and path", async () => {
  const t = await localRepoContext("retention");
  await ensureRepository(t.ctx);
  const a = join(t.work, "a.txt");
  const b = join(t.work, "b.txt");
  const ids: Record<string, string[]> = { a: [], b: [] };
  for (let i = 0; i < 4; i++) {
    await writeFile(a, `a ${i}\n`);
    ids.a.push((await backup(t.ctx, { path: a, host: "h1", tags: i === 0 ? ["keep-me"] : [] })).snapshotId);
  }
  for (let i = 0; i < 2; i++) {
    await writeFile(b, `b ${i}\n`);
    ids.b.push((await backup(t.ctx, { path: b, host: "h2" })).snapshotId);
  }
  // Dry run: reports, removes nothing.
  const dry = await forget(t.ctx, { name: "p", keepLast: 2, keepTags: ["keep-me"], prune: false, dryRun: true });
  assert.deepEqual([dry.kept, dry.removed], [5, 1]);
  assert.equal((await snapshots(t.ctx)).length, 6);

  const res = await forget(t.ctx, { name: "p", keepLast: 2, keepTags: ["keep-me"], prune: true });
  assert.deepEqual([res.kept, res.removed], [5, 1]);
  const left = (await snapshots(t.ctx)).map((s) => s.id).sort();
  assert.deepEqual(left, [ids.a[0], ids.a[2], ids.a[3], ids.b[0], ids.b[1]].sort());

  const tighter = await forget(t.ctx, { name: "p", keepLast: 1, prune: true });
  assert.deepEqual([tighter.kept, tighter.removed], [2, 3]);
  assert.deepEqual((await snapshots(t.ctx)).map((s) => s.id).sort(), [ids.a[3], ids.b[1]].sort());
});

test("a policy without any keep rule is refused before restic runs", async () => {
  const t = await localRepoContext("retention-none");
  await assert.rejects(forget(t.ctx, { name: "nothing", prune: true }), /policy nothing has no keep rule/);
});
