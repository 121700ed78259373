import { test } from "node:test";
import assert from "node:assert/strict";
import { formatError } from "./source-error.ts";

test("an error renders as file:line[:col]: object: field: message, leaving out unknown parts", () => {
  assert.equal(
    formatError({
      file: "fixtures/x.yaml",
      line: 12,
      object: "BackupConfiguration demo/nightly",
      field: "spec.retentionPolicy.prune",
      message: "required field is missing",
    }),
    "fixtures/x.yaml:12: BackupConfiguration demo/nightly: spec.retentionPolicy.prune: required field is missing",
  );
  assert.equal(formatError({ file: "a.yaml", line: 3, column: 7, field: "spec.driver", message: "bad" }), "a.yaml:3:7: spec.driver: bad");
  assert.equal(formatError({ file: "a.yaml", line: 1, message: "not valid UTF-8" }), "a.yaml:1: not valid UTF-8");
});
