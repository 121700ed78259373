// The operator process as `restash operator` runs it, against the real API server: the status it
// writes is judged healthy or degraded by the Argo CD health checks (run by a real Lua 5.1, as Argo
// CD's gopher-lua runs them), and /metrics, /healthz and /readyz answer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { testNamespace } from "../testing/cluster.ts";
import { sharedPushgateway, toolsDir } from "../testing/services.ts";
import { createLogger } from "../lib/logger.ts";
import type { KubeObject } from "../lib/kube/client.ts";
import { startOperatorProcess } from "../bin/operator.ts";
import { backupConfiguration, deployment, eventually, repository, secret } from "../testing/stash-objects.ts";

const root = resolve(import.meta.dirname, "..");
const run = promisify(execFile);

/** Argo CD's verdict on a live object, from deploy/argocd/resource_customizations/<group>/<Kind>/health.lua. */
async function argoHealth(obj: KubeObject): Promise<{ status: string; message: string }> {
  const group = obj.apiVersion.split("/")[0];
  const script = join(root, "deploy/argocd/resource_customizations", group, obj.kind, "health.lua");
  const child = execFile("lua5.1", [join(root, "deploy/argocd/run-health.lua"), script], { encoding: "utf8" });
  child.stdin!.end(JSON.stringify(obj));
  const out = await new Promise<string>((res, rej) => {
    let text = "";
    child.stdout!.on("data", (d) => (text += d));
    child.on("exit", (code) => (code === 0 ? res(text) : rej(new Error(`lua exited ${code}`))));
  });
  return JSON.parse(out);
}

const restash = (args: string[], env: Record<string, string>) =>
  run(process.execPath, [join(root, "bin/restash.ts"), ...args], { env: { ...process.env, ...env }, encoding: "utf8" }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e) => ({ code: e.code as number, out: `${e.stdout}${e.stderr}` }),
  );

test("the operator's status is judged by the Argo CD health checks, and it serves /metrics, /healthz and /readyz", async (t) => {
  const { kube, namespace, cp } = await testNamespace("operator-process");
  const pushgateway = await sharedPushgateway();
  const work = mkdtempSync(join(tmpdir(), "restash-operator-process-"));
  const op = await startOperatorProcess({
    kube,
    log: createLogger({ level: "error" }),
    image: "restash:test",
    pushgatewayUrl: pushgateway.url,
    securePort: 0,
    secureHost: "127.0.0.1",
    metricsPort: 0,
    metricsHost: "127.0.0.1",
    workDir: join(work, "clones"),
    namespace,
    register: "none", // webhooks registered cluster-wide would intercept other tests' objects
  });
  t.after(() => op.stop());
  const http = (path: string) => fetch(`http://127.0.0.1:${op.httpPort}${path}`);
  assert.equal((await http("/healthz")).status, 200);
  await eventually("readyz", async () => (await http("/readyz")).status === 200);

  // A configuration whose backup works, and one whose target path is empty.
  const data = join(work, "data");
  const empty = join(work, "empty");
  mkdirSync(data, { recursive: true });
  mkdirSync(empty, { recursive: true });
  writeFileSync(join(data, "a.txt"), "restash\n");
  await kube.apply(secret(namespace, "repo-secret", { RESTIC_PASSWORD: "operator-process-test" }));
  await kube.apply(repository(namespace, "repo", { local: { mountPath: join(work, "repo"), hostPath: { path: join(work, "repo") } } }));
  await kube.apply(deployment(namespace, "app"));
  await kube.apply(deployment(namespace, "other"));
  const bc = (name: string, target: string, path: string) => {
    const o = backupConfiguration(namespace, name, { kind: "Deployment", name: target }, "repo");
    o.spec.target.paths = [path];
    return o;
  };
  await kube.apply(bc("good", "app", data));
  await kube.apply(bc("bad", "other", empty));
  // A BackupBatch: its backups are watched by the same freshness gauges, with kind="BackupBatch".
  await kube.apply(deployment(namespace, "members"));
  await kube.apply({
    apiVersion: "stash.appscode.com/v1beta1",
    kind: "BackupBatch",
    metadata: { name: "nightly", namespace },
    spec: {
      repository: { name: "repo" },
      schedule: "0 * * * *",
      retentionPolicy: { name: "keep-last-5", keepLast: 5, prune: true },
      members: [{ target: { ref: { apiVersion: "apps/v1", kind: "Deployment", name: "members" }, paths: [data] } }],
    },
  });

  const ready = await eventually("BackupConfiguration good Ready", async () => {
    const o = await kube.get("stash.appscode.com/v1beta1", "BackupConfiguration", "good", namespace);
    return o.status?.phase === "Ready" && o.status.observedGeneration === o.metadata.generation ? o : undefined;
  });
  assert.deepEqual(await argoHealth(ready), { status: "Healthy", message: "Backup is scheduled" });
  assert.equal((await argoHealth(await kube.get("stash.appscode.com/v1alpha1", "Repository", "repo", namespace))).status, "Healthy");

  // Each backup runs as a backup Job would run the runner: create-backupsession, then run-backup for that session.
  const env = {
    KUBECONFIG: cp.kubeconfig,
    POD_NAMESPACE: namespace,
    PATH: `${toolsDir()}:${process.env.PATH}`,
    RESTASH_SCRATCH_DIR: join(work, "scratch"),
    RESTASH_LOG_LEVEL: "error",
  };
  const backup = async (name: string, target: string) => {
    const created = await restash(["create-backupsession", `--invoker-name=${name}`, "--invoker-kind=BackupConfiguration"], env);
    assert.equal(created.code, 0, created.out);
    const session = await eventually(`a BackupSession of ${name} initiated`, async () => {
      const s = (await kube.list("stash.appscode.com/v1beta1", "BackupSession", namespace)).items.find((x) => x.spec?.invoker?.name === name);
      return s?.status?.targets?.[0]?.totalHosts ? s : undefined;
    });
    await restash(
      [
        "run-backup",
        `--invoker-name=${name}`,
        "--invoker-kind=BackupConfiguration",
        `--target-name=${target}`,
        `--target-namespace=${namespace}`,
        "--target-kind=Deployment",
        `--backupsession=${session.metadata.name}`,
        `--pushgateway-url=${pushgateway.url}`,
      ],
      env,
    );
    return eventually(
      `BackupSession ${session.metadata.name} final`,
      async () => {
        const s = await kube.get("stash.appscode.com/v1beta1", "BackupSession", session.metadata.name!, namespace);
        return ["Succeeded", "Failed"].includes(s.status?.phase) ? s : undefined;
      },
      60_000,
    );
  };

  const good = await backup("good", "app");
  assert.equal(good.status.phase, "Succeeded", JSON.stringify(good.status));
  assert.deepEqual(await argoHealth(good), { status: "Healthy", message: "Backup succeeded" });
  const repo = await eventually("Repository status", async () => {
    const r = await kube.get("stash.appscode.com/v1alpha1", "Repository", "repo", namespace);
    return r.status?.snapshotCount === 1 ? r : undefined;
  });
  assert.deepEqual(await argoHealth(repo), { status: "Healthy", message: "1 snapshots" });

  // Events on the objects restash acted on, their reasons equal to the condition reasons.
  const eventReasons = async (kind: string, name: string) =>
    (await kube.list("v1", "Event", namespace)).items
      .filter((e: any) => e.involvedObject.kind === kind && e.involvedObject.name === name)
      .map((e: any) => `${e.type}/${e.reason}`);
  const conditionReasons = (o: KubeObject) =>
    (o.status.conditions as any[]).filter((c) => !["Ready", "Reconciling"].includes(c.type) && c.reason).map((c) => c.reason as string);
  const sessionEvents = await eventually("BackupSession events", async () => {
    const got = await eventReasons("BackupSession", good.metadata.name!);
    return conditionReasons(good).every((r) => got.some((g) => g.endsWith(`/${r}`))) ? got : undefined;
  });
  assert.ok(sessionEvents.includes("Normal/SuccessfullyPushedMetrics"), sessionEvents.join(","));
  const bcEvents = await eventReasons("BackupConfiguration", "good");
  for (const r of conditionReasons(ready)) assert.ok(bcEvents.includes(`Normal/${r}`), `${r} not in ${bcEvents.join(",")}`);

  const bad = await backup("bad", "other");
  assert.equal(bad.status.phase, "Failed");
  // A RestoreSession that nothing runs (no kubelet starts its init-container) fails at its deadline.
  await kube.apply({
    apiVersion: "stash.appscode.com/v1beta1",
    kind: "RestoreSession",
    metadata: { name: "late", namespace },
    spec: {
      repository: { name: "repo" },
      target: { ref: { apiVersion: "apps/v1", kind: "Deployment", name: "other" }, rules: [{ paths: [empty] }] },
      timeOut: "2s",
    },
  });
  const late = await eventually(
    "RestoreSession late Failed at its deadline",
    async () => {
      const o = await kube.get("stash.appscode.com/v1beta1", "RestoreSession", "late", namespace);
      return o.status?.phase === "Failed" ? o : undefined;
    },
    30_000,
  );
  const verdict = await argoHealth(bad);
  assert.equal(verdict.status, "Degraded");
  assert.match(verdict.message, /^host-0: nothing to back up at .*empty/);

  // A paused configuration is Suspended for Argo CD; an unreachable policy remote is Degraded.
  await kube.mergePatch(
    { apiVersion: "stash.appscode.com/v1beta1", kind: "BackupConfiguration", metadata: { name: "good", namespace } },
    { spec: { paused: true } },
  );
  const paused = await eventually("paused observed", async () => {
    const o = await kube.get("stash.appscode.com/v1beta1", "BackupConfiguration", "good", namespace);
    return o.status?.observedGeneration === o.metadata.generation ? o : undefined;
  });
  assert.deepEqual(await argoHealth(paused), { status: "Suspended", message: "Backup is paused" });
  await kube.apply({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "sync", namespace } });
  await kube.apply({
    apiVersion: "restash.dev/v1alpha1",
    kind: "PolicySource",
    metadata: { name: "gone", namespace },
    spec: { url: `file://${join(work, "no-such-remote.git")}`, branch: "main", interval: "1m", serviceAccountName: "sync" },
  });
  const source = await eventually(
    "PolicySource judged",
    async () => {
      const s = await kube.get("restash.dev/v1alpha1", "PolicySource", "gone", namespace);
      return (s.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "False") ? s : undefined;
    },
    60_000,
  );
  const sourceVerdict = await argoHealth(source);
  assert.equal(sourceVerdict.status, "Degraded", JSON.stringify(source.status));

  // /metrics: reconcile durations per kind, queue depth, backup freshness, sync state.
  const metrics = await (await http("/metrics")).text();
  const value = (re: RegExp) => Number(metrics.match(re)?.[1] ?? NaN);
  assert.ok(value(/^restash_reconcile_duration_seconds_count\{kind="BackupConfiguration"\} (\d+)/m) >= 2, metrics);
  assert.match(metrics, /^restash_workqueue_depth\{kind="BackupSession"\} \d+/m);
  const lastGood = value(
    new RegExp(`^restash_backupconfiguration_last_success_timestamp_seconds\\{namespace="${namespace}",name="good",kind="BackupConfiguration"\\} (\\d+)`, "m"),
  );
  assert.equal(lastGood, Date.parse(String(good.metadata.creationTimestamp)) / 1000);
  assert.equal(
    value(
      new RegExp(`^restash_backupconfiguration_last_success_timestamp_seconds\\{namespace="${namespace}",name="bad",kind="BackupConfiguration"\\} (\\d+)`, "m"),
    ),
    0,
  );
  // The latest backup of "bad" failed (its failure is newer than its success, 0); "good" never failed.
  assert.equal(
    value(
      new RegExp(`^restash_backupconfiguration_last_failure_timestamp_seconds\\{namespace="${namespace}",name="bad",kind="BackupConfiguration"\\} (\\d+)`, "m"),
    ),
    Date.parse(String(bad.metadata.creationTimestamp)) / 1000,
  );
  assert.equal(
    value(
      new RegExp(
        `^restash_backupconfiguration_last_failure_timestamp_seconds\\{namespace="${namespace}",name="good",kind="BackupConfiguration"\\} (\\d+)`,
        "m",
      ),
    ),
    0,
  );
  assert.equal(
    value(
      new RegExp(`^restash_backupconfiguration_schedule_interval_seconds\\{namespace="${namespace}",name="good",kind="BackupConfiguration"\\} (\\d+)`, "m"),
    ),
    300,
  );
  assert.equal(
    value(new RegExp(`^restash_backupconfiguration_schedule_interval_seconds\\{namespace="${namespace}",name="nightly",kind="BackupBatch"\\} (\\d+)`, "m")),
    3600,
  );
  assert.equal(
    value(
      new RegExp(`^restash_backupconfiguration_last_success_timestamp_seconds\\{namespace="${namespace}",name="nightly",kind="BackupBatch"\\} (\\d+)`, "m"),
    ),
    0,
  );
  assert.equal(value(new RegExp(`^restash_policysource_ready\\{namespace="${namespace}",name="gone"\\} (\\d+)`, "m")), 0);
  // The failed RestoreSession, at the time it failed: not before it was created, not after now.
  const failedAt = value(new RegExp(`^restash_restoresession_failed_timestamp_seconds\\{namespace="${namespace}",name="late"\\} (\\d+)`, "m"));
  assert.ok(failedAt >= Date.parse(String(late.metadata.creationTimestamp)) / 1000 && failedAt <= Date.now() / 1000, `${failedAt}`);
});
