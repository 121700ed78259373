import { test } from "node:test";
import assert from "node:assert/strict";
import { openApiToAjv, shareSubschemas } from "./openapi-to-ajv.ts";

test("a structural object rejects unknown fields; one that preserves unknown fields does not", () => {
  assert.deepEqual(
    openApiToAjv({
      type: "object",
      description: "dropped",
      required: ["a"],
      properties: {
        a: { type: "string", default: "x", enum: ["x", "y"] },
        pod: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
        local: { type: "object", "x-kubernetes-preserve-unknown-fields": true, required: ["mountPath"], properties: { mountPath: { type: "string" } } },
      },
    }),
    {
      type: "object",
      required: ["a"],
      properties: {
        a: { type: "string", enum: ["x", "y"] },
        pod: { type: "object" },
        local: { type: "object", required: ["mountPath"], properties: { mountPath: { type: "string" } } },
      },
      additionalProperties: false,
    },
  );
});

test("int-or-string becomes integer-or-string, and kubernetes list markers are dropped", () => {
  assert.deepEqual(openApiToAjv({ "x-kubernetes-int-or-string": true }), { anyOf: [{ type: "integer" }, { type: "string" }] });
  assert.deepEqual(
    openApiToAjv({
      type: "array",
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["type"],
      items: { type: "object", properties: { type: { type: "string" } } },
    }),
    { type: "array", items: { type: "object", properties: { type: { type: "string" } }, additionalProperties: false } },
  );
});

test("formats the API server checks are kept, unknown ones dropped; nullable admits null", () => {
  assert.deepEqual(openApiToAjv({ type: "integer", format: "int32" }), { type: "integer", format: "int32" });
  assert.deepEqual(openApiToAjv({ type: "string", format: "quantity-ish" }), { type: "string" });
  assert.deepEqual(openApiToAjv({ type: "string", nullable: true, enum: ["a"] }), { type: ["string", "null"], enum: ["a", null] });
});

test("an embedded resource allows apiVersion, kind and metadata beside its declared fields", () => {
  assert.deepEqual(openApiToAjv({ type: "object", "x-kubernetes-embedded-resource": true, properties: { spec: { type: "object" } } }), {
    type: "object",
    properties: { apiVersion: { type: "string" }, kind: { type: "string" }, metadata: { type: "object" }, spec: { type: "object" } },
    additionalProperties: false,
  });
});

test("object schemas that occur more than once are hoisted into shared schemas referenced by $ref", () => {
  const hook = {
    type: "object",
    properties: { exec: { type: "object", properties: { command: { type: "array", items: { type: "string" } } } } },
    additionalProperties: false,
  };
  const root = (extra: object) => ({ type: "object", properties: { pre: hook, post: hook, ...extra }, additionalProperties: false });
  const { roots, shared } = shareSubschemas([root({}), root({ x: { type: "string" } })], 10);
  assert.deepEqual(shared, {
    "restash-shared-1": { type: "object", properties: { exec: { $ref: "restash-shared-2" } }, additionalProperties: false },
    "restash-shared-2": { type: "object", properties: { command: { type: "array", items: { type: "string" } } } },
  });
  assert.deepEqual(roots, [
    { type: "object", properties: { pre: { $ref: "restash-shared-1" }, post: { $ref: "restash-shared-1" } }, additionalProperties: false },
    {
      type: "object",
      properties: { pre: { $ref: "restash-shared-1" }, post: { $ref: "restash-shared-1" }, x: { type: "string" } },
      additionalProperties: false,
    },
  ]);
});
