import { test } from "node:test";
import assert from "node:assert/strict";
import { generationChanged, ownerKey } from "./registration.ts";

const obj = (generation: number, deletionTimestamp?: string) => ({
  metadata: { namespace: "ns", name: "a", generation, ...(deletionTimestamp ? { deletionTimestamp } : {}) },
});

test("generationChanged drops updates that change neither generation nor deletion, and each operator's filter remembers on its own", () => {
  const pass = generationChanged();
  assert.deepEqual(
    [
      pass(obj(1), "add"),
      pass(obj(1), "update"),
      pass(obj(2), "update"),
      pass(obj(2), "update"),
      pass(obj(2, "2026-12-01T00:00:00Z"), "update"),
      pass(obj(2, "2026-12-01T00:00:00Z"), "delete"),
      pass(obj(2), "update"),
    ],
    [true, false, true, false, true, true, true],
  );
  const other = generationChanged();
  assert.equal(other(obj(1), "update"), true, "a second filter has seen nothing");
});

test("an owned object maps to its controller owner of the kind asked for, and to nothing else", () => {
  const job = {
    metadata: {
      namespace: "ns",
      name: "j",
      ownerReferences: [
        { kind: "RestoreSession", name: "other", controller: false },
        { kind: "BackupSession", name: "bs-1", controller: true },
      ],
    },
  };
  assert.equal(ownerKey(job, "BackupSession"), "ns/bs-1");
  assert.equal(ownerKey(job, "RestoreSession"), undefined);
  assert.equal(ownerKey({ metadata: { namespace: "ns", name: "x" } }, "BackupSession"), undefined);
});
