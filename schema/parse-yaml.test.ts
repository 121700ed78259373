import { test } from "node:test";
import assert from "node:assert/strict";
import { firstInvalidUtf8, parseYaml, splitDocuments } from "./parse-yaml.ts";
import { formatError, validateObject } from "./validate.ts";

const BC = (name: string) => `apiVersion: stash.appscode.com/v1beta1
kind: BackupConfiguration
metadata:
  name: ${name}
  namespace: demo
spec:
  retentionPolicy: {name: keep, prune: true}
`;

const oneLine = (s: string) => assert.ok(!s.includes("\n") && !/\bat .+:\d+:\d+/.test(s), `not a one-line message: ${s}`);

test("a multi-document file yields each object with the line it starts on, skipping empty documents", () => {
  const text = `# leading comment\n---\n${BC("a")}---\n# only a comment\n---\n\n${BC("b")}...\n---\n${BC("c")}`;
  const { objects, errors } = parseYaml("f.yaml", text);
  assert.deepEqual(errors, []);
  assert.deepEqual(
    objects.map((o) => [o.object.metadata.name, o.line, o.docIndex]),
    [
      ["a", 3, 0],
      ["b", 14, 2],
      ["c", 23, 3],
    ],
  );
});

test("splitDocuments keeps file line numbers and counts documents opened by ---", () => {
  assert.deepEqual(splitDocuments("a: 1\n---\nb: 2\n--- {c: 3}\n"), [
    { text: "a: 1", startLine: 0, index: 0 },
    { text: "   \nb: 2", startLine: 1, index: 1 },
    { text: "    {c: 3}\n", startLine: 3, index: 2 },
  ]);
  assert.deepEqual(splitDocuments("# only\n"), []);
  assert.deepEqual(splitDocuments("%YAML 1.2\n---\na: 1\n"), [{ text: "   \na: 1\n", startLine: 1, index: 0 }]);
});

test("malformed YAML is an error naming the file and the line in that document", () => {
  const { objects, errors } = parseYaml("bad.yaml", `${BC("a")}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\ndata: {}\n`);
  assert.equal(objects.length, 1);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].file, "bad.yaml");
  assert.ok(errors[0].line >= 12 && errors[0].line <= 14, formatError(errors[0]));
  assert.match(errors[0].message, /^invalid YAML: /);
  oneLine(formatError(errors[0]));
});

test("a TAB in indentation is an error with its line, as strict YAML parsers (and the API server) reject it", () => {
  const { errors } = parseYaml("tab.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: x\n");
  assert.deepEqual(errors, [{ file: "tab.yaml", line: 4, column: 1, message: "invalid YAML: tab characters must not be used in indentation" }]);
});

test("a duplicated key is an error with its line", () => {
  const { errors } = parseYaml("dup.yaml", "apiVersion: v1\nkind: ConfigMap\nkind: Secret\n");
  assert.equal(errors.length, 1);
  assert.equal(errors[0].line, 3);
  assert.match(errors[0].message, /duplicated mapping key/);
});

test("a document without kind or apiVersion is an error naming the field and the document's line", () => {
  const { objects, errors } = parseYaml("nokind.yaml", `${BC("a")}---\n# what is this?\napiVersion: v1\nmetadata:\n  name: lost\n`);
  assert.equal(objects.length, 1);
  assert.deepEqual(errors, [
    { file: "nokind.yaml", line: 10, object: "lost", field: "kind", message: "required field is missing (every document needs apiVersion and kind)" },
  ]);
  assert.equal(formatError(errors[0]), "nokind.yaml:10: lost: kind: required field is missing (every document needs apiVersion and kind)");
});

test("a document that is a list or a scalar is an error, not an object", () => {
  const { objects, errors } = parseYaml("list.yaml", "- a\n- b\n---\njust text\n");
  assert.equal(objects.length, 0);
  assert.deepEqual(
    errors.map((e) => [e.line, e.message]),
    [
      [1, "a Kubernetes object must be a YAML mapping, not a list"],
      [4, "a Kubernetes object must be a YAML mapping, not a string"],
    ],
  );
});

test("an unknown kind is an error naming apiVersion and kind, on the line of kind", () => {
  const text = "apiVersion: stash.appscode.com/v1beta1\nkind: BackupPlan\nmetadata:\n  name: x\n";
  const { objects } = parseYaml("unknown.yaml", text);
  const errors = validateObject(objects[0], text);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].line, 2);
  assert.equal(errors[0].field, "kind");
  assert.match(errors[0].message, /unknown kind: no CRD in .* serves apiVersion "stash.appscode.com\/v1beta1" kind "BackupPlan"/);
});

test("a known kind at an apiVersion that is not served says which apiVersion to use", () => {
  const text = "apiVersion: stash.appscode.com/v1alpha1\nkind: BackupConfiguration\nmetadata:\n  name: x\nspec: {}\n";
  const { objects } = parseYaml("old.yaml", text);
  const errors = validateObject(objects[0], text);
  assert.deepEqual(
    errors.map((e) => [e.line, e.field, e.message]),
    [[1, "apiVersion", 'apiVersion "stash.appscode.com/v1alpha1" is not served for kind BackupConfiguration; use stash.appscode.com/v1beta1']],
  );
});

test("a file that is not UTF-8 is one error naming the line of the first bad byte", () => {
  const buf = Buffer.concat([Buffer.from("apiVersion: v1\nkind: ConfigMap\ndata:\n  a: caf"), Buffer.from([0xe9]), Buffer.from("\n")]);
  const { objects, errors } = parseYaml("latin1.yaml", buf);
  assert.equal(objects.length, 0);
  assert.deepEqual(errors, [{ file: "latin1.yaml", line: 4, column: 9, message: "not valid UTF-8 (byte 0xe9); YAML files must be UTF-8 encoded" }]);
  assert.equal(formatError(errors[0]), "latin1.yaml:4:9: not valid UTF-8 (byte 0xe9); YAML files must be UTF-8 encoded");
});

test("firstInvalidUtf8 accepts valid multi-byte text and finds overlong, surrogate and truncated sequences", () => {
  assert.equal(firstInvalidUtf8(Buffer.from("héllo ✓ 𝄞")), -1);
  assert.equal(firstInvalidUtf8(Buffer.from([0x61, 0xc0, 0x80])), 1); // overlong "/"
  assert.equal(firstInvalidUtf8(Buffer.from([0xed, 0xa0, 0x80])), 0); // UTF-16 surrogate
  assert.equal(firstInvalidUtf8(Buffer.from([0x61, 0x62, 0xe2, 0x9c])), 2); // truncated
});

test("a BOM and CRLF line endings are accepted and lines still count from 1", () => {
  const text = "\uFEFF" + BC("crlf").replace(/\n/g, "\r\n");
  const { objects, errors } = parseYaml("crlf.yaml", Buffer.from(text, "utf8"));
  assert.deepEqual(errors, []);
  assert.equal(objects[0].line, 1);
  assert.equal(objects[0].object.metadata.name, "crlf");
});

test("timestamps and yes/no stay strings, as the API server reads them", () => {
  const { objects } = parseYaml("t.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: t\ndata:\n  when: 2024-01-31T12:00:00Z\n  flag: yes\n");
  assert.deepEqual(objects[0].object.data, { when: "2024-01-31T12:00:00Z", flag: "yes" });
});
