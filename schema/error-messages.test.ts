import { test } from "node:test";
import assert from "node:assert/strict";
import { describeValue, formatPath, parsePointer } from "./error-messages.ts";

test("field paths read like kubectl's: dots for fields, brackets for indexes and odd keys", () => {
  assert.equal(formatPath(["spec", "members", 0, "task", "name"]), "spec.members[0].task.name");
  assert.equal(formatPath(["metadata", "labels", "app.kubernetes.io/name"]), 'metadata.labels["app.kubernetes.io/name"]');
  assert.equal(formatPath([]), "");
});

test("ajv instance pointers become path segments, with numbers for indexes and escapes undone", () => {
  assert.deepEqual(parsePointer("/spec/members/0/target"), ["spec", "members", 0, "target"]);
  assert.deepEqual(parsePointer("/metadata/annotations/a~1b"), ["metadata", "annotations", "a/b"]);
  assert.deepEqual(parsePointer(""), []);
});

test("values in messages are short: long strings are cut, collections are named", () => {
  assert.equal(describeValue("Rsync"), '"Rsync"');
  assert.equal(describeValue("x".repeat(100)), JSON.stringify("x".repeat(57) + "..."));
  assert.equal(describeValue([1]), "a list");
  assert.equal(describeValue({ a: 1 }), "a mapping");
  assert.equal(describeValue(null), "null");
});
