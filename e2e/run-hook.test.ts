// `run-hook` (Stash's hook executor in a Task pod) dispatched by the image's entrypoint
// bin/restash.ts: a Task-based backup Job's pre-task-hook and post-task-hook containers run the
// BackupConfiguration's preBackup/postBackup against a real HTTP server, around a real restic
// backup, and record the target conditions Stash records.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { startOperator } from "../reconciler/operator.ts";
import { eventually, repository, secret } from "../testing/stash-objects.ts";
import { newBackupSession } from "../stash/new-backup-session.ts";
import { backupJobName } from "../stash/names.ts";
import { waitingForPostBackupHooks } from "../reconciler/backup-session/reconcile.ts";
import { installCatalog } from "../stash/tasks/catalog.ts";
import { runPodLocally } from "../testing/local-pod.ts";
import { hookServer, runRunner } from "../testing/runner.ts";
import { appBindingPod } from "../stash/pod-exec.ts";
import { PASSWORD, V1B, cond, resticSnapshots, world, type World } from "../testing/e2e-steps.ts";

const RESTASH = resolve(import.meta.dirname, "../bin/restash.ts");

/**
 * A new BackupSession of `bc` at `unixTime`; its backup Job's pod run as the kubelet would, every
 * container through the image's entrypoint, with `src` as the target volume.
 */
async function runBackupJob(w: World, bc: any, unixTime: number, src: string) {
  const bs = newBackupSession(bc, unixTime);
  await w.kube.create(bs);
  const job = await eventually(`backup Job of ${bs.metadata.name}`, () =>
    w.kube.getOrNull<any>("batch/v1", "Job", backupJobName(bs.metadata.name, 0), w.namespace).then((j) => j ?? undefined),
  );
  const spec = job.spec.template.spec;
  const run = await runPodLocally(
    {
      initContainers: spec.initContainers ?? [],
      containers: spec.containers,
      volumes: spec.volumes,
      restartPolicy: "Never",
      securityContext: spec.securityContext ?? {},
    },
    {
      entrypoint: [process.execPath, RESTASH],
      volumeDirs: { "target-volume": src },
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", KUBECONFIG: w.kubeconfig },
    },
  );
  return { bs, spec, run };
}

test("a Task-based backup Job runs preBackup and postBackup through `restash run-hook` around the backup, and records the target conditions", async (t) => {
  const w = await world("run-hook", t);
  const op = startOperator({ kube: w.kube, namespace: w.namespace, image: "restash:e2e" });
  t.after(() => op.stop());
  await installCatalog(w.kube);
  const { calls, port } = await hookServer(t);

  const src = join(w.dir, "pvc-data");
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, "a.txt"), "backed up\n");
  const repoDir = join(w.dir, "repo");
  await w.kube.apply(secret(w.namespace, "repo-secret", { RESTIC_PASSWORD: PASSWORD }));
  await w.kube.apply(repository(w.namespace, "repo", { local: { mountPath: repoDir, hostPath: { path: repoDir } } }));
  await w.kube.apply({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: "data", namespace: w.namespace },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
  });
  await w.kube.apply({
    apiVersion: V1B,
    kind: "BackupConfiguration",
    metadata: { name: "pvc-backup", namespace: w.namespace },
    spec: {
      task: { name: "pvc-backup" },
      schedule: "*/5 * * * *",
      repository: { name: "repo" },
      target: { ref: { apiVersion: "v1", kind: "PersistentVolumeClaim", name: "data" }, volumeMounts: [{ name: "target-volume", mountPath: src }] },
      retentionPolicy: { name: "keep-last-5", keepLast: 5, prune: true },
      hooks: {
        preBackup: { httpGet: { host: "127.0.0.1", port, path: "/pre" } },
        postBackup: {
          httpPost: { host: "127.0.0.1", port, path: "/post", body: "{{ .Invoker.Kind }}/{{ .Invoker.Name }} {{ .Status.Phase }}" },
          executionPolicy: "OnSuccess",
        },
      },
    },
  });
  const bc = await eventually("BackupConfiguration Ready", async () => {
    const o = await w.kube.get<any>(V1B, "BackupConfiguration", "pvc-backup", w.namespace);
    return o.status?.phase === "Ready" && o;
  });
  const { bs, spec, run } = await runBackupJob(w, bc, 1_700_000_000, src);
  assert.deepEqual(
    run.containers.map((c) => [c.name, c.exitCode]),
    [
      ["pre-task-hook", 0],
      ["pvc-backup-0", 0],
      ["update-status-1", 0],
      ["post-task-hook", 0],
    ],
    run.containers.map((c) => c.stderr).join("\n"),
  );
  assert.deepEqual(calls, ["GET /pre", "POST /post BackupConfiguration/pvc-backup Succeeded"]);
  const s = await eventually("postBackup recorded", async () => {
    const o = await w.kube.get<any>(V1B, "BackupSession", bs.metadata.name, w.namespace);
    return ["Succeeded", "Failed"].includes(o.status?.phase) && cond(o.status.targets?.[0]?.conditions, "PostBackupHookExecutionSucceeded") && o;
  });
  assert.equal(s.status.phase, "Succeeded", JSON.stringify(s.status));
  const tc = s.status.targets[0].conditions;
  assert.equal(cond(tc, "PreBackupHookExecutionSucceeded")?.reason, "SuccessfullyExecutedPreBackupHook");
  assert.equal(cond(tc, "PostBackupHookExecutionSucceeded")?.reason, "SuccessfullyExecutedPostBackupHook");
  assert.equal(resticSnapshots(repoDir, PASSWORD).length, 1);

  // Run again (a restarted container): the recorded outcome stands, the hook is not called twice.
  const pre = spec.initContainers.find((c: any) => c.name === "pre-task-hook");
  const again = await runRunner(
    pre.args.map((a: string) => a.replace("/stash-tmp", join(w.dir, "tmp"))),
    w.env(),
  );
  assert.equal(again.code, 0, again.output);
  assert.deepEqual(calls, ["GET /pre", "POST /post BackupConfiguration/pvc-backup Succeeded"]);

  // A failing postBackup fails the next session: the operator waits for its condition.
  await w.kube.mergePatch(
    { apiVersion: V1B, kind: "BackupConfiguration", metadata: { name: "pvc-backup", namespace: w.namespace } },
    { spec: { hooks: { postBackup: { httpPost: { host: "127.0.0.1", port, path: "/fail" }, executionPolicy: "Always" } } } },
  );
  const bc2 = await eventually("BackupConfiguration with the new hook", async () => {
    const o = await w.kube.get<any>(V1B, "BackupConfiguration", "pvc-backup", w.namespace);
    return o.spec.hooks.postBackup.httpPost?.path === "/fail" && o.status?.phase === "Ready" && o;
  });
  const { bs: bs2, run: run2 } = await runBackupJob(w, bc2, 1_700_000_600, src);
  assert.deepEqual(
    run2.containers.map((c) => [c.name, c.exitCode]),
    [
      ["pre-task-hook", 0],
      ["pvc-backup-0", 0],
      ["update-status-1", 0],
      ["post-task-hook", 1],
    ],
  );
  const s2 = await eventually("second session final", async () => {
    const o = await w.kube.get<any>(V1B, "BackupSession", bs2.metadata.name, w.namespace);
    return ["Succeeded", "Failed"].includes(o.status?.phase) && o;
  });
  assert.equal(s2.status.phase, "Failed", JSON.stringify(s2.status));
  assert.equal(s2.status.targets[0].stats[0].phase, "Succeeded", "the snapshot was made");
  assert.equal(cond(s2.status.targets[0].conditions, "PostBackupHookExecutionSucceeded")?.reason, "FailedToExecutePostBackupHook");
});

test("run-hook names what is wrong with its flags", async (t) => {
  const w = await world("run-hook-flags", t);
  const bad = await runRunner(["run-hook", "--hook-type=preSomething", "--target-kind=PersistentVolumeClaim", "--target-name=x"], w.env());
  assert.equal(bad.code, 1);
  assert.match(bad.output, /flag --hook-type must be one of preBackup, postBackup, preRestore, postRestore \(got \\"preSomething\\"\)/);
  const noSession = await runRunner(
    [
      "run-hook",
      "--hook-type=preRestore",
      "--target-kind=PersistentVolumeClaim",
      "--target-name=x",
      `--target-namespace=${w.namespace}`,
      "--restoresession=nope",
    ],
    w.env(),
  );
  assert.equal(noSession.code, 1);
  assert.match(noSession.output, new RegExp(`RestoreSession ${w.namespace}/nope not found`));
});

test("an AppBinding target's hooks run from the app's pod: the Running pod behind the AppBinding's Service", async (t) => {
  const w = await world("run-hook-ab", t);
  const ns = w.namespace;
  await w.kube.apply({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "pg", namespace: ns },
    spec: { selector: { app: "pg" }, ports: [{ port: 5432 }] },
  });
  await w.kube.apply({
    apiVersion: "appcatalog.appscode.com/v1alpha1",
    kind: "AppBinding",
    metadata: { name: "pg", namespace: ns },
    spec: { type: "postgres", clientConfig: { service: { name: "pg", port: 5432 } } },
  });
  await assert.rejects(appBindingPod(w.kube, ns, "pg"), /no pod behind Service .*\/pg \(AppBinding .*\/pg\)/);
  for (const [name, phase] of [
    ["pg-0", "Pending"],
    ["pg-1", "Running"],
  ]) {
    await w.kube.apply({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: ns, labels: { app: "pg" } },
      spec: { containers: [{ name: "postgres", image: "postgres" }] },
    });
    const pod = await w.kube.get<any>("v1", "Pod", name, ns);
    await w.kube.mergePatch(pod, { status: { phase } }, "status");
  }
  await w.kube.apply({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "other", namespace: ns, labels: { app: "web" } },
    spec: { containers: [{ name: "web", image: "nginx" }] },
  });
  assert.equal(await appBindingPod(w.kube, ns, "pg"), "pg-1");
  await assert.rejects(appBindingPod(w.kube, ns, "nope"), /AppBinding .*\/nope not found/);
});

test("the operator finishes a BackupSession only once each target's postBackup condition is in (unless its preBackup failed, a host failed or the deadline passed)", () => {
  const bc = (hooks?: unknown) =>
    ({
      apiVersion: V1B,
      kind: "BackupConfiguration",
      metadata: { name: "bc", namespace: "ns" },
      spec: { target: { ref: { kind: "PersistentVolumeClaim", name: "data" } }, hooks },
    }) as any;
  const post = { postBackup: { httpGet: { port: 1 } } };
  const target = (conditions: { type: string; status: "True" | "False" }[], phase: "Succeeded" | "Failed" = "Succeeded") => ({
    targets: [{ ref: { kind: "PersistentVolumeClaim", name: "data", namespace: "ns" }, totalHosts: 1, stats: [{ hostname: "host-0", phase }], conditions }],
  });
  const c = (type: string, status: "True" | "False") => ({ type, status });
  assert.equal(waitingForPostBackupHooks(bc(post), target([])), true);
  assert.equal(waitingForPostBackupHooks(bc(), target([])), false);
  assert.equal(waitingForPostBackupHooks(bc(post), target([c("PostBackupHookExecutionSucceeded", "True")])), false);
  assert.equal(waitingForPostBackupHooks(bc(post), target([c("PreBackupHookExecutionSucceeded", "False")])), false);
  assert.equal(waitingForPostBackupHooks(bc(post), target([], "Failed")), false);
  assert.equal(waitingForPostBackupHooks(bc(post), { ...target([]), conditions: [c("DeadlineExceeded", "True")] }), false);
});
