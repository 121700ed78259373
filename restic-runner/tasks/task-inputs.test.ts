import { test } from "node:test";
import assert from "node:assert/strict";
import { splitImage, taskInputs } from "../../stash/tasks/task-inputs.ts";
import { rewritePath, localCommand } from "../../testing/local-pod.ts";
import { parseStepArgs } from "./step-args.ts";

test("a BackupConfiguration, its session and Repository give Stash's operator variables", () => {
  const inputs = taskInputs({
    invoker: {
      kind: "BackupConfiguration",
      metadata: { name: "pvc-backup", namespace: "demo" },
      spec: {
        target: {
          ref: { kind: "PersistentVolumeClaim", name: "data" },
          volumeMounts: [{ name: "v", mountPath: "/data" }],
          exclude: ["*.tmp"],
          args: ["--one-file-system"],
        },
        retentionPolicy: { name: "k", keepLast: 5, keepDaily: 7, keepTags: ["a", "b"], prune: true },
        tempDir: { disableCaching: true },
      },
    },
    backupSession: "pvc-backup-1700000000",
    repository: {
      metadata: { name: "repo", namespace: "demo" },
      spec: { backend: { s3: { endpoint: "http://minio:9000", bucket: "bk", prefix: "p", region: "us-east-1" }, storageSecretName: "s3-secret" } },
    },
    image: "ghcr.io/restash/restash:0.1.0",
    pushgatewayUrl: "http://pgw:9091",
  });
  assert.deepEqual(inputs, {
    BACKUP_SESSION: "pvc-backup-1700000000",
    DRIVER_ARGS: "--one-file-system",
    ENABLE_CACHE: "false",
    EXCLUDE_PATTERNS: "*.tmp",
    HOSTNAME: "host-0",
    INTERIM_DATA_DIR: "/stash-tmp/stash-interim-volume/data",
    INVOKER_KIND: "BackupConfiguration",
    INVOKER_NAME: "pvc-backup",
    MAX_CONNECTIONS: "0",
    NAMESPACE: "demo",
    PROMETHEUS_JOB_NAME: "pvc-backup",
    PROMETHEUS_PUSHGATEWAY_URL: "http://pgw:9091",
    REPOSITORY_BUCKET: "bk",
    REPOSITORY_ENDPOINT: "http://minio:9000",
    REPOSITORY_NAME: "repo",
    REPOSITORY_NAMESPACE: "demo",
    REPOSITORY_PREFIX: "p",
    REPOSITORY_PROVIDER: "s3",
    REPOSITORY_REGION: "us-east-1",
    REPOSITORY_SECRET_NAME: "s3-secret",
    REPOSITORY_SECRET_NAMESPACE: "demo",
    RETENTION_DRY_RUN: "false",
    RETENTION_KEEP_DAILY: "7",
    RETENTION_KEEP_LAST: "5",
    RETENTION_KEEP_TAGS: "a,b",
    RETENTION_PRUNE: "true",
    STASH_DOCKER_IMAGE: "restash",
    STASH_DOCKER_REGISTRY: "ghcr.io/restash",
    STASH_IMAGE_TAG: "0.1.0",
    TARGET_API_VERSION: "v1",
    TARGET_KIND: "PersistentVolumeClaim",
    TARGET_MOUNT_PATH: "/data",
    TARGET_NAME: "data",
    TARGET_NAMESPACE: "demo",
    TARGET_PATHS: "/data",
  });
});

test("a RestoreSession gives its own name, the rule's source host, paths and snapshots", () => {
  const inputs = taskInputs({
    invoker: {
      kind: "RestoreSession",
      metadata: { name: "rs", namespace: "demo" },
      spec: { target: { ref: { kind: "AppBinding", name: "db" }, rules: [{ sourceHost: "old-host", snapshots: ["abc12345"] }] } },
    },
  });
  assert.equal(inputs.RESTORE_SESSION, "rs");
  assert.equal(inputs.SOURCE_HOSTNAME, "old-host");
  assert.equal(inputs.RESTORE_SNAPSHOTS, "abc12345");
  assert.equal(inputs.TARGET_API_VERSION, "appcatalog.appscode.com/v1alpha1");
  assert.equal(inputs.BACKUP_SESSION, undefined);
  assert.deepEqual(splitImage("localhost:5000/restash"), { registry: "localhost:5000", name: "restash", tag: "latest" });
});

test("without a kubelet a mount path is mapped to its host directory only at path boundaries", () => {
  assert.equal(rewritePath("--output-dir=/stash-tmp/output", "/stash-tmp", "/tmp/x"), "--output-dir=/tmp/x/output");
  assert.equal(rewritePath("--scratch-dir=/stash-tmp", "/stash-tmp", "/tmp/x"), "--scratch-dir=/tmp/x");
  assert.equal(rewritePath("--paths=/stash-tmpfoo,/stash-tmp/a", "/stash-tmp", "/tmp/x"), "--paths=/stash-tmpfoo,/tmp/x/a");
  assert.deepEqual(
    localCommand(
      {
        name: "c",
        image: "i",
        args: ["backup-pvc", "--paths=/data", "--output-dir=/stash-tmp/out"],
        env: [{ name: "D", value: "/data/x" }],
        volumeMounts: [
          { name: "t", mountPath: "/data" },
          { name: "stash-tmp-dir", mountPath: "/stash-tmp" },
        ],
      },
      { t: "/srv/pvc", "stash-tmp-dir": "/tmp/s" },
    ),
    { argv: ["backup-pvc", "--paths=/srv/pvc", "--output-dir=/tmp/s/out"], env: { D: "/srv/pvc/x" } },
  );
  assert.deepEqual(parseStepArgs(["--a=1", "--b", "2", "--flag", "--a=3", "x"]), { a: "3", b: "2", flag: "true" });
});
