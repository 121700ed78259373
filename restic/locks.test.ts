import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { writeSeededFile } from "../fixtures/data/generate.ts";
import { ensureRepository } from "./init.ts";
import { backup } from "./backup.ts";
import { check } from "./check.ts";
import { forget } from "./forget.ts";
import { listLocks, clearStaleLocks, waitForLocks } from "./locks.ts";
import { RepositoryLockedError } from "./errors.ts";
import { localRepoContext } from "../testing/restic-context.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts a slow restic backup with the context's env, waits for its lock, SIGKILLs it. */
async function killedBackup(t: Awaited<ReturnType<typeof localRepoContext>>, path: string): Promise<number> {
  const env = { PATH: process.env.PATH ?? "", ...t.ctx.backend.env };
  const child = spawn(t.ctx.bin!, ["backup", path, "--limit-upload", "200", "--json", "--quiet", ...t.ctx.backend.args], { env, stdio: "ignore" });
  for (let i = 0; i < 200 && (await listLocks(t.ctx)).length === 0; i++) await sleep(50);
  child.kill("SIGKILL");
  await new Promise((r) => child.once("close", r));
  return child.pid!;
}

test("a stale lock left by a SIGKILLed restic is removed and reported; the next backup and check succeed", async () => {
  const t = await localRepoContext("stale-lock");
  await ensureRepository(t.ctx);
  const src = join(t.work, "data");
  await writeSeededFile(join(src, "big.bin"), 8 * 1024 * 1024, "lock");
  const pid = await killedBackup(t, src);

  const locks = await listLocks(t.ctx);
  assert.equal(locks.length, 1);
  assert.equal(locks[0].pid, pid);
  // The stale lock blocks exclusive operations until it is cleared.
  await assert.rejects(forget(t.ctx, { name: "p", keepLast: 1, prune: true }), RepositoryLockedError);

  const { removed, live } = await clearStaleLocks(t.ctx);
  assert.deepEqual(
    removed.map((l) => l.pid),
    [pid],
  );
  assert.deepEqual(live, []);
  assert.deepEqual(await listLocks(t.ctx), []);

  const b = await backup(t.ctx, { path: src });
  assert.equal(b.snapshot.fileStats.totalFiles, 1);
  assert.equal((await check(t.ctx)).integrity, true);
  assert.equal((await forget(t.ctx, { name: "p", keepLast: 1, prune: true })).kept, 1);
});

test("a lock whose holder is alive is waited for, then reported as RepositoryLockedError naming the holder", async () => {
  const t = await localRepoContext("live-lock");
  await ensureRepository(t.ctx);
  const src = join(t.work, "data");
  await writeSeededFile(join(src, "big.bin"), 4 * 1024 * 1024, "live");
  const pid = await killedBackup(t, src);
  let polls = 0;
  const err = await waitForLocks(t.ctx, {
    isHolderAlive: () => true,
    timeoutMs: 2500,
    pollMs: 100,
    sleep: async (ms) => {
      polls++;
      await sleep(ms);
    },
  }).catch((e: unknown) => e);
  assert.ok(err instanceof RepositoryLockedError, String(err));
  assert.equal(err.kind, "Waiting");
  assert.match(err.message, new RegExp(`held by pid ${pid} on `));
  assert.deepEqual(
    err.holders.map((h) => h.pid),
    [pid],
  );
  assert.ok(polls >= 1);
  // A backup only waits for exclusive locks: a (non-exclusive) backup lock does not block it.
  assert.deepEqual((await waitForLocks(t.ctx, { exclusive: false, isHolderAlive: () => true, timeoutMs: 0 })).removed, []);
  // Once judged gone, it is removed and reported.
  const done = await waitForLocks(t.ctx, { timeoutMs: 1000 });
  assert.deepEqual(
    done.removed.map((l) => l.pid),
    [pid],
  );
});
