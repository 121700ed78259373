import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultsDiff } from "./defaults-diff.ts";

const schema = {
  type: "object",
  properties: {
    driver: { type: "string", default: "Restic" },
    retryConfig: { type: "object", properties: { maxRetry: { type: "integer", default: 1 } } },
    status: { type: "object", default: { observedGeneration: -1 }, properties: { observedGeneration: { type: "integer" }, phase: { type: "string" } } },
  },
};

test("fields the schema defaults may appear on read-back with their default value", () => {
  assert.deepEqual(defaultsDiff({ retryConfig: {} }, { driver: "Restic", retryConfig: { maxRetry: 1 } }, schema, "spec"), []);
  assert.deepEqual(defaultsDiff({ status: { phase: "Ready" } }, { status: { phase: "Ready", observedGeneration: -1 } }, schema, "x"), []);
});

test("anything else that differs is reported with its path", () => {
  assert.deepEqual(defaultsDiff({ retryConfig: {} }, { driver: "Other", retryConfig: { maxRetry: 2 } }, schema, "spec"), [
    "spec.retryConfig.maxRetry: sent 1, read back 2",
    'spec.driver: sent "Restic", read back "Other"',
  ]);
  assert.deepEqual(defaultsDiff({ a: [1, 2] }, { a: [1] }, schema, "spec"), ["spec.a: sent 2 items, read back 1"]);
  assert.deepEqual(defaultsDiff({ a: 1 }, {}, schema, "spec"), ["spec.a: sent 1, read back undefined"]);
  assert.deepEqual(defaultsDiff({}, { b: 1 }, schema, "spec"), ["spec.b: not sent, read back 1"]);
});
