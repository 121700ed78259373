// `npm run bench`: the listing, the unknown-name answer and the hand-over to a bench, without
// running any of bench/ (the run uses a stand-in bench in a temporary directory).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { globSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runBench } from "./run-bench.ts";

const root = resolve(import.meta.dirname, "..");
const SCRIPT = join(root, "scripts/run-bench.ts");
const benchFiles = globSync("*.ts", { cwd: join(root, "bench") }).filter((f) => !f.endsWith(".test.ts"));

test("with no name, every bench is listed with the first line of its header comment", () => {
  const r = spawnSync(process.execPath, [SCRIPT], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(benchFiles.length > 0);
  const lines = r.stdout.split("\n");
  for (const f of benchFiles) {
    const first = readFileSync(join(root, "bench", f), "utf8")
      .split("\n")[0]
      .replace(/^\/\/ /, "");
    const line = lines.find((l) => l.startsWith(`  ${f.replace(/\.ts$/, "")} `));
    assert.ok(line?.endsWith(`  ${first}`), `${f}: ${line}`);
  }
});

test("an unknown name exits 2, names the closest bench and lists them all", () => {
  const r = spawnSync(process.execPath, [SCRIPT, "webhok"], { encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^unknown bench "webhok"; the closest is "webhook-latency"\n/);
  for (const f of benchFiles) assert.ok(r.stderr.includes(`  ${f.replace(/\.ts$/, "")} `), r.stderr);
});

test("a name runs that bench with the remaining args and ends with its exit code", async () => {
  const dir = mkdtempSync(join(tmpdir(), "run-bench-"));
  try {
    const seen = join(dir, "argv.json");
    writeFileSync(
      join(dir, "stand-in.ts"),
      `// A stand-in.\nimport { writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(seen)}, JSON.stringify(process.argv.slice(2)));\nprocess.exit(3);\n`,
    );
    const io = { out: (s: string) => assert.fail(s), err: (s: string) => assert.fail(s) };
    assert.equal(await runBench(["stand-in", "--count=10", "--verbose"], io, dir), 3);
    assert.deepEqual(JSON.parse(readFileSync(seen, "utf8")), ["--count=10", "--verbose"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
