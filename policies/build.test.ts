import { test } from "node:test";
import assert from "node:assert/strict";
import { buildAndCheck } from "./build.ts";
import { formatSourceError } from "./model.ts";
import { checkCron, retentionKeepsNothing } from "./check.ts";
import { findInlineSecrets } from "./secrets.ts";

const errorsOf = (files: Record<string, string>, opts = {}) =>
  buildAndCheck(
    Object.entries(files).map(([path, content]) => ({ path, content })),
    { defaultNamespace: "ns", ...opts },
  ).errors.map(formatSourceError);

const repo = (name: string, extra = "") => `apiVersion: stash.appscode.com/v1alpha1
kind: Repository
metadata:
  name: ${name}
spec:
  backend:
    storageSecretName: creds
    s3: { endpoint: "http://s3", bucket: b, prefix: ${name} }
${extra}`;
const bc = (name: string, repoRef: string, extra = "") => `apiVersion: stash.appscode.com/v1beta1
kind: BackupConfiguration
metadata:
  name: ${name}
spec:
  repository:
    name: ${repoRef}
  schedule: "0 1 * * *"
  target:
    ref: { apiVersion: apps/v1, kind: Deployment, name: ${name} }
    paths: [/data]
  retentionPolicy: { name: keep, keepLast: 5, prune: true }
${extra}`;

test("Stash manifests as users write them pass unchanged, with the source namespace filled in", () => {
  const r = buildAndCheck([{ path: "a.yaml", content: repo("r") + "---\n" + bc("web", "r") }], { defaultNamespace: "ns" });
  assert.deepEqual(r.errors, []);
  assert.deepEqual(
    r.objects.map((o) => [o.object.kind, o.object.metadata.namespace, o.object.metadata.name, o.line]),
    [
      ["Repository", "ns", "r", 1],
      ["BackupConfiguration", "ns", "web", 10],
    ],
  );
});

test("invalid YAML, unknown kinds and duplicates are named by file and line", () => {
  const errs = errorsOf({
    "bad.yaml": "kind: [unclosed\n",
    "x.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: { name: w }\n",
    "r1.yaml": repo("r"),
    "r2.yaml": repo("r"),
  });
  assert.equal(errs.length, 3, errs.join("\n"));
  assert.match(errs[0], /^bad\.yaml:\d+/);
  assert.match(errs[1], /^r2\.yaml:4: Repository ns\/r field metadata\.name: duplicate: Repository ns\/r is also defined in r1\.yaml:1$/);
  assert.match(errs[2], /^x\.yaml:2: .*field kind: unknown or unsupported kind example\.com\/v1\/Widget/);
});

test("a missing Repository or Task, a bad cron, a retention keeping nothing and a forbidden cross-namespace use are reported", () => {
  const errs = errorsOf({
    "a.yaml": bc("web", "nope"),
    "b.yaml": bc("job", "r", "  task: { name: mysql-backup-8.0 }\n").replace('"0 1 * * *"', '"0 25 * * *"').replace("keepLast: 5", "keepLast: 0"),
    "r.yaml": repo("r"),
    "other.yaml": bc("cross", "r")
      .replace("    name: r\n", "    name: r\n    namespace: ns\n")
      .replace("  name: cross\n", "  name: cross\n  namespace: elsewhere\n"),
  });
  assert.deepEqual(errs, [
    "a.yaml:7: BackupConfiguration ns/web field spec.repository.name: Repository ns/nope is not defined in the policies nor present in the cluster",
    'b.yaml:8: BackupConfiguration ns/job field spec.schedule: "0 25 * * *" is not a valid cron schedule: Constraint error, got value 25 expected range 0-23',
    "b.yaml:12: BackupConfiguration ns/job field spec.retentionPolicy: retention keeps nothing: set at least one keep* value, or every snapshot would be forgotten",
    'b.yaml:13: BackupConfiguration ns/job field spec.task.name: Task "mysql-backup-8.0" is not defined in the policies nor known to the cluster',
    "other.yaml:9: BackupConfiguration elsewhere/cross field spec.repository.namespace: Repository ns/r allows only its own namespace (usagePolicy.allowedNamespaces.from: Same); elsewhere may not use it",
  ]);
});

test("a Secret document or an inline credential is refused, naming the field and never the value", () => {
  const errs = errorsOf({
    "s.yaml": "apiVersion: v1\nkind: Secret\nmetadata: { name: creds }\nstringData: { RESTIC_PASSWORD: hunter2hunter2 }\n",
    "r.yaml": repo("r").replace('endpoint: "http://s3"', 'endpoint: "http://admin:topsecret@s3"'),
  });
  assert.equal(errs.length, 2, errs.join("\n"));
  assert.match(errs[0], /^r\.yaml:8: Repository r field spec\.backend\.s3\.endpoint: inline credential refused: a URL with a password$/);
  assert.match(errs[1], /^s\.yaml:2: Secret creds field kind: inline credential refused: a Secret document/);
  assert.ok(!errs.join("").includes("topsecret") && !errs.join("").includes("hunter2"));
  assert.deepEqual(
    findInlineSecrets({
      apiVersion: "x/v1",
      kind: "K",
      metadata: { name: "n" },
      spec: { storageSecretName: "creds", secretKeyRef: "k", accessKey: "AKIAABCDEFGHIJKLMNOP" },
    }),
    [{ field: "spec.accessKey", what: "a credential-looking key with a literal value" }],
  );
});

test("status in a policy file is refused: the cluster writes status", () => {
  assert.deepEqual(errorsOf({ "r.yaml": repo("r", "status:\n  integrity: true\n") }), [
    "r.yaml:9: Repository r field status: status is written by the cluster, not by policy files; remove it",
  ]);
});

test("cron and retention checks", () => {
  assert.equal(checkCron("*/5 * * * *"), undefined);
  assert.equal(checkCron("@daily"), undefined);
  assert.match(checkCron("0 0 * * * *")!, /not a 5-field cron schedule/);
  assert.equal(retentionKeepsNothing({ keepLast: 0, prune: true }), true);
  assert.equal(retentionKeepsNothing({ keepTags: ["keep"] }), false);
});
