import { test } from "node:test";
import assert from "node:assert/strict";
import type { Registry } from "prom-client";
import {
  backupHostMetrics,
  backupSessionMetrics,
  jobName,
  lastSuccessMetric,
  mergeRegistries,
  pushMetrics,
  repositoryMetrics,
  restoreHostMetrics,
  restoreSessionMetrics,
  type MetricsCommon,
} from "./metrics.ts";
import { freshName, sharedPushgateway } from "../testing/services.ts";

const common: MetricsCommon = { invoker: { kind: "BackupConfiguration", name: "deployment-backup", namespace: "demo" }, repository: "gcs-repo" };
const target = { kind: "Deployment", group: "apps", name: "stash-demo" };

/** name{labels} value lines, sorted, without HELP/TYPE. */
async function samples(reg: Registry): Promise<string[]> {
  return (await reg.metrics())
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .sort();
}

test("the push job is <lower-case invoker kind>-<namespace>-<name>", () => {
  assert.equal(jobName(common.invoker), "backupconfiguration-demo-deployment-backup");
  assert.equal(jobName({ kind: "RestoreSession", namespace: "demo", name: "ss-restore" }), "restoresession-demo-ss-restore");
});

test("a successful host backup emits every host metric under the new and the legacy name", async () => {
  const reg = backupHostMetrics(common, target, {
    hostname: "host-0",
    succeeded: true,
    durationSeconds: 12,
    snapshots: [
      { totalBytes: 1000, uploadedBytes: 100, processingSeconds: 3, fileStats: { totalFiles: 10, newFiles: 2, modifiedFiles: 3, unmodifiedFiles: 5 } },
      { totalBytes: 24, uploadedBytes: 4, processingSeconds: 1, fileStats: { totalFiles: 1, newFiles: 1, modifiedFiles: 0, unmodifiedFiles: 0 } },
    ],
  });
  const l =
    'driver="Restic",group="apps",hostname="host-0",invoker_kind="BackupConfiguration",invoker_name="deployment-backup",kind="Deployment",name="stash-demo",namespace="demo",repository="gcs-repo"';
  const expected: [string, string, number][] = [
    ["backupsession_host_backup_success", "stash_backup_host_backup_success", 1],
    ["backupsession_host_backup_duration_seconds", "stash_backup_host_backup_duration_seconds", 12],
    ["backupsession_host_data_size_bytes", "stash_backup_host_data_size_bytes", 1024],
    ["backupsession_host_data_uploaded_bytes", "stash_backup_host_data_uploaded_bytes", 104],
    ["backupsession_host_data_processing_time_seconds", "stash_backup_host_data_processing_time_seconds", 4],
    ["backupsession_host_files_total", "stash_backup_host_files_total", 11],
    ["backupsession_host_files_new", "stash_backup_host_files_new", 3],
    ["backupsession_host_files_modified", "stash_backup_host_files_modified", 3],
    ["backupsession_host_files_unmodified", "stash_backup_host_files_unmodified", 5],
  ];
  assert.deepEqual(await samples(reg), expected.flatMap(([n, legacy, v]) => [`stash_appscode_com_${n}{${l}} ${v}`, `${legacy}{${l}} ${v}`]).sort());
});

test("a failed host backup emits only host_backup_success 0", async () => {
  const reg = backupHostMetrics(common, target, { hostname: "host-0", succeeded: false, durationSeconds: 3, snapshots: [] });
  const l =
    'driver="Restic",group="apps",hostname="host-0",invoker_kind="BackupConfiguration",invoker_name="deployment-backup",kind="Deployment",name="stash-demo",namespace="demo",repository="gcs-repo"';
  assert.deepEqual(await samples(reg), [`stash_appscode_com_backupsession_host_backup_success{${l}} 0`, `stash_backup_host_backup_success{${l}} 0`]);
});

test("session, target, repository and restore metrics carry Stash's labels", async () => {
  const at = new Date("2026-01-02T03:04:05Z");
  const s = await samples(backupSessionMetrics(common, { succeeded: true, durationSeconds: 30, at, targets: [{ target, succeeded: true, totalHosts: 1 }] }));
  const cl = 'driver="Restic",invoker_kind="BackupConfiguration",invoker_name="deployment-backup",namespace="demo",repository="gcs-repo"';
  const tl =
    'driver="Restic",group="apps",invoker_kind="BackupConfiguration",invoker_name="deployment-backup",kind="Deployment",name="stash-demo",namespace="demo",repository="gcs-repo"';
  assert.deepEqual(s, [
    `stash_appscode_com_backupsession_duration_seconds{${cl}} 30`,
    `stash_appscode_com_backupsession_last_success_time_seconds{${cl}} 1767323045`,
    `stash_appscode_com_backupsession_success{${cl}} 1`,
    `stash_appscode_com_backupsession_target_count_total{${cl}} 1`,
    `stash_appscode_com_backupsession_target_host_count_total{${tl}} 1`,
    `stash_appscode_com_backupsession_target_last_success_time_seconds{${tl}} 1767323045`,
    `stash_appscode_com_backupsession_target_success{${tl}} 1`,
    `stash_backup_last_success_time_seconds{${cl}} 1767323045`,
    `stash_backup_session_duration_seconds{${cl}} 30`,
    `stash_backup_session_success{${cl}} 1`,
    `stash_backup_target_count_total{${cl}} 1`,
    `stash_backup_target_host_count_total{${tl}} 1`,
    `stash_backup_target_last_success_time_seconds{${tl}} 1767323045`,
    `stash_backup_target_success{${tl}} 1`,
  ]);
  const failed = await samples(
    backupSessionMetrics(common, { succeeded: false, durationSeconds: 30, at, targets: [{ target, succeeded: false, totalHosts: 1 }] }),
  );
  assert.deepEqual(failed, [
    `stash_appscode_com_backupsession_success{${cl}} 0`,
    `stash_appscode_com_backupsession_target_success{${tl}} 0`,
    `stash_backup_session_success{${cl}} 0`,
    `stash_backup_target_success{${tl}} 0`,
  ]);

  const r = await samples(
    repositoryMetrics(
      common,
      { name: "gcs-repo", namespace: "backups", backend: "gcs", bucket: "b", prefix: "demo" },
      { integrity: true, sizeBytes: 2048, snapshotCount: 5, snapshotsRemovedOnLastCleanup: 2 },
    ),
  );
  const rl =
    'backend="gcs",bucket="b",driver="Restic",invoker_kind="BackupConfiguration",invoker_name="deployment-backup",name="gcs-repo",namespace="backups",prefix="demo",repository="gcs-repo"';
  assert.deepEqual(r, [
    `stash_appscode_com_repository_integrity{${rl}} 1`,
    `stash_appscode_com_repository_size_bytes{${rl}} 2048`,
    `stash_appscode_com_repository_snapshot_cleaned{${rl}} 2`,
    `stash_appscode_com_repository_snapshot_count{${rl}} 5`,
    `stash_repository_integrity{${rl}} 1`,
    `stash_repository_size_bytes{${rl}} 2048`,
    `stash_repository_snapshot_cleaned{${rl}} 2`,
    `stash_repository_snapshot_count{${rl}} 5`,
  ]);

  const rc: MetricsCommon = { invoker: { kind: "RestoreSession", name: "restore", namespace: "demo" }, repository: "gcs-repo" };
  const restoreSamples = await samples(
    mergeRegistries(
      restoreSessionMetrics(rc, { succeeded: true, durationSeconds: 9, targets: [{ target, succeeded: true, totalHosts: 1 }] }),
      restoreHostMetrics(rc, target, { hostname: "host-0", succeeded: true, durationSeconds: 8 }),
    ),
  );
  assert.equal(restoreSamples.length, 14);
  assert.ok(restoreSamples.some((x) => x.startsWith("stash_restore_host_restore_duration_seconds{") && x.endsWith(" 8")));
  assert.ok(restoreSamples.some((x) => x.startsWith("stash_appscode_com_restoresession_success{") && x.endsWith(" 1")));
});

test("metrics pushed to the pushgateway are read back from its /metrics under Stash's job", async () => {
  const gw = await sharedPushgateway();
  const name = freshName("bc");
  const c: MetricsCommon = { invoker: { kind: "BackupConfiguration", name, namespace: "demo" }, repository: "minio-repo" };
  const job = jobName(c.invoker);
  const at = new Date("2026-03-01T00:00:00Z");
  await pushMetrics(
    gw.url,
    job,
    mergeRegistries(
      backupHostMetrics(c, target, {
        hostname: "host-0",
        succeeded: true,
        durationSeconds: 5,
        snapshots: [
          { totalBytes: 4096, uploadedBytes: 512, processingSeconds: 2, fileStats: { totalFiles: 3, newFiles: 3, modifiedFiles: 0, unmodifiedFiles: 0 } },
        ],
      }),
      lastSuccessMetric({ name, namespace: "demo" }, at),
    ),
  );
  // A later push of other metrics to the same job keeps the first ones (POST, not PUT).
  await pushMetrics(
    gw.url,
    job,
    repositoryMetrics(
      c,
      { name: "minio-repo", namespace: "demo", backend: "s3", bucket: "bk" },
      { integrity: true, sizeBytes: 9000, snapshotCount: 2, snapshotsRemovedOnLastCleanup: 0 },
    ),
  );
  const text = await gw.metrics();
  const mine = text.split("\n").filter((l) => l.includes(`job="${job}"`));
  const find = (metric: string) => mine.find((l) => l.startsWith(`${metric}{`));
  assert.match(find("stash_backup_host_data_size_bytes") ?? "", /hostname="host-0".* 4096$/);
  assert.match(find("stash_appscode_com_backupsession_host_data_uploaded_bytes") ?? "", / 512$/);
  assert.match(find("restash_backupconfiguration_last_success_timestamp_seconds") ?? "", new RegExp(`backupconfiguration="${name}".* 1.7723232e\\+09$`));
  assert.match(find("stash_repository_size_bytes") ?? "", /backend="s3".*bucket="bk".* 9000$/);
  assert.match(find("stash_appscode_com_repository_integrity") ?? "", / 1$/);
});
