import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ensureRepository } from "./init.ts";
import { backup } from "./backup.ts";
import { check } from "./check.ts";
import { stats } from "./stats.ts";
import { localRepoContext } from "../testing/restic-context.ts";

test("check reports integrity true on a sound repository and false once a pack file is lost", async () => {
  const t = await localRepoContext("check");
  await ensureRepository(t.ctx);
  const src = join(t.work, "f.txt");
  await writeFile(src, "some data worth keeping\n".repeat(100));
  await backup(t.ctx, { path: src });
  assert.equal((await check(t.ctx)).integrity, true);
  const s = await stats(t.ctx);
  assert.ok(s.totalSize > 0 && /^\d+(\.\d{3} [KMGT]iB| B)$/.test(s.totalSizeText), s.totalSizeText);

  const dataDir = join(t.repo.spec!.backend!.local!.mountPath, "data");
  const packs = (await Promise.all((await readdir(dataDir)).map(async (d) => (await readdir(join(dataDir, d))).map((f) => join(dataDir, d, f))))).flat();
  assert.ok(packs.length > 0);
  await rm(packs[0]);
  const damaged = await check(t.ctx);
  assert.equal(damaged.integrity, false);
});
