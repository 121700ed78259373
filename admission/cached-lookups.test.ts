import { test } from "node:test";
import assert from "node:assert/strict";
import { coalesce } from "./cached-lookups.ts";

test("coalesced reads never reuse a read that started before the caller arrived", async () => {
  let started = 0;
  const releases: (() => void)[] = [];
  const read = coalesce(() => {
    const n = ++started;
    return new Promise<number>((r) => releases.push(() => r(n)));
  });
  const first = read(); // starts read 1
  const second = read(); // arrives during read 1: must get read 2
  const third = read(); // shares read 2
  assert.equal(started, 1);
  releases[0]();
  assert.equal(await first, 1);
  await new Promise((r) => setImmediate(r));
  assert.equal(started, 2);
  releases[1]();
  assert.equal(await second, 2);
  assert.equal(await third, 2);
  const fourth = read(); // nothing in flight: a read of its own
  assert.equal(started, 3);
  releases[2]();
  assert.equal(await fourth, 3);
});
