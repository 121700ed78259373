import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { validateFile } from "../schema/validate.ts";
import { CATALOG_DIR, catalogObjects } from "../stash/tasks/catalog.ts";
import { TASK_COMMANDS } from "../restic-runner/tasks/commands.ts";
import { taskViolations } from "../stash/tasks/checks.ts";
import { resolveTask, type FunctionObject, type TaskObject } from "../stash/tasks/resolve-task.ts";
import { taskInputs } from "../stash/tasks/task-inputs.ts";

test("the shipped catalog passes the Function and Task CRD schemas", () => {
  const objects = catalogObjects();
  assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(), [
    "Function/postgres-backup",
    "Function/postgres-restore",
    "Function/pvc-backup",
    "Function/pvc-restore",
    "Function/update-status",
    "Task/postgres-backup",
    "Task/postgres-restore",
    "Task/pvc-backup",
    "Task/pvc-restore",
  ]);
  const k = readFileSync(join(CATALOG_DIR, "kustomization.yaml"), "utf8");
  for (const file of k.match(/(functions|tasks)\/[a-z-]+\.yaml/g) ?? []) {
    const { errors } = validateFile(join(CATALOG_DIR, file), readFileSync(join(CATALOG_DIR, file)));
    assert.deepEqual(errors, [], file);
  }
});

test("every shipped Function runs a runner step command and every shipped Task resolves with only operator variables", () => {
  const objects = catalogObjects();
  const functions = new Map(objects.filter((o) => o.kind === "Function").map((o) => [o.metadata.name!, o as unknown as FunctionObject]));
  for (const fn of functions.values()) assert.ok(Object.hasOwn(TASK_COMMANDS, fn.spec!.args![0]), `${fn.metadata.name} runs ${fn.spec!.args![0]}`);
  for (const t of objects.filter((o) => o.kind === "Task")) {
    const task = t as unknown as TaskObject;
    assert.deepEqual(taskViolations(task, functions, []), [], task.metadata.name);
    const restore = task.metadata.name!.endsWith("-restore");
    const inputs = taskInputs({
      invoker: {
        kind: restore ? "RestoreSession" : "BackupConfiguration",
        metadata: { name: "inv", namespace: "demo" },
        spec: { target: { ref: { kind: "PersistentVolumeClaim", name: "data" } } },
      },
      backupSession: restore ? undefined : "inv-1",
    });
    const pod = resolveTask(task, functions, inputs);
    assert.equal(pod.containers[0].args![0], "update-status", task.metadata.name);
  }
});
