import { test } from "node:test";
import assert from "node:assert/strict";
import { checkLayers, cycles, importGraph, LAYERS, SUPPORT } from "./import-layers.ts";

test("every import in the tree goes down the layers, production code imports no test support, and no file reaches itself", () => {
  const graph = importGraph();
  assert.ok(graph.size > 250, `read ${graph.size} files`);
  assert.deepEqual(checkLayers(graph), []);
});

test("every top folder with TypeScript has a place in the layers", () => {
  const folders = new Set([...importGraph().keys()].filter((f) => f.includes("/")).map((f) => f.slice(0, f.indexOf("/"))));
  const placed = new Set([...Object.keys(LAYERS), ...SUPPORT]);
  assert.deepEqual(
    [...folders].filter((f) => !placed.has(f)),
    [],
  );
});

test("an import against the direction is named with the file, the import and what the folder may import", () => {
  const graph = importGraph();
  const withWrongWay = new Map(graph);
  withWrongWay.set("restic-runner/main.ts", [...(graph.get("restic-runner/main.ts") ?? []), "reconciler/operator.ts"]);
  withWrongWay.set("stash/names.ts", [...(graph.get("stash/names.ts") ?? []), "testing/cluster.ts"]);
  assert.deepEqual(checkLayers(withWrongWay), [
    "restic-runner/main.ts imports reconciler/operator.ts: restic-runner/ may import only lib, schema, stash, restic",
    "stash/names.ts imports testing/cluster.ts: production code never imports test support (testing/)",
  ]);
});

test("a cycle is reported once, from its smallest file, whatever file the walk starts at", () => {
  const graph = new Map([
    ["lib/c.ts", ["lib/a.ts"]],
    ["lib/a.ts", ["lib/b.ts"]],
    ["lib/b.ts", ["lib/c.ts", "lib/d.ts"]],
    ["lib/d.ts", []],
  ]);
  assert.deepEqual(cycles(graph), [["lib/a.ts", "lib/b.ts", "lib/c.ts", "lib/a.ts"]]);
  assert.deepEqual(checkLayers(graph), ["import cycle: lib/a.ts -> lib/b.ts -> lib/c.ts -> lib/a.ts"]);
});
