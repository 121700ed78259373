import { test } from "node:test";
import assert from "node:assert/strict";
import { WorkQueue, ManualClock } from "./workqueue.ts";

test("a key added many times while queued is handled once", async () => {
  const seen: string[] = [];
  const q = new WorkQueue({ handler: async (k) => void seen.push(k), clock: new ManualClock() });
  q.add("a");
  q.add("a");
  q.add("b");
  q.add("a");
  await q.idle();
  assert.deepEqual(seen.sort(), ["a", "b"]);
});

test("a key is never handled twice at once, and an add during handling runs it again after", async () => {
  let running = 0;
  let maxRunning = 0;
  let runs = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const q = new WorkQueue({
    concurrency: 4,
    clock: new ManualClock(),
    handler: async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      runs++;
      if (runs === 1) await gate;
      running--;
    },
  });
  q.add("k");
  await new Promise((r) => setImmediate(r));
  q.add("k");
  q.add("k");
  release();
  await q.idle();
  await q.idle();
  assert.equal(maxRunning, 1);
  assert.equal(runs, 2);
});

test("failures back off exponentially up to the cap, and success resets the backoff", async () => {
  const clock = new ManualClock();
  let calls = 0;
  let fail = true;
  const q = new WorkQueue({
    clock,
    baseDelayMs: 10,
    maxDelayMs: 40,
    handler: async () => {
      calls++;
      if (fail) throw new Error("boom");
    },
  });
  q.add("k");
  await q.idle();
  assert.equal(calls, 1);
  assert.equal(q.backoffFor("k"), 20);
  clock.advance(9);
  await q.idle();
  assert.equal(calls, 1, "not retried before 10 ms");
  clock.advance(1);
  await q.idle();
  assert.equal(calls, 2);
  clock.advance(20);
  await q.idle();
  assert.equal(calls, 3);
  assert.equal(q.backoffFor("k"), 40, "capped");
  clock.advance(40);
  await q.idle();
  assert.equal(calls, 4);
  assert.equal(q.backoffFor("k"), 40);
  fail = false;
  clock.advance(40);
  await q.idle();
  assert.equal(calls, 5);
  assert.equal(q.backoffFor("k"), 10, "reset after success");
  assert.equal(q.delayedCount, 0);
});

test("requeueAfter brings the key back after the delay, and an earlier add wins", async () => {
  const clock = new ManualClock();
  let calls = 0;
  const q = new WorkQueue({ clock, handler: async () => (++calls === 1 ? { requeueAfterMs: 1000 } : undefined) });
  q.add("k");
  await q.idle();
  assert.equal(q.delayedCount, 1);
  clock.advance(999);
  await q.idle();
  assert.equal(calls, 1);
  clock.advance(1);
  await q.idle();
  assert.equal(calls, 2);
  assert.equal(q.delayedCount, 0);
});

test("an error that must not be retried is dropped; a numeric answer retries after that delay", async () => {
  const clock = new ManualClock();
  let calls = 0;
  const q = new WorkQueue({
    clock,
    handler: async (k) => {
      calls++;
      throw new Error(k);
    },
    shouldRetry: (e) => ((e as Error).message === "stalled" ? false : 500),
  });
  q.add("stalled");
  await q.idle();
  assert.equal(q.delayedCount, 0);
  q.add("waiting");
  await q.idle();
  clock.advance(500);
  await q.idle();
  assert.equal(calls, 3);
});
