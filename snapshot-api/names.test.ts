import { test } from "node:test";
import assert from "node:assert/strict";
import { snapshotName, parseSnapshotName, nameMatches } from "./names.ts";

const id = "4bba301e" + "a".repeat(56);

test("a snapshot is named after its repository and the first 8 hex of its id", () => {
  assert.equal(snapshotName("gcs-repo", id), "gcs-repo-4bba301e");
});

test("a long repository name is shortened so the snapshot name fits 63 characters", () => {
  const repo = "r".repeat(70);
  const name = snapshotName(repo, id);
  assert.equal(name.length, 63);
  assert.equal(name, "r".repeat(54) + "-4bba301e");
  assert.equal(nameMatches(name, repo, id), true);
});

test("names are parsed back into repository and short id, and bad names are refused", () => {
  assert.deepEqual(parseSnapshotName("gcs-repo-4bba301e"), { repository: "gcs-repo", shortId: "4bba301e" });
  assert.equal(parseSnapshotName("x-4bba301"), undefined);
  assert.equal(parseSnapshotName("4bba301e"), undefined);
  assert.equal(parseSnapshotName("repo-4BBA301E"), undefined);
  assert.equal(parseSnapshotName("repo-zzzzzzzz"), undefined);
});
