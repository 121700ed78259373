// Stash's preBackup/postBackup hooks, run by the runner around a real backup, against a real HTTP
// server: order, templated body, executionPolicy, and a failing preBackup that backs up nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startOperator } from "../reconciler/operator.ts";
import { eventually } from "../testing/eventually.ts";
import { hookServer, runRunner } from "../testing/runner.ts";
import { PASSWORD, V1B, cond, finalSession, resticSnapshots, setupBackup, trigger, world } from "../testing/e2e-steps.ts";

async function runSession(w: any, sessionName: string, srcPathMap: string) {
  const dep = await w.kube.get("apps/v1", "Deployment", "app", w.namespace);
  const args = (dep.spec.template.spec.containers.find((c: any) => c.name === "stash").args as string[]).concat(`--backupsession=${sessionName}`);
  return runRunner(args, w.env({ POD_NAME: "app-6d4f8-abcde", RESTASH_PATH_MAP: srcPathMap }));
}

test("preBackup runs before the backup and postBackup after it, with the session's phase in its templated body", async (t) => {
  const w = await world("hooks-ok", t);
  const op = startOperator({ kube: w.kube, namespace: w.namespace, image: "restash:e2e" });
  t.after(() => op.stop());
  const srv = await hookServer(t);
  const hooks = {
    preBackup: { httpGet: { host: "127.0.0.1", port: srv.port, path: "/pre" } },
    postBackup: { httpPost: { host: "127.0.0.1", port: srv.port, path: "/post", body: "{{ .Name }} {{ .Status.Phase }}" }, executionPolicy: "Always" },
  };
  const { pathMap, repoDir } = await setupBackup(w, { bcExtra: { hooks }, srcFill: smallTree });
  const name = await trigger(w, "app-backup");
  await waitInitiated(w, name);
  const r = await runSession(w, name, pathMap);
  assert.equal(r.code, 0, r.output);
  const s = await finalSession(w, name);
  assert.equal(s.status.phase, "Succeeded", JSON.stringify(s.status));
  assert.deepEqual(srv.calls, ["GET /pre", `POST /post ${name} Succeeded`]);
  const tc = s.status.targets[0].conditions;
  assert.equal(cond(tc, "PreBackupHookExecutionSucceeded")?.reason, "SuccessfullyExecutedPreBackupHook");
  assert.equal(cond(tc, "PostBackupHookExecutionSucceeded")?.reason, "SuccessfullyExecutedPostBackupHook");
  assert.equal(resticSnapshots(repoDir, PASSWORD).length, 1);
});

test("a failing preBackup hook fails the target, backs up nothing and skips postBackup; an OnFailure postBackup is recorded as skipped on success", async (t) => {
  const w = await world("hooks-fail", t);
  const op = startOperator({ kube: w.kube, namespace: w.namespace, image: "restash:e2e" });
  t.after(() => op.stop());
  const srv = await hookServer(t);
  const hooks = {
    preBackup: { httpGet: { host: "127.0.0.1", port: srv.port, path: "/fail" } },
    postBackup: { httpGet: { host: "127.0.0.1", port: srv.port, path: "/post" }, executionPolicy: "Always" },
  };
  const { pathMap, repoDir } = await setupBackup(w, { bcExtra: { hooks }, srcFill: smallTree });
  const name = await trigger(w, "app-backup");
  await waitInitiated(w, name);
  await runSession(w, name, pathMap);
  const s = await finalSession(w, name);
  assert.equal(s.status.phase, "Failed");
  assert.deepEqual(srv.calls, ["GET /fail"], "no backup hook after a failed preBackup");
  const pre = cond(s.status.targets[0].conditions, "PreBackupHookExecutionSucceeded");
  assert.equal(pre?.status, "False");
  assert.equal(pre?.reason, "FailedToExecutePreBackupHook");
  assert.match(pre?.message, /500/);
  assert.equal(existsSync(join(repoDir, "config")) ? resticSnapshots(repoDir, PASSWORD).length : 0, 0, "nothing backed up");

  // OnFailure postBackup after a successful backup: skipped, recorded True with the reason.
  srv.calls.length = 0;
  await w.kube.mergePatch(
    { apiVersion: V1B, kind: "BackupConfiguration", metadata: { name: "app-backup", namespace: w.namespace } },
    {
      spec: { hooks: { preBackup: null, postBackup: { httpGet: { host: "127.0.0.1", port: srv.port, path: "/post" }, executionPolicy: "OnFailure" } } },
    },
  );
  // The operator has seen the new hooks before the next session starts.
  await eventually(
    "the BackupConfiguration's new generation observed",
    async () => {
      const bc = await w.kube.get(V1B, "BackupConfiguration", "app-backup", w.namespace);
      return bc.status?.observedGeneration === bc.metadata.generation;
    },
    30_000,
    100,
  );
  const second = await trigger(w, "app-backup");
  await waitInitiated(w, second);
  await runSession(w, second, pathMap);
  const s2 = await finalSession(w, second);
  assert.equal(s2.status.phase, "Succeeded", JSON.stringify(s2.status));
  assert.deepEqual(srv.calls, []);
  assert.match(cond(s2.status.targets[0].conditions, "PostBackupHookExecutionSucceeded")?.message, /Skipping executing postBackup/);
});

/** A small real tree: the hooks, not the data, are under test. */
function smallTree(dir: string) {
  mkdirSync(join(dir, "d"), { recursive: true });
  writeFileSync(join(dir, "a.txt"), "hooks\n");
  writeFileSync(join(dir, "d", "b.bin"), Buffer.from([1, 2, 3]));
}

async function waitInitiated(w: any, name: string) {
  await eventually(
    `BackupSession ${name} initiated`,
    async () => (await w.kube.get(V1B, "BackupSession", name, w.namespace)).status?.targets?.[0]?.totalHosts,
    30_000,
    100,
  );
}
