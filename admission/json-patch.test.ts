import { test } from "node:test";
import assert from "node:assert/strict";
import { jsonPatch, applyPatch } from "./json-patch.ts";

test("an unchanged object needs no patch", () => {
  assert.deepEqual(jsonPatch({ a: 1, b: { c: [1] } }, { a: 1, b: { c: [1] } }), []);
});

test("object keys are added, removed and replaced; arrays are replaced whole", () => {
  const from = { metadata: { annotations: { x: "1" } }, spec: { rules: [{ a: 1 }], target: { ref: "d" } } };
  const to = { metadata: { annotations: { x: "2", "a/b~c": "y" } }, spec: { target: { ref: "d", rules: [{ a: 1 }] } } };
  assert.deepEqual(jsonPatch(from, to), [
    { op: "replace", path: "/metadata/annotations/x", value: "2" },
    { op: "add", path: "/metadata/annotations/a~1b~0c", value: "y" },
    { op: "remove", path: "/spec/rules" },
    { op: "add", path: "/spec/target/rules", value: [{ a: 1 }] },
  ]);
  assert.deepEqual(applyPatch(from, jsonPatch(from, to)), to);
});

test("a changed array is one replace op", () => {
  assert.deepEqual(jsonPatch({ c: [1, 2] }, { c: [1, 2, 3] }), [{ op: "replace", path: "/c", value: [1, 2, 3] }]);
});
