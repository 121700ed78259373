import { test } from "node:test";
import assert from "node:assert/strict";
import { ANY_BUDGET, anysIn, productionAnys, productionFiles } from "./any-budget.ts";

test("production code holds no more `any` than its budget", () => {
  assert.ok(productionFiles().length > 150, `read ${productionFiles().length} files`);
  const uses = productionAnys();
  assert.ok(uses.length <= ANY_BUDGET, `${uses.length} any > budget ${ANY_BUDGET}:\n${uses.map((u) => `${u.file}:${u.line}: ${u.text}`).join("\n")}`);
  // Each one left says why it is there.
  assert.deepEqual(
    uses.filter((u) => !u.reason).map((u) => `${u.file}:${u.line}: ${u.text}`),
    [],
  );
});

test("an `any` is found by the parser, with the comment that says why; words in strings and comments are not counted", () => {
  const src = [
    "// JSON before validation",
    "const body: any = JSON.parse(s);",
    'const note = "any string"; // not an any',
    "function f(x: unknown) { return x as any; } // a library callback",
    "const list: Array<string> = [];",
  ].join("\n");
  assert.deepEqual(
    anysIn("x.ts", src).map((u) => [u.line, u.reason]),
    [
      [2, "JSON before validation"],
      [4, "a library callback"],
    ],
  );
});
