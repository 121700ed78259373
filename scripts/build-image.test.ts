// The Dockerfile is the recipe users build with; scripts/build-image.sh builds the same image here
// without a Docker daemon. This keeps the two from drifting: same Node, restic, Debian release and
// packages, user, entrypoint, environment.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8").replace(/\\\n/g, " ");
const spec = JSON.parse(execFileSync("bash", [join(root, "scripts/build-image.sh"), "spec"], { encoding: "utf8" }));
const instr = (name: string) =>
  dockerfile
    .split("\n")
    .filter((l) => l.startsWith(`${name} `))
    .map((l) => l.slice(name.length + 1).trim());

test("the image built without Docker has the Dockerfile's Node, pinned as package.json pins it, on the same Debian release", () => {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const from = instr("FROM").find((f) => f.startsWith("node:"));
  assert.equal(from, `node:${spec.node}-${spec.suite}-slim`);
  assert.equal(spec.node, pkg.devDependencies.node, "the Node in node_modules/node is the one package.json pins");
});

test("the image built without Docker installs the Dockerfile's Debian packages and builds restic with the same script", () => {
  const apt = dockerfile.match(/apt-get install -y --no-install-recommends ([^&]+)&&/);
  assert.ok(apt, "the Dockerfile's apt-get install line");
  assert.deepEqual(apt[1].trim().split(/\s+/).sort(), spec.packages.split(" ").sort());
  assert.match(dockerfile, /RESTASH_TOOLS=restic bash scripts\/install-tools\.sh/);
  const restic = readFileSync(join(root, "scripts/install-tools.sh"), "utf8").match(/^RESTIC_VERSION=(.+)$/m)?.[1];
  assert.equal(spec.restic, restic);
  assert.match(dockerfile, /npm ci --omit=dev/);
});

test("the image built without Docker runs as the Dockerfile says: user, workdir, entrypoint, command, environment", () => {
  assert.deepEqual(instr("USER"), [spec.user]);
  assert.deepEqual(instr("WORKDIR").slice(-1), [spec.workdir]);
  assert.deepEqual(JSON.parse(instr("ENTRYPOINT")[0]!), spec.entrypoint);
  assert.deepEqual(JSON.parse(instr("CMD")[0]!), spec.cmd);
  assert.deepEqual(instr("ENV").join(" ").split(/\s+/).sort(), spec.env.split(" ").sort());
  const operator = readFileSync(join(root, "deploy/operator.yaml"), "utf8");
  assert.ok(operator.includes(`image: ${spec.image}`), `deploy/operator.yaml runs ${spec.image}`);
});
