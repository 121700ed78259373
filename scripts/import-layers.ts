// The direction of imports, checked: each top folder may import only the folders below it (the
// table is docs/decisions/layers.md), production files never import test support, and no file
// reaches itself through its imports. Run by `npm run lint` and by scripts/import-layers.test.ts.
import { globSync, readFileSync } from "node:fs";
import { dirname, join, normalize, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");

/** Folder → the folders its production files may import (besides their own). */
export const LAYERS: Record<string, readonly string[]> = {
  lib: [],
  schema: ["lib"],
  stash: ["lib", "schema"],
  restic: ["lib"],
  policies: ["lib", "schema", "stash"],
  reconciler: ["lib", "schema", "stash", "restic", "policies"],
  admission: ["lib", "schema", "stash"],
  "snapshot-api": ["lib", "schema", "stash", "restic"],
  "restic-runner": ["lib", "schema", "stash", "restic"],
  cli: ["lib", "schema", "stash", "policies"],
  server: ["lib", "schema", "stash", "restic", "admission", "snapshot-api"],
  bin: ["lib", "schema", "stash", "restic", "policies", "reconciler", "admission", "snapshot-api", "restic-runner", "server", "cli"],
  local: ["lib"],
};

/** Test support and tooling: they may import anything, and only tests and tooling may import them. */
export const SUPPORT = ["testing", "e2e", "bench", "scripts", "deploy", "fixtures"] as const;

export type Graph = Map<string, string[]>;

const SPECIFIER = /(?:(?:import|export)\s[^'"]*?from\s+|import\(\s*|import\s+)(['"])(\.{1,2}\/[^'"]+)\1/g;

/** Every .ts file of the tree (relative paths) → the project files it imports. */
export function importGraph(dir = root): Graph {
  const files = globSync("**/*.ts", { cwd: dir, exclude: (p) => p === "node_modules" || p.startsWith(".") }).sort();
  const graph: Graph = new Map();
  for (const file of files) {
    const src = readFileSync(join(dir, file), "utf8");
    const deps: string[] = [];
    for (const m of src.matchAll(SPECIFIER)) deps.push(normalize(join(dirname(file), m[2])));
    graph.set(file, deps);
  }
  return graph;
}

const top = (file: string) => (file.includes("/") ? file.slice(0, file.indexOf("/")) : ".");
const isTest = (file: string) => file.endsWith(".test.ts");
const isSupport = (folder: string) => (SUPPORT as readonly string[]).includes(folder);

/** One line per import against the direction, per import of test support from production code, per cycle. */
export function checkLayers(graph: Graph): string[] {
  const problems: string[] = [];
  for (const [file, deps] of graph) {
    const from = top(file);
    for (const dep of deps) {
      const to = top(dep);
      if (to === from) continue;
      if (isSupport(from) || from === ".") continue;
      if (isTest(file) && (isSupport(to) || to === "local")) continue;
      const allowed = LAYERS[from];
      if (!allowed) {
        problems.push(`${file}: folder ${from}/ has no place in the layers (docs/decisions/layers.md)`);
        break;
      }
      if (isSupport(to)) problems.push(`${file} imports ${dep}: production code never imports test support (${to}/)`);
      else if (!allowed.includes(to)) problems.push(`${file} imports ${dep}: ${from}/ may import only ${allowed.join(", ") || "packages"}`);
    }
  }
  for (const cycle of cycles(graph)) problems.push(`import cycle: ${cycle.join(" -> ")}`);
  return problems;
}

/** Each elementary cycle found by a depth-first walk, reported once, starting at its smallest file. */
export function cycles(graph: Graph): string[][] {
  const found = new Map<string, string[]>();
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    stack.push(file);
    for (const dep of graph.get(file) ?? []) {
      if (!graph.has(dep)) continue;
      if (state.get(dep) === "open") {
        const loop = stack.slice(stack.indexOf(dep));
        const start = loop.indexOf([...loop].sort()[0]);
        const canonical = [...loop.slice(start), ...loop.slice(0, start)];
        found.set(canonical.join(" "), [...canonical, canonical[0]]);
      } else if (!state.has(dep)) visit(dep);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return [...found.values()];
}

if (import.meta.main) {
  const problems = checkLayers(importGraph());
  for (const p of problems) process.stderr.write(`${p}\n`);
  if (problems.length) process.exit(1);
  process.stdout.write(`import layers: ${importGraph().size} files, every import goes down, no cycle\n`);
}
