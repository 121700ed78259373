// The documented examples stay valid and render exactly as recorded; the invalid fixture tree
// gets exactly the recorded errors (file, line, object, field, message), with no secret value.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "./restash.ts";

const root = join(import.meta.dirname, "..");

async function cli(...args: string[]) {
  let out = "";
  let err = "";
  const code = await runCli(args, { out: (s) => (out += s), err: (s) => (err += s), env: {}, cwd: root });
  return { code, out, err };
}

test("the policies/examples tree is valid and renders exactly as recorded in fixtures", async () => {
  assert.deepEqual(await cli("validate", "policies/examples"), { code: 0, out: "6 object(s) valid\n", err: "" });
  const r = await cli("render", "policies/examples");
  assert.equal(r.code, 0);
  assert.equal(r.out, readFileSync(join(root, "fixtures/policies/examples.rendered.yaml"), "utf8"));
});

test("every kind of bad input in fixtures/policies/invalid is reported by file, line and field, and exits 1", async () => {
  const r = await cli("validate", "fixtures/policies/invalid");
  assert.equal(r.code, 1);
  assert.equal(r.err, readFileSync(join(root, "fixtures/policies/invalid.expected.txt"), "utf8"));
  assert.ok(!r.err.includes("hunter2") && !r.err.includes("not-in-git-please"), "no secret value in the output");
});
