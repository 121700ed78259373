import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { load } from "js-yaml";
import { resolveTask, stepContainerName, type FunctionObject, type TaskObject } from "./resolve-task.ts";
import { TaskError } from "./task-errors.ts";

const catalog = (p: string) => load(readFileSync(new URL(`../../catalog/${p}`, import.meta.url), "utf8")) as any;

const fn = (name: string, spec: FunctionObject["spec"]): FunctionObject => ({ metadata: { name }, spec });

const functions = new Map<string, FunctionObject>([
  [
    "postgres-backup-11.2",
    fn("postgres-backup-11.2", {
      image: "stash/pg:${TAG:=11}",
      args: ["backup-pg", "--ns=${NAMESPACE}", "--out=${outputDir}", "--cmd=${backupCMD:=pg_dumpall}"],
      volumeMounts: [{ name: "${secretVolume}", mountPath: "/etc/repository/secret" }],
      runtimeSettings: { resources: { limits: { memory: "256M" } } },
    }),
  ],
  ["update-status", fn("update-status", { image: "restash:1", args: ["update-status", "--out=${outputDir}", "--ns=${NAMESPACE}"] })],
]);

const task: TaskObject = {
  metadata: { name: "postgres-backup-11.2" },
  spec: {
    steps: [
      {
        name: "postgres-backup-11.2",
        params: [
          { name: "outputDir", value: "/tmp/output" },
          { name: "secretVolume", value: "secret-volume" },
          { name: "backupCMD", value: "pg_dump" },
        ],
      },
      { name: "update-status", params: [{ name: "outputDir", value: "/tmp/output" }] },
    ],
    volumes: [{ name: "secret-volume", secret: { secretName: "${REPOSITORY_SECRET_NAME}" } }],
  },
};

test("a Task becomes init-containers for all steps but the last, named after their Function and index", () => {
  const pod = resolveTask(task, functions, { NAMESPACE: "demo", REPOSITORY_SECRET_NAME: "gcs-secret" });
  assert.deepEqual(pod, {
    initContainers: [
      {
        name: "postgres-backup-11-2-0",
        image: "stash/pg:11",
        args: ["backup-pg", "--ns=demo", "--out=/tmp/output", "--cmd=pg_dump"],
        volumeMounts: [
          { name: "secret-volume", mountPath: "/etc/repository/secret" },
          { name: "stash-tmp-dir", mountPath: "/stash-tmp" },
        ],
        resources: { limits: { memory: "256M" } },
      },
    ],
    containers: [
      {
        name: "update-status-1",
        image: "restash:1",
        args: ["update-status", "--out=/tmp/output", "--ns=demo"],
        volumeMounts: [{ name: "stash-tmp-dir", mountPath: "/stash-tmp" }],
      },
    ],
    volumes: [
      { name: "secret-volume", secret: { secretName: "gcs-secret" } },
      { name: "stash-tmp-dir", emptyDir: {} },
    ],
    restartPolicy: "Never",
    securityContext: { runAsUser: 65535 },
  });
});

test("invoker params win over step params, which win over operator variables", () => {
  const pod = resolveTask(
    task,
    functions,
    { NAMESPACE: "demo", REPOSITORY_SECRET_NAME: "s", outputDir: "/operator" },
    {
      params: [
        { name: "backupCMD", value: "pg_dumpall" },
        { name: "NAMESPACE", value: "override" },
      ],
    },
  );
  assert.deepEqual(pod.initContainers[0].args, ["backup-pg", "--ns=override", "--out=/tmp/output", "--cmd=pg_dumpall"]);
});

test("tempDir and the pod securityContext of the invoker reach the pod", () => {
  const pod = resolveTask(
    task,
    functions,
    { NAMESPACE: "d", REPOSITORY_SECRET_NAME: "s" },
    { tempDir: { medium: "Memory", sizeLimit: "1Gi" }, podSecurityContext: { runAsUser: 0, fsGroup: 2000 } },
  );
  assert.deepEqual(pod.volumes.at(-1), { name: "stash-tmp-dir", emptyDir: { medium: "Memory", sizeLimit: "1Gi" } });
  assert.deepEqual(pod.securityContext, { runAsUser: 0, fsGroup: 2000 });
});

test("a step naming a missing Function is an error naming the Task and the step", () => {
  const bad: TaskObject = { metadata: { name: "t" }, spec: { steps: [{ name: "update-status" }, { name: "nope" }] } };
  assert.throws(
    () => resolveTask(bad, functions, {}),
    (e: unknown) => e instanceof TaskError && e.code === "FunctionNotFound" && e.message === 'Task t, field spec.steps[1].name: Function "nope" not found',
  );
});

test("a Function variable nobody gives a value is an error naming the Function, step, field and variable", () => {
  const bad: TaskObject = { metadata: { name: "t" }, spec: { steps: [{ name: "postgres-backup-11.2", params: [{ name: "outputDir", value: "/o" }] }] } };
  assert.throws(
    () => resolveTask(bad, functions, { NAMESPACE: "d" }),
    (e: unknown) =>
      e instanceof TaskError &&
      e.code === "MissingParameter" &&
      e.message ===
        "Function postgres-backup-11.2: step 0 of Task t: spec.volumeMounts[0].name uses ${secretVolume}, which has no value and no default; set it in the Task step params or in the invoker's spec.task.params",
  );
});

test("the shipped pvc-backup Task resolves to a pod that mounts the PVC at the target mount path", () => {
  const fns = new Map<string, FunctionObject>([
    ["pvc-backup", catalog("functions/pvc-backup.yaml")],
    ["update-status", catalog("functions/update-status.yaml")],
  ]);
  const pod = resolveTask(catalog("tasks/pvc-backup.yaml"), fns, {
    NAMESPACE: "demo",
    BACKUP_SESSION: "bc-1",
    TARGET_NAME: "data",
    TARGET_MOUNT_PATH: "/data",
    TARGET_PATHS: "/data",
    REPOSITORY_NAME: "repo",
    STASH_IMAGE_TAG: "9.9",
  });
  assert.equal(stepContainerName("pvc-backup", 0), "pvc-backup-0");
  assert.deepEqual(
    pod.initContainers.map((c) => [c.name, c.image, c.args![0], c.volumeMounts]),
    [
      [
        "pvc-backup-0",
        "ghcr.io/restash/restash:9.9",
        "backup-pvc",
        [
          { name: "target-volume", mountPath: "/data" },
          { name: "stash-tmp-dir", mountPath: "/stash-tmp" },
        ],
      ],
    ],
  );
  assert.deepEqual(
    pod.containers.map((c) => c.name),
    ["update-status-1"],
  );
  assert.deepEqual(pod.volumes, [
    { name: "target-volume", persistentVolumeClaim: { claimName: "data" } },
    { name: "stash-tmp-dir", emptyDir: {} },
  ]);
  const args = pod.initContainers[0].args!;
  for (const a of [
    "--namespace=demo",
    "--backupsession=bc-1",
    "--repository=repo",
    "--paths=/data",
    "--output-dir=/stash-tmp/output",
    "--retention-keep-last=0",
    "--hostname=host-0",
  ])
    assert.ok(args.includes(a), a);
});

test("hooks add a pre-task-hook init-container first and a post-task-hook container last, mounting every step volume", () => {
  const pod = resolveTask(
    task,
    functions,
    {
      NAMESPACE: "demo",
      REPOSITORY_SECRET_NAME: "s",
      BACKUP_SESSION: "bs-1",
      INVOKER_KIND: "BackupConfiguration",
      INVOKER_NAME: "bc",
      TARGET_KIND: "AppBinding",
      TARGET_NAMESPACE: "demo",
      TARGET_NAME: "db",
      STASH_IMAGE_TAG: "0.1.0",
    },
    { hooks: { kind: "backup", pre: true, post: true } },
  );
  assert.deepEqual(
    pod.initContainers.map((c) => c.name),
    ["pre-task-hook", "postgres-backup-11-2-0", "update-status-1"],
  );
  assert.deepEqual(
    pod.containers.map((c) => c.name),
    ["post-task-hook"],
  );
  assert.deepEqual(pod.containers[0], {
    name: "post-task-hook",
    image: "ghcr.io/restash/restash:0.1.0",
    args: [
      "run-hook",
      "--backupsession=bs-1",
      "--restoresession=",
      "--invoker-kind=BackupConfiguration",
      "--invoker-name=bc",
      "--target-kind=AppBinding",
      "--target-namespace=demo",
      "--target-name=db",
      "--hook-type=postBackup",
      "--hostname=host-0",
      "--output-dir=/stash-tmp/output",
      "--metrics-enabled=true",
      "--metrics-pushgateway-url=",
    ],
    env: [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
    volumeMounts: [
      { name: "secret-volume", mountPath: "/etc/repository/secret" },
      { name: "stash-tmp-dir", mountPath: "/stash-tmp" },
    ],
  });
  assert.equal(pod.initContainers[0].args![8], "--hook-type=preBackup");
});
