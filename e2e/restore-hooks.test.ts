// Stash's preRestore/postRestore hooks around a real restore (real API server, operator, restic
// repository): the init-container and the restore Job run them around the data; httpGet,
// httpPost and tcpSocket hit real local servers; every executionPolicy; an exec hook becomes a
// pods/exec request the real API server answers; Task pods run them through `run-hook`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer as createTcpServer, type AddressInfo } from "node:net";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startOperator } from "../reconciler/operator.ts";
import { deployment, eventually, repository, secret } from "../testing/stash-objects.ts";
import { restoreJobName } from "../stash/names.ts";
import { waitingForPostRestoreHook } from "../reconciler/restore-session/reconcile.ts";
import { freePort } from "../local/control-plane.ts";
import { buildExecRequest } from "../stash/hooks.ts";
import { execPath } from "../stash/pod-exec.ts";
import { installCatalog } from "../stash/tasks/catalog.ts";
import { runJobLocally } from "../testing/local-pod.ts";
import { restoreSummary } from "../restic-runner/commands/restore-hooks.ts";
import { hookServer, runRunner } from "../testing/runner.ts";
import { PASSWORD, V1B, cond, world, type World } from "../testing/e2e-steps.ts";

/** A hook server (testing/runner.ts) that also records whether the restored file existed at each call. */
const restoreHookServer = (t: any, restoredFile: () => string) => hookServer(t, () => (existsSync(restoredFile()) ? "data" : "no-data"));

interface RestoreWorld {
  w: World;
  src: string;
  repoDir: string;
}

/** A namespace with the operator, and a real restic repository holding one snapshot of `src` by host-0. */
async function restoreWorld(prefix: string, t: any): Promise<RestoreWorld> {
  const w = await world(prefix, t);
  const op = startOperator({ kube: w.kube, namespace: w.namespace, image: "restash:e2e" });
  t.after(() => op.stop());
  const src = join(w.dir, "source-data");
  mkdirSync(join(src, "d"), { recursive: true });
  writeFileSync(join(src, "a.txt"), "restored by restash\n");
  writeFileSync(join(src, "d", "b.bin"), Buffer.from([1, 2, 3, 4]));
  const repoDir = join(w.dir, "repo");
  const env = { ...process.env, RESTIC_REPOSITORY: repoDir, RESTIC_PASSWORD: PASSWORD };
  execFileSync("restic", ["init", "--no-cache"], { env, stdio: "ignore" });
  execFileSync("restic", ["backup", "--no-cache", "--host", "host-0", src], { env, stdio: "ignore" });
  await w.kube.apply(secret(w.namespace, "repo-secret", { RESTIC_PASSWORD: PASSWORD }));
  await w.kube.apply(repository(w.namespace, "repo", { local: { mountPath: "/safe/repo", hostPath: { path: "/var/lib/backups" } } }));
  return { w, src, repoDir };
}

/** A RestoreSession into a new Deployment, its init-container run as the pod would run it. */
async function restoreIntoDeployment(r: RestoreWorld, name: string, spec: { hooks?: unknown; rules?: unknown[] }, env: Record<string, string> = {}) {
  const { w, src } = r;
  const dst = join(w.dir, `restored-${name}`);
  await w.kube.apply(deployment(w.namespace, name, src));
  await w.kube.apply({
    apiVersion: V1B,
    kind: "RestoreSession",
    metadata: { name, namespace: w.namespace },
    spec: {
      repository: { name: "repo" },
      target: {
        ref: { apiVersion: "apps/v1", kind: "Deployment", name },
        volumeMounts: [{ name: "source-data", mountPath: src }],
        rules: spec.rules ?? [{ paths: [src] }],
      },
      ...(spec.hooks ? { hooks: spec.hooks } : {}),
    },
  });
  const init = await eventually(`stash-init in ${name}`, async () => {
    const d = await w.kube.get<any>("apps/v1", "Deployment", name, w.namespace);
    return (d.spec.template.spec.initContainers ?? []).find((c: any) => c.name === "stash-init");
  });
  await eventually(`RestoreSession ${name} Running`, async () => (await w.kube.get<any>(V1B, "RestoreSession", name, w.namespace)).status?.phase === "Running");
  const run = await runRunner(init.args, w.env({ POD_NAME: `${name}-7c9d-xyz12`, RESTASH_PATH_MAP: `/safe/repo=${r.repoDir},${src}=${dst}`, ...env }));
  const rs = await finalRestore(w, name);
  return { run, rs, dst };
}

const finalRestore = (w: World, name: string) =>
  eventually(`RestoreSession ${name} final`, async () => {
    const o = await w.kube.get<any>(V1B, "RestoreSession", name, w.namespace);
    return ["Succeeded", "Failed", "Unknown"].includes(o.status?.phase) && o;
  });

const conds = (rs: any) => rs.status.conditions as any[];

test("preRestore (httpGet) runs before the data is restored and postRestore (httpPost, Always) after it, with the session's name and phase in its templated body", async (t) => {
  const r = await restoreWorld("rhooks-ok", t);
  const dst = join(r.w.dir, "restored-app");
  const srv = await restoreHookServer(t, () => join(dst, "a.txt"));
  const hooks = {
    preRestore: { httpGet: { host: "127.0.0.1", port: srv.port, path: "/pre", httpHeaders: [{ name: "X-Token", value: "hook-token-value" }] } },
    postRestore: {
      httpPost: {
        host: "127.0.0.1",
        port: srv.port,
        path: "/post",
        body: "{{ .Name }} {{ .Invoker.Kind }} {{ .Target.Kind }}/{{ .Target.Name }} {{ .Status.Phase }}",
      },
      executionPolicy: "Always",
    },
  };
  const { run, rs } = await restoreIntoDeployment(r, "app", { hooks });
  assert.equal(run.code, 0, run.output);
  assert.equal(rs.status.phase, "Succeeded", JSON.stringify(rs.status));
  assert.deepEqual(srv.calls, ["GET /pre [no-data]", "POST /post app RestoreSession Deployment/app Succeeded [data]"]);
  assert.equal(readFileSync(join(dst, "a.txt"), "utf8"), "restored by restash\n");
  const pre = cond(conds(rs), "PreRestoreHookExecutionSucceeded");
  assert.deepEqual([pre.status, pre.reason, pre.message], ["True", "SuccessfullyExecutedPreRestoreHook", "Successfully executed preRestore hook."]);
  const post = cond(conds(rs), "PostRestoreHookExecutionSucceeded");
  assert.deepEqual([post.status, post.reason, post.message], ["True", "SuccessfullyExecutedPostRestoreHook", "Successfully executed postRestore hook."]);
  assert.ok(!JSON.stringify(rs.status).includes("hook-token-value") && !run.output.includes("hook-token-value"), "header values stay out of status and logs");
});

test("a failing preRestore fails the restore without touching the data; an OnFailure postRestore then runs and sees phase Failed", async (t) => {
  const r = await restoreWorld("rhooks-prefail", t);
  const dst = join(r.w.dir, "restored-app");
  // The destination already holds data: a failed preRestore must leave it exactly as it is.
  mkdirSync(dst, { recursive: true });
  writeFileSync(join(dst, "a.txt"), "old content\n");
  const srv = await restoreHookServer(t, () => join(dst, "d", "b.bin"));
  const hooks = {
    preRestore: { httpGet: { host: "127.0.0.1", port: srv.port, path: "/fail-pre" } },
    postRestore: {
      httpPost: { host: "127.0.0.1", port: srv.port, path: "/post", body: "{{ .Status.Phase }}: {{ .Status.Error }}" },
      executionPolicy: "OnFailure",
    },
  };
  const { run, rs } = await restoreIntoDeployment(r, "app", { hooks });
  assert.equal(run.code, 1, "the init-container fails");
  assert.equal(rs.status.phase, "Failed");
  assert.deepEqual(readdirSync(dst), ["a.txt"]);
  assert.equal(readFileSync(join(dst, "a.txt"), "utf8"), "old content\n");
  const pre = cond(conds(rs), "PreRestoreHookExecutionSucceeded");
  assert.equal(pre.status, "False");
  assert.equal(pre.reason, "FailedToExecutePreRestoreHook");
  assert.match(pre.message, /^Failed to execute preRestore hook\. Reason: GET http:\/\/127\.0\.0\.1:\d+\/fail-pre answered HTTP 500/);
  assert.deepEqual(
    rs.status.stats.map((s: any) => [s.hostname, s.phase, s.error]),
    [["host-0", "Failed", pre.message]],
  );
  assert.equal(srv.calls.length, 2, srv.calls.join("\n"));
  assert.equal(srv.calls[0], "GET /fail-pre [no-data]");
  assert.match(srv.calls[1], /^POST \/post Failed: Failed to execute preRestore hook\. Reason: GET .*HTTP 500.* \[no-data\]$/);
  assert.equal(cond(conds(rs), "PostRestoreHookExecutionSucceeded")?.reason, "SuccessfullyExecutedPostRestoreHook");
});

test("postRestore executionPolicy: OnSuccess runs after a success and is skipped after a failure, OnFailure the reverse; skips are recorded True with Stash's message; tcpSocket hooks check a real port", async (t) => {
  const r = await restoreWorld("rhooks-policy", t);
  const srv = await restoreHookServer(t, () => "/nonexistent");
  const tcp = createTcpServer((s) => s.end());
  await new Promise<void>((res) => tcp.listen(0, "127.0.0.1", res));
  t.after(() => tcp.close());
  const open = (tcp.address() as AddressInfo).port;
  const closed = await freePort();
  const ok = [{ paths: [r.src] }];
  const missing = [{ snapshots: ["deadbeef"] }];
  const cases = [
    { name: "ok-onsuccess", rules: ok, policy: "OnSuccess", phase: "Succeeded", ran: true },
    { name: "ok-onfailure", rules: ok, policy: "OnFailure", phase: "Succeeded", ran: false },
    { name: "bad-onsuccess", rules: missing, policy: "OnSuccess", phase: "Failed", ran: false },
    { name: "bad-onfailure", rules: missing, policy: "OnFailure", phase: "Failed", ran: true },
  ];
  for (const c of cases) {
    const hooks = {
      preRestore: { tcpSocket: { host: "127.0.0.1", port: open } },
      postRestore: { httpGet: { host: "127.0.0.1", port: srv.port, path: `/${c.name}` }, executionPolicy: c.policy },
    };
    const { rs } = await restoreIntoDeployment(r, c.name, { hooks, rules: c.rules });
    assert.equal(rs.status.phase, c.phase, `${c.name}: ${JSON.stringify(rs.status)}`);
    assert.equal(cond(conds(rs), "PreRestoreHookExecutionSucceeded")?.status, "True", c.name);
    const post = cond(conds(rs), "PostRestoreHookExecutionSucceeded");
    assert.equal(post?.status, "True", c.name);
    assert.equal(post?.reason, "SuccessfullyExecutedPostRestoreHook", c.name);
    assert.equal(
      post?.message,
      c.ran ? "Successfully executed postRestore hook." : `Skipping executing postRestore. Reason: executionPolicy is "${c.policy}" but phase is "${c.phase}".`,
      c.name,
    );
  }
  assert.deepEqual(srv.calls, ["GET /ok-onsuccess [no-data]", "GET /bad-onfailure [no-data]"]);

  // A tcpSocket preRestore on a closed port fails the restore.
  const { rs } = await restoreIntoDeployment(r, "tcp-closed", { hooks: { preRestore: { tcpSocket: { host: "127.0.0.1", port: closed } } } });
  assert.equal(rs.status.phase, "Failed");
  assert.match(cond(conds(rs), "PreRestoreHookExecutionSucceeded")?.message, new RegExp(`tcp 127\\.0\\.0\\.1:${closed} is not open: .*ECONNREFUSED`));
});

test("an exec preRestore is a pods/exec request for the executor pod's first container with the rendered command; with no kubelet the real API server refuses it and the restore fails before any data", async (t) => {
  const r = await restoreWorld("rhooks-exec", t);
  const { w } = r;
  const podName = "app-7c9d-xyz12";
  // The executor pod as the API server stores it (nothing runs it: there is no kubelet).
  await w.kube.apply({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: podName, namespace: w.namespace },
    spec: {
      containers: [
        { name: "app", image: "busybox" },
        { name: "helper", image: "busybox" },
      ],
    },
  });
  const hook = { exec: { command: ["/bin/sh", "-c", "echo {{ .Name }} {{ .Status.Phase }} > /data/marker"] } };

  // The request, as built from the RestoreSession's Summary.
  const rsObj = {
    metadata: { name: "app", namespace: w.namespace },
    spec: { target: { ref: { apiVersion: "apps/v1", kind: "Deployment", name: "app" } } },
  } as any;
  const req = buildExecRequest(hook, restoreSummary(rsObj, { phase: "Running" }, Date.now()), {
    namespace: w.namespace,
    name: podName,
    containers: ["app", "helper"],
  });
  assert.deepEqual(req, { namespace: w.namespace, pod: podName, container: "app", command: ["/bin/sh", "-c", "echo app Running > /data/marker"] });
  assert.equal(
    execPath(req),
    `/api/v1/namespaces/${w.namespace}/pods/${podName}/exec?command=%2Fbin%2Fsh&command=-c&command=echo+app+Running+%3E+%2Fdata%2Fmarker&container=app&stdout=true&stderr=true`,
  );

  const { run, rs, dst } = await restoreIntoDeployment(r, "app", { hooks: { preRestore: hook } }, { POD_NAME: podName });
  assert.equal(run.code, 1);
  assert.equal(rs.status.phase, "Failed");
  const pre = cond(conds(rs), "PreRestoreHookExecutionSucceeded");
  assert.equal(pre.reason, "FailedToExecutePreRestoreHook");
  assert.match(
    pre.message,
    new RegExp(
      `exec in ${w.namespace}/${podName} container app was refused by the API server: Unexpected server response: 400: pod ${podName} does not have a host assigned`,
    ),
  );
  assert.equal(existsSync(dst), false, "nothing restored");

  // containerName picks the container; an executor pod that does not exist is named.
  const { rs: rs2 } = await restoreIntoDeployment(
    r,
    "other",
    { hooks: { preRestore: { containerName: "nope", exec: { command: ["true"] } } } },
    { POD_NAME: podName },
  );
  assert.match(cond(conds(rs2), "PreRestoreHookExecutionSucceeded")?.message, /has no container nope \(has app, helper\)/);
  const { rs: rs3 } = await restoreIntoDeployment(r, "gone", { hooks: { preRestore: { exec: { command: ["true"] } } } }, { POD_NAME: "gone-pod" });
  assert.match(cond(conds(rs3), "PreRestoreHookExecutionSucceeded")?.message, new RegExp(`executor pod ${w.namespace}/gone-pod not found`));
});

test("the restore Job of a PVC runs preRestore and postRestore around its restore", async (t) => {
  const r = await restoreWorld("rhooks-job", t);
  const { w, src } = r;
  const dst = join(w.dir, "restored-pvc");
  const srv = await restoreHookServer(t, () => join(dst, "a.txt"));
  await w.kube.apply({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: "data-copy", namespace: w.namespace },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
  });
  await w.kube.apply({
    apiVersion: V1B,
    kind: "RestoreSession",
    metadata: { name: "pvc-restore", namespace: w.namespace },
    spec: {
      repository: { name: "repo" },
      target: {
        ref: { apiVersion: "v1", kind: "PersistentVolumeClaim", name: "data-copy" },
        volumeMounts: [{ name: "data", mountPath: src }],
        rules: [{ sourceHost: "host-0", paths: [src] }],
      },
      hooks: {
        preRestore: { httpGet: { host: "127.0.0.1", port: srv.port, path: "/pre" } },
        postRestore: {
          httpPost: { host: "127.0.0.1", port: srv.port, path: "/post", body: "{{ .Target.Kind }} {{ .Status.Phase }}" },
          executionPolicy: "OnSuccess",
        },
      },
    },
  });
  const job = await eventually("restore Job", () =>
    w.kube.getOrNull<any>("batch/v1", "Job", restoreJobName("pvc-restore", 0), w.namespace).then((j) => j ?? undefined),
  );
  const args: string[] = job.spec.template.spec.containers[0].args;
  assert.ok(args.includes("--restore-model=job"));
  const run = await runRunner(args, w.env({ POD_NAME: "stash-restore-pvc-restore-0-abcde", RESTASH_PATH_MAP: `/safe/repo=${r.repoDir},${src}=${dst}` }));
  assert.equal(run.code, 0, run.output);
  const rs = await finalRestore(w, "pvc-restore");
  assert.equal(rs.status.phase, "Succeeded", JSON.stringify(rs.status));
  assert.deepEqual(srv.calls, ["GET /pre [no-data]", "POST /post PersistentVolumeClaim Succeeded [data]"]);
  assert.equal(cond(conds(rs), "PreRestoreHookExecutionSucceeded")?.status, "True");
  assert.equal(cond(conds(rs), "PostRestoreHookExecutionSucceeded")?.message, "Successfully executed postRestore hook.");
});

test("a Task-based restore runs its hooks in the pre-task-hook and post-task-hook containers (`run-hook`); a failing postRestore fails the RestoreSession, a failing preRestore skips the data step", async (t) => {
  const r = await restoreWorld("rhooks-task", t);
  const { w, src } = r;
  await installCatalog(w.kube);
  let dst = "";
  const srv = await restoreHookServer(t, () => join(dst, "a.txt"));
  // The Task's volume is the PVC; the repository is a local one at the same path on this machine.
  await w.kube.apply(repository(w.namespace, "task-repo", { local: { mountPath: r.repoDir, hostPath: { path: r.repoDir } } }, {}));
  await w.kube.apply(secret(w.namespace, "task-repo-secret", { RESTIC_PASSWORD: PASSWORD }));
  const runTask = async (name: string, hooks: unknown) => {
    dst = join(w.dir, `restored-${name}`);
    await w.kube.apply({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name, namespace: w.namespace },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
    });
    await w.kube.apply({
      apiVersion: V1B,
      kind: "RestoreSession",
      metadata: { name, namespace: w.namespace },
      spec: {
        task: { name: "pvc-restore" },
        repository: { name: "task-repo" },
        hooks,
        target: {
          ref: { apiVersion: "v1", kind: "PersistentVolumeClaim", name },
          volumeMounts: [{ name: "target-volume", mountPath: dst }],
          rules: [{ sourceHost: "host-0", paths: [src] }],
        },
      },
    });
    await eventually(`restore Job of ${name}`, async () => (await w.kube.get<any>(V1B, "RestoreSession", name, w.namespace)).status?.totalHosts === 1);
    const run = await runJobLocally({
      kube: w.kube,
      kubeconfig: w.kubeconfig,
      namespace: w.namespace,
      name: restoreJobName(name, 0),
      volumeDirs: { "target-volume": dst },
    });
    return { run, rs: await finalRestore(w, name) };
  };

  const ok = await runTask("task-ok", {
    preRestore: { httpGet: { host: "127.0.0.1", port: srv.port, path: "/pre" } },
    postRestore: { httpPost: { host: "127.0.0.1", port: srv.port, path: "/fail-post", body: "{{ .Name }} {{ .Status.Phase }}" }, executionPolicy: "Always" },
  });
  assert.deepEqual(
    ok.run.containers.map((c) => [c.name, c.exitCode]),
    [
      ["pre-task-hook", 0],
      ["pvc-restore-0", 0],
      ["update-status-1", 0],
      ["post-task-hook", 1],
    ],
  );
  assert.deepEqual(srv.calls, ["GET /pre [no-data]", "POST /fail-post task-ok Succeeded [data]"]);
  assert.equal(ok.rs.status.phase, "Failed", "the operator waits for the postRestore condition, which failed");
  assert.deepEqual(
    ok.rs.status.stats.map((s: any) => s.phase),
    ["Succeeded"],
  );
  assert.equal(cond(conds(ok.rs), "PreRestoreHookExecutionSucceeded")?.status, "True");
  const post = cond(conds(ok.rs), "PostRestoreHookExecutionSucceeded");
  assert.equal(post?.reason, "FailedToExecutePostRestoreHook");
  assert.match(post?.message, /\/fail-post answered HTTP 500/);
  assert.equal(readFileSync(join(dst, "a.txt"), "utf8"), "restored by restash\n");

  srv.calls.length = 0;
  const bad = await runTask("task-prefail", {
    preRestore: { httpGet: { host: "127.0.0.1", port: srv.port, path: "/fail-pre" } },
    postRestore: { httpGet: { host: "127.0.0.1", port: srv.port, path: "/post-on-failure" }, executionPolicy: "OnFailure" },
  });
  assert.deepEqual(
    bad.run.containers.map((c) => [c.name, c.exitCode]),
    [
      ["pre-task-hook", 1],
      ["update-status-1", 1],
      ["post-task-hook", 0],
    ],
  );
  assert.equal(bad.rs.status.phase, "Failed");
  assert.deepEqual(
    bad.rs.status.stats.map((s: any) => [s.phase, s.error]),
    [["Failed", cond(conds(bad.rs), "PreRestoreHookExecutionSucceeded")?.message]],
  );
  assert.match(bad.rs.status.stats[0].error, /^Failed to execute preRestore hook\. Reason: .*\/fail-pre answered HTTP 500/);
  assert.deepEqual(srv.calls, ["GET /fail-pre [no-data]", "GET /post-on-failure [no-data]"]);
  assert.equal(existsSync(join(dst, "a.txt")), false, "the data step never ran");
});

test("the operator finishes a RestoreSession with a postRestore hook only once the hook's condition is in (unless preRestore failed, a host failed or the deadline passed)", () => {
  const rs = (hooks?: unknown) => ({ metadata: { name: "r" }, spec: { hooks } }) as any;
  const post = { postRestore: { httpGet: { port: 1 } } };
  const ok = [{ hostname: "host-0", phase: "Succeeded" as const }];
  const c = (type: string, status: "True" | "False") => ({ type, status });
  assert.equal(waitingForPostRestoreHook(rs(post), { stats: ok, conditions: [] }), true);
  assert.equal(waitingForPostRestoreHook(rs(), { stats: ok, conditions: [] }), false);
  assert.equal(waitingForPostRestoreHook(rs(post), { stats: ok, conditions: [c("PostRestoreHookExecutionSucceeded", "False")] }), false);
  assert.equal(waitingForPostRestoreHook(rs(post), { stats: ok, conditions: [c("PreRestoreHookExecutionSucceeded", "False")] }), false);
  assert.equal(waitingForPostRestoreHook(rs(post), { stats: ok, conditions: [c("DeadlineExceeded", "True")] }), false);
  assert.equal(waitingForPostRestoreHook(rs(post), { stats: [{ hostname: "host-0", phase: "Failed" }], conditions: [] }), false);
});
