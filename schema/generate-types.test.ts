import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { crdFiles } from "./install.ts";
import { generateTypes, typeOf, TYPES_FILE } from "./generate-types.ts";

test("schema/types.generated.ts matches the CRDs (run `npm run schema:types` after changing a CRD)", () => {
  const expected = generateTypes(crdFiles());
  const actual = readFileSync(TYPES_FILE, "utf8");
  assert.ok(actual === expected, "schema/types.generated.ts is stale: run `npm run schema:types`");
});

test("schema nodes map to TypeScript: enums to unions, int-or-string to number | string, required to non-optional", () => {
  assert.equal(
    typeOf({
      type: "object",
      required: ["prune"],
      properties: {
        prune: { type: "boolean" },
        driver: { type: "string", enum: ["Restic", "VolumeSnapshotter"], description: "How." },
        port: { "x-kubernetes-int-or-string": true, anyOf: [{ type: "integer" }, { type: "string" }] },
        paths: { type: "array", items: { type: "string" } },
        pod: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
        "app.kubernetes.io/name": { type: "string" },
      },
    }),
    `{
  prune: boolean;
  /** How. */
  driver?: "Restic" | "VolumeSnapshotter";
  port?: number | string;
  paths?: string[];
  pod?: {
    [key: string]: unknown;
  };
  "app.kubernetes.io/name"?: string;
}`,
  );
});
