import { test } from "node:test";
import assert from "node:assert/strict";
import { parseSelector, fromLabelSelector, matches, SelectorError } from "./label-selector.ts";

test("the string form parses equality, set and existence requirements", () => {
  assert.deepEqual(parseSelector("repository=a,hostname!=b, tier in (x, y),!gone,present"), [
    { key: "repository", op: "=", values: ["a"] },
    { key: "hostname", op: "!=", values: ["b"] },
    { key: "tier", op: "in", values: ["x", "y"] },
    { key: "gone", op: "!", values: [] },
    { key: "present", op: "exists", values: [] },
  ]);
  assert.deepEqual(parseSelector(""), []);
  assert.deepEqual(parseSelector(undefined), []);
  assert.deepEqual(parseSelector("a==b"), [{ key: "a", op: "=", values: ["b"] }]);
});

test("a malformed selector is an error quoting it", () => {
  assert.throws(() => parseSelector("a=b,,c"), SelectorError);
  assert.throws(() => parseSelector("a in x"), /cannot parse requirement "a in x"/);
  assert.throws(() => parseSelector("a=b c"), /selector/);
});

test("requirements match label sets as the API server does", () => {
  const labels = { repository: "r1", hostname: "h" };
  assert.equal(matches(parseSelector("repository=r1"), labels), true);
  assert.equal(matches(parseSelector("repository in (r2,r1),hostname"), labels), true);
  assert.equal(matches(parseSelector("repository=r2"), labels), false);
  assert.equal(matches(parseSelector("x!=y"), labels), true);
  assert.equal(matches(parseSelector("!hostname"), labels), false);
  assert.equal(matches(parseSelector("hostname notin (h)"), labels), false);
});

test("a LabelSelector object becomes the same requirements", () => {
  const reqs = fromLabelSelector({ matchLabels: { team: "a" }, matchExpressions: [{ key: "env", operator: "In", values: ["prod"] }] });
  assert.deepEqual(reqs, [
    { key: "team", op: "=", values: ["a"] },
    { key: "env", op: "in", values: ["prod"] },
  ]);
  assert.equal(matches(reqs, { team: "a", env: "prod" }), true);
  assert.equal(matches(reqs, { team: "a" }), false);
  assert.throws(
    () => fromLabelSelector({ matchExpressions: [{ key: "k", operator: "Has" }] }, "spec.x"),
    /spec\.x\.matchExpressions\[0\]\.operator: unknown operator "Has"/,
  );
});
