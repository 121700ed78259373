import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { baseEnv, childEnv, configureBaseEnv, pickBaseEnv } from "./child-env.ts";

test("the base environment is PATH and HOME of the process until a program configures its own", () => {
  assert.deepEqual(baseEnv(), { PATH: process.env.PATH, HOME: process.env.HOME });
  configureBaseEnv({ PATH: "/opt/tools/bin:/usr/bin:/bin", HOME: "/home/runner", AWS_SECRET_ACCESS_KEY: "never-passed-on" });
  try {
    assert.deepEqual(baseEnv(), { PATH: "/opt/tools/bin:/usr/bin:/bin", HOME: "/home/runner" });
  } finally {
    configureBaseEnv(undefined);
  }
  assert.deepEqual(baseEnv(), { PATH: process.env.PATH, HOME: process.env.HOME });
});

test("a child gets the base with its own variables over it, and nothing unset or from the parent beyond it", () => {
  const env = childEnv(pickBaseEnv({ PATH: process.env.PATH, HOME: undefined, SECRET: "x" }), { PGPASSWORD: "p", PATH: undefined });
  assert.deepEqual(env, { PATH: process.env.PATH, PGPASSWORD: "p" });
  // What a real child process sees.
  const r = spawnSync("env", [], { env, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const seen = Object.fromEntries(
    r.stdout
      .trim()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  assert.deepEqual(seen, { PATH: process.env.PATH, PGPASSWORD: "p" });
});
