import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubeObject } from "../lib/kube/client.ts";
import type { Crd } from "./install.ts";
import { createValidator, formatError, knownKind, parseYaml, validateFile, validateObject, type LoadedObject } from "./validate.ts";

const loaded = (object: Record<string, unknown>, file = "mem.yaml"): LoadedObject => ({ file, line: 1, docIndex: 0, object: object as KubeObject });

test("every Stash kind is known at its served apiVersion; built-in kinds and other versions are not", () => {
  const stash: [string, string][] = [
    ["stash.appscode.com/v1alpha1", "Repository"],
    ["stash.appscode.com/v1beta1", "BackupConfiguration"],
    ["stash.appscode.com/v1beta1", "BackupSession"],
    ["stash.appscode.com/v1beta1", "RestoreSession"],
    ["stash.appscode.com/v1beta1", "BackupBlueprint"],
    ["stash.appscode.com/v1beta1", "Function"],
    ["stash.appscode.com/v1beta1", "Task"],
    ["stash.appscode.com/v1beta1", "BackupBatch"],
    ["stash.appscode.com/v1beta1", "RestoreBatch"],
    ["appcatalog.appscode.com/v1alpha1", "AppBinding"],
  ];
  for (const [v, k] of stash) assert.ok(knownKind(v, k), `${v} ${k}`);
  assert.equal(knownKind("apps/v1", "Deployment"), false);
  assert.equal(knownKind("stash.appscode.com/v1beta1", "Repository"), false);
});

test("objects of odd shapes get errors, never exceptions", () => {
  const odd: Record<string, unknown>[] = [
    { apiVersion: "stash.appscode.com/v1beta1", kind: "BackupConfiguration", metadata: { name: 5 }, spec: "nightly" },
    { apiVersion: "stash.appscode.com/v1beta1", kind: "BackupConfiguration", metadata: "x", spec: [] },
    { apiVersion: "stash.appscode.com/v1beta1", kind: "BackupConfiguration", metadata: { name: "a", labels: { n: 1 } }, spec: { retentionPolicy: null } },
    { apiVersion: 7, kind: null, metadata: {} },
  ];
  for (const o of odd) {
    const errors = validateObject(loaded(o), "");
    assert.ok(errors.length > 0, JSON.stringify(o));
    for (const e of errors) assert.ok(!formatError(e).includes("\n"), formatError(e));
  }
  assert.deepEqual(
    validateObject(
      loaded({
        apiVersion: "stash.appscode.com/v1beta1",
        kind: "BackupConfiguration",
        metadata: { name: "a", labels: { n: 1 } },
        spec: { retentionPolicy: { name: "k", prune: true } },
      }),
      "",
    ).map((e) => [e.field, e.message]),
    [["metadata.labels.n", "must be a string (got number); quote it in YAML"]],
  );
});

test("without the source text, the file is read to find lines, and only when there are errors", () => {
  const dir = mkdtempSync(join(tmpdir(), "restash-validate-"));
  try {
    const file = join(dir, "bc.yaml");
    const text =
      "apiVersion: stash.appscode.com/v1beta1\nkind: BackupConfiguration\nmetadata:\n  name: a\nspec:\n  paused: maybe\n  retentionPolicy: {name: k, prune: true}\n";
    writeFileSync(file, text);
    const [obj] = parseYaml(file, text).objects;
    assert.deepEqual(
      validateObject(obj).map((e) => [e.line, e.field]),
      [[6, "spec.paused"]],
    );
    // A missing file still gives the error, at the document's line.
    assert.deepEqual(
      validateObject({ ...obj, file: join(dir, "gone.yaml") }).map((e) => [e.line, e.field]),
      [[1, "spec.paused"]],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("validateFile reports parse and schema errors of every document in line order", () => {
  const text = "apiVersion: stash.appscode.com/v1beta1\nkind: Task\nmetadata:\n  name: t\nspec:\n  steps:\n    - params: []\n---\nkind: Function\n";
  assert.deepEqual(validateFile("multi.yaml", text).errors.map(formatError), [
    "multi.yaml:7:7: Task t: spec.steps[0].name: required field is missing",
    "multi.yaml:9: Function (no name): apiVersion: required field is missing (every document needs apiVersion and kind)",
  ]);
});

test("any CRD is handled generically: int-or-string, nullable, preserved fields and several served versions", () => {
  const crd = {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "widgets.example.dev" },
    spec: {
      group: "example.dev",
      scope: "Cluster",
      names: { kind: "Widget", plural: "widgets" },
      versions: ["v1", "v2"].map((name) => ({
        name,
        served: true,
        storage: name === "v2",
        schema: {
          openAPIV3Schema: {
            type: "object",
            properties: {
              apiVersion: { type: "string" },
              kind: { type: "string" },
              metadata: { type: "object" },
              spec: {
                type: "object",
                properties: {
                  port: { "x-kubernetes-int-or-string": true },
                  note: { type: "string", nullable: true },
                  extra: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                },
              },
            },
          },
        },
      })),
    },
  } as unknown as Crd;
  const v = createValidator([{ file: "example.yaml", crd }]);
  assert.ok(v.knownKind("example.dev/v1", "Widget") && v.knownKind("example.dev/v2", "Widget"));
  const ok = loaded({ apiVersion: "example.dev/v2", kind: "Widget", metadata: { name: "w" }, spec: { port: "http", note: null, extra: { any: [1] } } });
  assert.deepEqual(v.validateObject(ok, ""), []);
  const bad = loaded({ apiVersion: "example.dev/v1", kind: "Widget", metadata: { name: "w" }, spec: { port: true, colour: "red" } });
  assert.deepEqual(
    v.validateObject(bad, "").map((e) => [e.field, e.message]),
    [
      ["spec.colour", "unknown field (known fields: port, note, extra)"],
      ["spec.port", "must be an integer or a string (got true)"],
    ],
  );
});

test("a CRD whose schema does not compile is an error naming its file", () => {
  const crd = {
    kind: "CustomResourceDefinition",
    spec: {
      group: "example.dev",
      names: { kind: "Gadget", plural: "gadgets" },
      scope: "Namespaced",
      versions: [{ name: "v1", served: true, schema: { openAPIV3Schema: { type: "object", properties: { spec: { type: "objekt" } } } } }],
    },
  } as unknown as Crd;
  assert.throws(
    () => createValidator([{ file: "schema/crds/example.dev_gadgets.yaml", crd }]),
    /schema\/crds\/example\.dev_gadgets\.yaml: the openAPIV3Schema of v1 does not compile/,
  );
});
