import { test } from "node:test";
import assert from "node:assert/strict";
import { mergeNoteText, noteLine } from "./notes.ts";

test("note lines are sorted and unique, so a cat_sort_uniq merge of two writers is their union", () => {
  const a = noteLine({ time: "2026-01-01T00:00:01Z", kind: "sync", source: "n/p", revision: "r", applied: 1 });
  const b = noteLine({ time: "2026-01-01T00:00:00Z", kind: "backup", source: "n/p", revision: "r", phase: "Succeeded" });
  assert.equal(a, '{"time":"2026-01-01T00:00:01Z","kind":"sync","source":"n/p","revision":"r","applied":1}');
  assert.equal(mergeNoteText(`${a}\n`, [b, a]), `${b}\n${a}\n`);
  const big = noteLine({
    time: "t",
    kind: "sync",
    source: "s",
    revision: "r",
    errors: Array.from({ length: 2000 }, (_, i) => ({ file: `f${i}.yaml`, line: i, message: "x".repeat(20) })),
    applied: 0,
  });
  assert.deepEqual(JSON.parse(big), { time: "t", kind: "sync", source: "s", revision: "r", truncated: true, applied: 0 });
});
