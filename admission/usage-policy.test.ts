import { test } from "node:test";
import assert from "node:assert/strict";
import { usageAllowed } from "./usage-policy.ts";
import type { Repository } from "../schema/types.generated.ts";

const repo = (usagePolicy?: unknown) =>
  ({
    apiVersion: "stash.appscode.com/v1alpha1",
    kind: "Repository",
    metadata: { name: "r", namespace: "storage" },
    spec: { backend: { s3: {} }, ...(usagePolicy ? { usagePolicy } : {}) },
  }) as Repository;

test("a Repository is always usable from its own namespace", () => {
  assert.deepEqual(usageAllowed(repo(), "storage"), { allowed: true });
});

test("without a usagePolicy no other namespace may use a Repository", () => {
  assert.equal(usageAllowed(repo(), "demo").allowed, false);
});

test("from Same refuses, from All allows, a policy without from refuses", () => {
  assert.equal(usageAllowed(repo({ allowedNamespaces: { from: "Same" } }), "demo").allowed, false);
  assert.equal(usageAllowed(repo({ allowedNamespaces: { from: "All" } }), "demo").allowed, true);
  assert.equal(usageAllowed(repo({ allowedNamespaces: {} }), "demo").allowed, false);
});

test("from Selector matches the referring namespace's labels", () => {
  const r = repo({
    allowedNamespaces: { from: "Selector", selector: { matchLabels: { team: "a" }, matchExpressions: [{ key: "env", operator: "NotIn", values: ["prod"] }] } },
  });
  assert.equal(usageAllowed(r, "demo", { team: "a", env: "dev" }).allowed, true);
  assert.equal(usageAllowed(r, "demo", { team: "a", env: "prod" }).allowed, false);
  assert.equal(usageAllowed(r, "demo", { team: "b" }).allowed, false);
});
