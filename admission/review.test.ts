import { test } from "node:test";
import assert from "node:assert/strict";
import { review, malformedReason, registryKey, type AdmissionRegistry } from "./review.ts";
import { lookupsOf } from "../testing/admission-lookups.ts";
import { repositoryAdmission } from "./repository.ts";
import { restoreSessionAdmission } from "./restore-session.ts";
import { applyPatch } from "./json-patch.ts";

const registry: AdmissionRegistry = new Map([
  [registryKey("stash.appscode.com", "Repository"), repositoryAdmission],
  [registryKey("stash.appscode.com", "RestoreSession"), restoreSessionAdmission],
  [
    registryKey("stash.appscode.com", "Broken"),
    {
      validate: async () => {
        throw new Error("lookup failed: connection refused");
      },
    },
  ],
]);
const lookups = lookupsOf([]);
const envelope = (kind: string, object: unknown, operation = "CREATE") => ({
  apiVersion: "admission.k8s.io/v1",
  kind: "AdmissionReview",
  request: { uid: "u-1", kind: { group: "stash.appscode.com", version: "v1alpha1", kind }, operation, namespace: "demo", object },
});

test("malformed AdmissionReviews are answered 400 with the reason", async () => {
  for (const [body, reason] of [
    [null, "the request body is not a JSON object"],
    [{ kind: "Pod" }, 'kind must be AdmissionReview (got "Pod")'],
    [{ kind: "AdmissionReview", apiVersion: "admission.k8s.io/v1" }, "request is missing"],
    [{ kind: "AdmissionReview", apiVersion: "admission.k8s.io/v1", request: { kind: { kind: "X" }, operation: "CREATE" } }, "request.uid is missing"],
    [
      { kind: "AdmissionReview", apiVersion: "admission.k8s.io/v1", request: { uid: "x", kind: { kind: "X" }, operation: "PATCH" } },
      'request.operation must be one of CREATE, UPDATE, DELETE, CONNECT (got "PATCH")',
    ],
  ] as const) {
    assert.equal(malformedReason(body), reason);
    const out = await review(body, "validate", registry, lookups);
    assert.equal(out.status, 400);
    assert.equal((out.body as any).message, `malformed AdmissionReview: ${reason}`);
  }
});

test("a violation denies with the object, field and message", async () => {
  const repo = {
    apiVersion: "stash.appscode.com/v1alpha1",
    kind: "Repository",
    metadata: { name: "r" },
    spec: { wipeOut: true, backend: { b2: { bucket: "b" } } },
  };
  const out = await review(envelope("Repository", repo), "validate", registry, lookups);
  assert.deepEqual(out, {
    status: 200,
    body: {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      response: {
        uid: "u-1",
        allowed: false,
        status: { code: 403, reason: "Forbidden", message: "Repository demo/r: spec.wipeOut: wipe out operation is not supported for B2 backend" },
      },
    },
  });
});

test("a thrown error fails closed", async () => {
  const out = await review(envelope("Broken", { kind: "Broken", metadata: { name: "b" } }), "validate", registry, lookups);
  const resp = (out.body as any).response;
  assert.equal(resp.allowed, false);
  assert.equal(resp.status.code, 500);
  assert.equal(resp.status.message, "restash admission validate failed for Broken demo/b: lookup failed: connection refused");
});

test("a mutation is answered as a JSON Patch that reproduces it", async () => {
  const rs = {
    apiVersion: "stash.appscode.com/v1beta1",
    kind: "RestoreSession",
    metadata: { name: "rs" },
    spec: { rules: [{ paths: ["/d"] }], target: { ref: { kind: "Deployment", name: "a" } } },
  };
  const out = await review(envelope("RestoreSession", rs), "mutate", registry, lookups);
  const resp = (out.body as any).response;
  assert.equal(resp.allowed, true);
  assert.equal(resp.patchType, "JSONPatch");
  const ops = JSON.parse(Buffer.from(resp.patch, "base64").toString());
  assert.deepEqual(applyPatch(rs, ops).spec, { target: { ref: { kind: "Deployment", name: "a" }, rules: [{ paths: ["/d"] }] } });
  assert.equal((applyPatch(rs, ops).metadata as Record<string, unknown>).namespace, undefined, "the namespace is never patched in");
});

test("kinds without a handler and deletes are allowed untouched", async () => {
  const out = await review(envelope("Unknown", { kind: "Unknown", metadata: { name: "x" } }), "mutate", registry, lookups);
  assert.deepEqual((out.body as any).response, { uid: "u-1", allowed: true });
  const del = await review({ ...envelope("Repository", null, "DELETE") }, "validate", registry, lookups);
  assert.deepEqual((del.body as any).response, { uid: "u-1", allowed: true });
});
