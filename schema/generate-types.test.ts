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

test("shapes the kinds share are generated once under one name and used by every kind that has them", () => {
  const out = generateTypes(crdFiles());
  for (const name of ["BackupTarget", "RetentionPolicy", "RuntimeSettings", "Condition", "BackupTargetStatus", "PodRuntimeSettings"]) {
    assert.equal(out.match(new RegExp(`^export type ${name} = `, "gm"))?.length, 1, name);
  }
  const section = (kind: string) => out.slice(out.indexOf(`export type ${kind} = `), out.indexOf("\nexport type ", out.indexOf(`export type ${kind} = `) + 1));
  assert.match(section("BackupConfigurationSpec"), /target\?: BackupTarget;/);
  assert.match(section("BackupBatchMember"), /target\?: BackupTarget;/);
  assert.match(section("BackupBlueprintSpec"), /retentionPolicy\??: RetentionPolicy;/);
  assert.match(section("BackupSessionStatus"), /targets\?: BackupTargetStatus\[\];/);
  assert.match(section("RuntimeSettings"), /pod\?: PodRuntimeSettings;/);
});
