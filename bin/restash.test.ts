// The installed `restash` command (package.json's bin) runs every command of bin/restash.ts, and on
// a Node older than the one package.json's engines names it says so in one line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const BIN = join(root, pkg.bin.restash);

test("the installed restash runs the operator, the policy verbs and the runner from one entrypoint", () => {
  const help = spawnSync(process.execPath, [BIN, "help"], { encoding: "utf8" });
  assert.equal(help.status, 0, help.stderr);
  for (const cmd of ["operator", "validate|render|plan", "create-backupsession", "run-backup", "run-hook", "update-status"])
    assert.ok(help.stdout.includes(cmd), help.stdout);
  const opHelp = spawnSync(process.execPath, [BIN, "operator", "--help"], { encoding: "utf8" });
  assert.match(opHelp.stdout + opHelp.stderr, /--register=cluster\|local\|none/);
  const validate = spawnSync(process.execPath, [BIN, "validate", join(root, "policies/examples")], { encoding: "utf8" });
  assert.equal(validate.status, 0, validate.stderr);
  assert.match(validate.stdout, /^\d+ object\(s\) valid$/m);
});

test("on a Node older than package.json's engines, restash names the Node it needs in one line, before loading any TypeScript", () => {
  // This Node posing as Node 20 (the check reads process.versions; type stripping still works here,
  // so a check that came after loading bin/restash.ts would let `help` through).
  const asNode20 = `data:text/javascript,Object.defineProperty(process.versions, "node", { value: "20.20.2" })`;
  const r = spawnSync(process.execPath, ["--import", asNode20, BIN, "help"], { encoding: "utf8" });
  assert.equal(r.status, 1);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, `restash needs Node.js 24 or newer (package.json engines: ${pkg.engines.node}); ${process.execPath} is v20.20.2\n`);
});
