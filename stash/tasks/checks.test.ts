import { test } from "node:test";
import assert from "node:assert/strict";
import { appBindingViolations, invokerTaskViolations, taskViolations } from "./checks.ts";
import { appBindingConnection, effectiveTaskRef } from "./app-binding.ts";
import type { FunctionObject, TaskObject } from "./resolve-task.ts";

const fns: Record<string, FunctionObject> = {
  dump: { metadata: { name: "dump" }, spec: { image: "i", args: ["--ns=${NAMESPACE}", "--db=${database}", "--mode=${mode:=fast}"] } },
  "update-status": { metadata: { name: "update-status" }, spec: { image: "i", args: ["update-status"] } },
};
const task: TaskObject = { metadata: { name: "t" }, spec: { steps: [{ name: "dump" }, { name: "update-status" }] } };

test("a Task step naming a missing Function is a violation at that step", () => {
  assert.deepEqual(taskViolations({ metadata: { name: "t" }, spec: { steps: [{ name: "dump" }, { name: "gone" }] } }, fns), [
    { field: "spec.steps[1].name", message: 'Function "gone" not found' },
  ]);
  assert.deepEqual(taskViolations(task, fns), []);
});

test("an invoker that leaves a Function parameter without a value is refused naming the parameter", () => {
  assert.deepEqual(invokerTaskViolations({ spec: { task: { name: "t" } } }, task, fns), [
    {
      field: "spec.task.params",
      message: "Task t spec.steps[0].params: Function dump needs parameter \"database\": give it in the Task step's params or the invoker's spec.task.params",
    },
  ]);
  assert.deepEqual(invokerTaskViolations({ spec: { task: { name: "t", params: [{ name: "database", value: "shop" }] } } }, task, fns), []);
  assert.deepEqual(invokerTaskViolations({ spec: { task: { name: "t" } } }, null, fns), [{ field: "spec.task.name", message: 'Task "t" not found' }]);
});

const ab = {
  metadata: { name: "db", namespace: "demo" },
  spec: { clientConfig: { service: { name: "pg", port: 5433, path: "/shop", query: "sslmode=disable" } }, secret: { name: "pg-auth" } },
};

test("an AppBinding whose Secret is absent is a violation naming the Secret", () => {
  assert.deepEqual(appBindingViolations(ab, false), [{ field: "spec.secret.name", message: "Secret demo/pg-auth not found" }]);
  assert.deepEqual(appBindingViolations(ab, true), []);
  assert.deepEqual(appBindingViolations({ metadata: { name: "x", namespace: "demo" }, spec: { clientConfig: {} } }), [
    { field: "spec.clientConfig", message: "sets neither url nor service" },
    { field: "spec.secret.name", message: "names no credentials Secret" },
  ]);
});

test("an AppBinding resolves to host, port, database and credentials, and a missing Secret names both objects but no value", () => {
  const secret = { data: { POSTGRES_USER: Buffer.from("app").toString("base64"), POSTGRES_PASSWORD: Buffer.from("s3cret-pw").toString("base64") } };
  assert.deepEqual(appBindingConnection(ab, secret), {
    host: "pg.demo.svc",
    port: 5433,
    database: "shop",
    sslmode: "disable",
    user: "app",
    password: "s3cret-pw",
  });
  const url = { ...ab, spec: { ...ab.spec, clientConfig: { url: "postgresql://10.0.0.5:6543/orders?sslmode=require" } } };
  assert.deepEqual(appBindingConnection(url, secret), {
    host: "10.0.0.5",
    port: 6543,
    database: "orders",
    sslmode: "require",
    user: "app",
    password: "s3cret-pw",
  });
  assert.throws(() => appBindingConnection(ab, null), { message: "AppBinding demo/db, field spec.secret.name: Secret demo/pg-auth not found" });
  assert.throws(() => appBindingConnection(ab, { data: { POSTGRES_USER: "YQ==" } }), {
    message: "AppBinding demo/db, field spec.secret.name: Secret demo/pg-auth has no key POSTGRES_PASSWORD",
  });
});

test("with no task named, a KubeDB AppBinding's stash.addon names it, and the invoker's params win", () => {
  const kubedb = {
    metadata: { name: "db", namespace: "demo" },
    spec: {
      parameters: {
        stash: {
          addon: {
            backupTask: {
              name: "postgres-backup-15",
              params: [
                { name: "args", value: "--clean" },
                { name: "database", value: "a" },
              ],
            },
            restoreTask: { name: "postgres-restore-15" },
          },
        },
      },
    },
  };
  assert.deepEqual(effectiveTaskRef({ params: [{ name: "database", value: "b" }] }, kubedb, "backup"), {
    name: "postgres-backup-15",
    params: [
      { name: "args", value: "--clean" },
      { name: "database", value: "b" },
    ],
  });
  assert.deepEqual(effectiveTaskRef(undefined, kubedb, "restore"), { name: "postgres-restore-15", params: [] });
  assert.deepEqual(effectiveTaskRef({ name: "mine" }, kubedb, "backup"), { name: "mine", params: [] });
  assert.equal(effectiveTaskRef(undefined, null, "backup"), undefined);
});
