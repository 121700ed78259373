import { test } from "node:test";
import assert from "node:assert/strict";
import { fieldLocator, fileFieldLocator, splitPath } from "./field-lines.ts";
import { parseYaml } from "./parse-yaml.ts";

const FILE = `# leading comment
---
apiVersion: stash.appscode.com/v1beta1
kind: BackupConfiguration
metadata:
  name: a
spec:
  target:
    paths:
      - /data
      - /logs
---
# only a comment
---
apiVersion: stash.appscode.com/v1alpha1
kind: Repository
metadata:
  name: b
`;

test("a field's line and column, in the document parseYaml numbered", () => {
  const [a, b] = parseYaml("f.yaml", FILE).objects;
  assert.deepEqual(fieldLocator(FILE, a.docIndex)(["spec", "target", "paths", 1]), { line: 11, column: 9 });
  assert.deepEqual(fieldLocator(FILE, b.docIndex)(["metadata", "name"]), { line: 18, column: 3 });
  assert.equal(fileFieldLocator(FILE).line(b.docIndex, "metadata.name"), 18);
});

test("a missing field points at its nearest existing parent; a missing document at nothing (line 1 per file)", () => {
  assert.deepEqual(fieldLocator(FILE, 0)(["spec", "target", "exclude"]), { line: 8, column: 3 });
  assert.equal(fieldLocator(FILE, 9)(["spec"]), undefined);
  const file = fileFieldLocator(FILE);
  assert.equal(file.line(0, "spec.target.paths[5]"), 9);
  assert.equal(file.line(9, "spec"), 1);
});

test("CRLF line ends and a byte-order mark do not move the lines", () => {
  const crlf = "\uFEFF" + FILE.replace(/\n/g, "\r\n");
  assert.equal(fileFieldLocator(crlf).line(0, ["spec", "target", "paths", 0]), 10);
  assert.deepEqual(fieldLocator(crlf, 0)(["kind"]), { line: 4, column: 1 });
});

test("a dotted field path splits into keys and list indexes", () => {
  assert.deepEqual(splitPath("spec.target.paths[0]"), ["spec", "target", "paths", 0]);
  assert.deepEqual(splitPath(".spec.members[1][2].name"), ["spec", "members", 1, 2, "name"]);
});
