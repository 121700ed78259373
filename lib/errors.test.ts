import { test } from "node:test";
import assert from "node:assert/strict";
import { stalled, waiting, errorKind, redact } from "./errors.ts";
import { createLogger } from "./logger.ts";

test("errors name the object and the field, and carry their kind", () => {
  const e = stalled("ResourceValidationFailed", 'must be a cron expression, got "nope"', {
    object: { kind: "BackupConfiguration", namespace: "demo", name: "bc" },
    field: "spec.schedule",
  });
  assert.equal(e.message, 'BackupConfiguration demo/bc, field spec.schedule: must be a cron expression, got "nope"');
  assert.equal(errorKind(e), "Stalled");
  assert.equal(waiting("RepositoryNotAvailable", "x", 5000).retryAfterMs, 5000);
  assert.equal(errorKind(new Error("x")), "Transient");
});

test("secret values never reach a log line", () => {
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l), now: () => new Date(0) });
  log.addSecrets(["s3cr3t-password"]);
  log.child({ bc: "demo/bc" }).error("restic failed", { err: new Error("Fatal: wrong password s3cr3t-password") });
  assert.equal(lines.length, 1);
  assert.ok(!lines[0].includes("s3cr3t-password"));
  assert.deepEqual(JSON.parse(lines[0]), {
    ts: "1970-01-01T00:00:00.000Z",
    level: "error",
    msg: "restic failed",
    bc: "demo/bc",
    err: "Fatal: wrong password <redacted>",
  });
  assert.equal(redact("a abcd b", ["abcd"]), "a <redacted> b");
});
