import { test } from "node:test";
import assert from "node:assert/strict";
import { formatBytes, formatSeconds } from "./format.ts";
import { snapshotStatsOf, type BackupSummary } from "./backup.ts";

test("sizes and durations are formatted the way Stash shows them", () => {
  assert.deepEqual([0, 1023, 1024, 1025, 2628, 5 * 2 ** 20, 3.5 * 2 ** 30, 2 ** 41].map(formatBytes), [
    "0 B",
    "1023 B",
    "1024 B",
    "1.001 KiB",
    "2.566 KiB",
    "5.000 MiB",
    "3.500 GiB",
    "2.000 TiB",
  ]);
  assert.deepEqual([0, 0.7, 59.9, 61, 3599, 3600, 3661.2, 36000].map(formatSeconds), [
    "0:00",
    "0:00",
    "0:59",
    "1:01",
    "59:59",
    "1:00:00",
    "1:01:01",
    "10:00:00",
  ]);
});

test("a restic summary becomes Stash's snapshot stats", () => {
  const summary: BackupSummary = {
    message_type: "summary",
    files_new: 2,
    files_changed: 1,
    files_unmodified: 7,
    dirs_new: 1,
    dirs_changed: 0,
    dirs_unmodified: 0,
    data_blobs: 3,
    tree_blobs: 2,
    data_added: 5000,
    total_files_processed: 10,
    total_bytes_processed: 3 * 2 ** 20,
    total_duration: 75.4,
    snapshot_id: "39b684cf79adbfd4591888e8aa95de58306ba84f5ce87fcc64c8e3bf7a6a9e4c",
  };
  assert.deepEqual(snapshotStatsOf(summary, "/source/data"), {
    name: "39b684cf",
    path: "/source/data",
    totalSize: "3.000 MiB",
    uploaded: "4.883 KiB",
    processingTime: "1:15",
    fileStats: { totalFiles: 10, newFiles: 2, modifiedFiles: 1, unmodifiedFiles: 7 },
  });
});
