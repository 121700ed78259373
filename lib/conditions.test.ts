import { test } from "node:test";
import assert from "node:assert/strict";
import { setCondition, setHealth, getCondition, isTrue } from "./conditions.ts";

const t0 = new Date("2026-01-01T00:00:00.123Z");
const t1 = new Date("2026-01-01T00:05:00Z");

test("setting a condition stamps observedGeneration and the transition time", () => {
  const out = setCondition([], { type: "RepositoryFound", status: true, reason: "RepositoryAvailable", message: "Repository a/b exist." }, t0, 3);
  assert.deepEqual(out, [
    {
      type: "RepositoryFound",
      status: "True",
      reason: "RepositoryAvailable",
      message: "Repository a/b exist.",
      observedGeneration: 3,
      lastTransitionTime: "2026-01-01T00:00:00Z",
    },
  ]);
});

test("lastTransitionTime is kept when the status does not change and moves when it does", () => {
  const a = setCondition([], { type: "X", status: true, reason: "R" }, t0, 1);
  const b = setCondition(a, { type: "X", status: "True", reason: "R2", message: "m" }, t1, 2);
  assert.equal(b[0].lastTransitionTime, "2026-01-01T00:00:00Z");
  assert.equal(b[0].observedGeneration, 2);
  assert.equal(b[0].reason, "R2");
  const c = setCondition(b, { type: "X", status: false, reason: "R3" }, t1, 2);
  assert.equal(c[0].lastTransitionTime, "2026-01-01T00:05:00Z");
  assert.equal(c[0].status, "False");
});

test("other conditions keep their order", () => {
  let l = setCondition([], { type: "A", status: true }, t0);
  l = setCondition(l, { type: "B", status: true }, t0);
  l = setCondition(l, { type: "A", status: false }, t1);
  assert.deepEqual(
    l.map((c) => c.type),
    ["A", "B"],
  );
});

test("kstatus health: Ready, Reconciling and Stalled are exclusive", () => {
  let l = setHealth([], { health: "Reconciling", reason: "Progressing", message: "working" }, t0, 1);
  assert.equal(getCondition(l, "Ready")?.status, "False");
  assert.ok(isTrue(l, "Reconciling"));
  l = setHealth(l, { health: "Stalled", reason: "Invalid", message: "bad" }, t0, 1);
  assert.ok(isTrue(l, "Stalled"));
  assert.equal(getCondition(l, "Reconciling"), undefined);
  l = setHealth(l, { health: "Ready", reason: "Ready", message: "ok" }, t1, 2);
  assert.deepEqual(
    l.map((c) => c.type),
    ["Ready"],
  );
  assert.ok(isTrue(l, "Ready"));
});
