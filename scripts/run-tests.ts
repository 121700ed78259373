// The test command: type-check, make sure the real services exist, then run every *.test.ts in
// one process (--test-isolation=none) so the suite shares one control plane.
import { execFileSync, spawnSync } from "node:child_process";
import { globSync } from "node:fs";
import { resolve, join } from "node:path";

const root = resolve(import.meta.dirname, "..");
const args = process.argv.slice(2);
const only = args.filter((a) => !a.startsWith("-"));
const flags = args.filter((a) => a.startsWith("-"));

const step = (what: string) => console.error(`\n== ${what}`);

if (!process.env.RESTASH_SKIP_TYPECHECK) {
  step("type-check (tsc --noEmit, strict)");
  const tsc = spawnSync(join(root, "node_modules/.bin/tsc"), ["-p", join(root, "tsconfig.json")], { stdio: "inherit" });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
}

step("real services: control plane and tools");
const bin = (script: string) =>
  execFileSync("bash", [join(root, "scripts", script)], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
    .trim()
    .split("\n")
    .pop()!;
const cpDir = bin("build-control-plane.sh");
const toolsDir = bin("install-tools.sh");
const env = {
  ...process.env,
  PATH: `${toolsDir}:${cpDir}:${join(root, "node_modules/.bin")}:${process.env.PATH}`,
  RESTASH_TOOLS_DIR: toolsDir,
  KUBEBUILDER_ASSETS: process.env.KUBEBUILDER_ASSETS ?? cpDir,
};

const files = only.length ? only : globSync("**/*.test.ts", { cwd: root, exclude: (p) => p.includes("node_modules") || p.startsWith(".restash") }).sort();
step(`node --test: ${files.length} files`);
const run = spawnSync(process.execPath, ["--test", "--test-isolation=none", "--test-reporter=spec", "--test-timeout=600000", ...flags, ...files], {
  cwd: root,
  stdio: "inherit",
  env,
});
process.exit(run.status ?? 1);
