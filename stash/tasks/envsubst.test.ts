import { test } from "node:test";
import assert from "node:assert/strict";
import { substJson, substString, variablesOf } from "./envsubst.ts";

test("a variable is replaced by its value and a default applies only when it is unset or empty", () => {
  const vars = { A: "x", E: "" };
  assert.equal(substString("${A}/${B:=b}/${E:=e}/${E=kept}/${B-d}/$$HOME", vars), "x/b/e//d/$HOME");
});

test("a variable with neither value nor default is reported with the field that uses it", () => {
  const r = substJson({ args: ["--a=${A}", "--b=${MISSING}"], volumeMounts: [{ name: "${secretVolume}" }] }, { A: "1" }, "spec");
  assert.deepEqual(r.value, { args: ["--a=1", "--b="], volumeMounts: [{ name: "" }] });
  assert.deepEqual(r.unresolved, [
    { field: "spec.args[1]", variable: "MISSING" },
    { field: "spec.volumeMounts[0].name", variable: "secretVolume" },
  ]);
});

test("lenient substitution leaves unknown variables as written", () => {
  assert.equal(substString("${TARGET_NAME}-${LATER}", { TARGET_NAME: "db" }, [], { lenient: true }), "db-${LATER}");
});

test("the variables of a value are split into required and optional", () => {
  assert.deepEqual(variablesOf({ a: ["${X}", "${Y:=1}", "${Z}${Y}"] }), { required: ["X", "Y", "Z"], optional: [] });
  assert.deepEqual(variablesOf(["${X:=1}", "${W}"]), { required: ["W"], optional: ["X"] });
});
