// BackupBatch against the real API server: the invoker's status (conditions, memberConditions,
// phase, kstatus health) and what it makes (one CronJob, a sidecar per workload member, a Job
// per PVC member), its BackupSessions (every member target, Stash's actions on the first and
// last, Sequential order, global hooks), all judged by the Argo CD health checks too.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { testNamespace, stopControlPlane } from "../testing/cluster.ts";
import { startOperator } from "../reconciler/operator.ts";
import { newBackupSession } from "../stash/new-backup-session.ts";
import { deployment, eventually, repository, secret } from "../testing/stash-objects.ts";
import { updateStatus } from "../lib/status.ts";
import { backupStatusWith } from "../restic-runner/tasks/update-status.ts";
import { argoHealth } from "../deploy/argocd/argo-health.ts";
import type { Kube } from "../lib/kube/client.ts";

after(() => stopControlPlane());

const V1B = "stash.appscode.com/v1beta1";
const cond = (list: any[] | undefined, type: string) => (list ?? []).find((c: any) => c.type === type);
const get = (kube: Kube, kind: string, ns: string, name: string) => kube.getOrNull<any>(V1B, kind, name, ns);

function backupBatch(namespace: string, name: string, members: any[], extra: Record<string, unknown> = {}): any {
  return {
    apiVersion: V1B,
    kind: "BackupBatch",
    metadata: { name, namespace, labels: { team: "web" } },
    spec: { repository: { name: "repo" }, schedule: "*/5 * * * *", retentionPolicy: { name: "keep-last-5", keepLast: 5, prune: true }, members, ...extra },
  };
}

const workloadMember = (name: string) => ({
  target: {
    ref: { apiVersion: "apps/v1", kind: "Deployment", name },
    volumeMounts: [{ name: "source-data", mountPath: "/source/data" }],
    paths: ["/source/data"],
  },
});

async function repo(kube: Kube, namespace: string) {
  await kube.apply(secret(namespace, "repo-secret", { RESTIC_PASSWORD: "pw-for-tests-only" }));
  await kube.apply(repository(namespace, "repo", { s3: { endpoint: "http://127.0.0.1:1", bucket: "b" } }));
}

/** Writes one host's result into a session target as the runner does (its own status function). */
async function hostDone(kube: Kube, namespace: string, session: string, target: string) {
  await updateStatus(kube, { apiVersion: V1B, kind: "BackupSession", name: session, namespace }, (status, obj) =>
    backupStatusWith(
      status,
      { kind: "backup", command: "run-backup", hostname: "host-0", phase: "Succeeded", duration: "1s", snapshots: [] },
      { kind: "Deployment", name: target, namespace },
      new Date(),
      obj.metadata.generation,
    ),
  );
}

test("a BackupBatch of two Deployments and a PVC: Ready with member conditions, one CronJob, a sidecar per Deployment, a Job for the PVC, and sessions listing every member", async (t) => {
  const { kube, namespace } = await testNamespace("bb-ready");
  const op = startOperator({ kube, namespace, image: "restash:test" });
  t.after(() => op.stop());
  await repo(kube, namespace);
  await kube.apply(deployment(namespace, "web"));
  await kube.apply(deployment(namespace, "api"));
  await kube.apply({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: "data", namespace },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
  });
  const pvcMember = { target: { ref: { apiVersion: "v1", kind: "PersistentVolumeClaim", name: "data" }, paths: ["/stash-data"] } };
  await kube.apply(backupBatch(namespace, "batch", [workloadMember("web"), workloadMember("api"), pvcMember]));

  const bb = await eventually("BackupBatch Ready", async () => {
    const o = await get(kube, "BackupBatch", namespace, "batch");
    return o?.status?.phase === "Ready" && o;
  });
  assert.equal(bb.status.observedGeneration, bb.metadata.generation);
  for (const type of ["RepositoryFound", "BackendSecretFound", "ValidationPassed", "CronJobCreated", "Ready"])
    assert.equal(cond(bb.status.conditions, type)?.status, "True", type);
  assert.equal(cond(bb.status.conditions, "BackupTargetFound"), undefined, "target conditions are the members'");
  assert.deepEqual(
    bb.status.memberConditions.map((m: any) => [
      m.target.kind,
      m.target.name,
      m.target.namespace,
      m.conditions
        .map((c: any) => `${c.type}=${c.status}`)
        .sort()
        .join(","),
    ]),
    [
      ["Deployment", "web", namespace, "BackupTargetFound=True,StashSidecarInjected=True"],
      ["Deployment", "api", namespace, "BackupTargetFound=True,StashSidecarInjected=True"],
      ["PersistentVolumeClaim", "data", namespace, "BackupTargetFound=True"],
    ],
  );
  assert.equal(
    bb.status.memberConditions[0].conditions.find((c: any) => c.type === "StashSidecarInjected").message,
    `Successfully injected stash sidecar into Deployment ${namespace}/web`,
  );
  assert.deepEqual(await argoHealth(bb), { status: "Healthy", message: "Backup of 3 members is scheduled" });

  const cj = await kube.get<any>("batch/v1", "CronJob", "stash-trigger-batch", namespace);
  assert.deepEqual(cj.spec.jobTemplate.spec.template.spec.containers[0].args, ["create-backupsession", "--invoker-name=batch", "--invoker-kind=BackupBatch"]);
  assert.deepEqual(
    cj.metadata.ownerReferences.map((o: any) => [o.kind, o.uid]),
    [["BackupBatch", bb.metadata.uid]],
  );
  assert.equal(cj.spec.suspend, false);
  for (const name of ["web", "api"]) {
    const dep = await kube.get<any>("apps/v1", "Deployment", name, namespace);
    const sidecar = dep.spec.template.spec.containers.find((c: any) => c.name === "stash");
    assert.deepEqual(sidecar.args.slice(0, 6), [
      "run-backup",
      "--invoker-name=batch",
      "--invoker-kind=BackupBatch",
      `--target-name=${name}`,
      `--target-namespace=${namespace}`,
      "--target-kind=Deployment",
    ]);
    assert.equal(dep.metadata.annotations["stash.appscode.com/last-applied-backup-invoker-kind"], "BackupBatch");
  }

  // A session: every member target, Stash's pre/post actions on the first/last, the PVC's Job.
  const created = await kube.create(newBackupSession(bb, 1_700_000_000));
  assert.equal(created.metadata.labels["stash.appscode.com/target-name"], "web", "target labels of the first member");
  const s = await eventually("session Running with three targets", async () => {
    const o = await get(kube, "BackupSession", namespace, "batch-1700000000");
    return o?.status?.phase === "Running" && o.status.targets?.length === 3 && o;
  });
  assert.deepEqual(
    s.status.targets.map((x: any) => [x.ref.kind, x.ref.name, x.totalHosts, x.phase, cond(x.conditions, "BackupExecutorEnsured")?.status]),
    [
      ["Deployment", "web", 1, "Running", "True"],
      ["Deployment", "api", 1, "Running", "True"],
      ["PersistentVolumeClaim", "data", 1, "Running", "True"],
    ],
  );
  assert.deepEqual(
    s.status.targets.map((x: any) => [x.preBackupActions, x.postBackupActions]),
    [
      [["InitializeBackendRepository"], undefined],
      [undefined, undefined],
      [undefined, ["ApplyRetentionPolicy", "VerifyRepositoryIntegrity", "SendRepositoryMetrics"]],
    ],
  );
  const job = await kube.get<any>("batch/v1", "Job", "stash-backup-batch-1700000000-2", namespace);
  assert.deepEqual(
    job.metadata.ownerReferences.map((o: any) => o.kind),
    ["BackupSession"],
  );
  const args = job.spec.template.spec.containers[0].args;
  for (const a of [
    "--invoker-name=batch",
    "--invoker-kind=BackupBatch",
    "--target-name=data",
    "--target-kind=PersistentVolumeClaim",
    "--backupsession=batch-1700000000",
  ])
    assert.ok(args.includes(a), `${a} in ${args.join(" ")}`);
  assert.deepEqual(
    job.spec.template.spec.volumes.find((v: any) => v.name === "stash-target"),
    { name: "stash-target", persistentVolumeClaim: { claimName: "data" } },
  );
  assert.equal((await argoHealth(s)).status, "Progressing");

  // Pausing suspends the CronJob only; Argo CD shows the batch Suspended.
  await kube.mergePatch(bb, { spec: { paused: true } });
  await eventually("suspended CronJob", async () => (await kube.get<any>("batch/v1", "CronJob", "stash-trigger-batch", namespace)).spec.suspend === true);
  const paused = await eventually("observed", async () => {
    const o = await get(kube, "BackupBatch", namespace, "batch");
    return o.status.observedGeneration === o.metadata.generation && o;
  });
  assert.equal((await argoHealth(paused)).status, "Suspended");

  // Deleting the batch takes every sidecar and the CronJob away.
  await kube.delete(bb);
  await eventually("BackupBatch gone", async () => (await get(kube, "BackupBatch", namespace, "batch")) === null);
  for (const name of ["web", "api"]) {
    const dep = await kube.get<any>("apps/v1", "Deployment", name, namespace);
    assert.deepEqual(
      dep.spec.template.spec.containers.map((c: any) => c.name),
      ["app"],
      name,
    );
    assert.equal(dep.metadata.annotations?.["stash.appscode.com/last-applied-backup-invoker"], undefined);
  }
  assert.equal(await kube.getOrNull("batch/v1", "CronJob", "stash-trigger-batch", namespace), null);
});

test("a missing member keeps the BackupBatch without a CronJob, naming the member; an invalid member is Stalled with the member's field", async (t) => {
  const { kube, namespace } = await testNamespace("bb-missing");
  const op = startOperator({ kube, namespace, image: "restash:test" });
  t.after(() => op.stop());
  await repo(kube, namespace);
  await kube.apply(deployment(namespace, "web"));
  await kube.apply(backupBatch(namespace, "batch", [workloadMember("web"), workloadMember("later")]));
  const bb = await eventually("member not found", async () => {
    const o = await get(kube, "BackupBatch", namespace, "batch");
    return cond(o?.status?.memberConditions?.[1]?.conditions, "BackupTargetFound")?.status === "False" && o;
  });
  assert.equal(cond(bb.status.memberConditions[1].conditions, "BackupTargetFound").message, `Backup target Deployment ${namespace}/later does not exist.`);
  assert.equal(cond(bb.status.memberConditions[0].conditions, "BackupTargetFound").status, "True", "the other member was looked at too");
  assert.match(cond(bb.status.conditions, "Reconciling").message, /field spec\.members\[1\]\.target\.ref: backup target Deployment .*\/later does not exist/);
  assert.equal(await kube.getOrNull("batch/v1", "CronJob", "stash-trigger-batch", namespace), null);
  assert.equal((await argoHealth(bb)).status, "Progressing");
  assert.match((await argoHealth(bb)).message, /^Deployment later: Backup target/);
  await kube.apply(deployment(namespace, "later"));
  await eventually("Ready once the member exists", async () => (await get(kube, "BackupBatch", namespace, "batch"))?.status?.phase === "Ready");

  await kube.apply(backupBatch(namespace, "twice", [workloadMember("web"), workloadMember("web")]));
  const bad = await eventually("Invalid", async () => {
    const o = await get(kube, "BackupBatch", namespace, "twice");
    return o?.status?.phase === "Invalid" && o;
  });
  assert.equal(
    cond(bad.status.conditions, "ValidationPassed").message,
    `BackupBatch ${namespace}/twice, field spec.members[1].target.ref: Deployment ${namespace}/web is the target of an earlier member`,
  );
  assert.deepEqual(await argoHealth(bad), { status: "Degraded", message: cond(bad.status.conditions, "Stalled").message });
});

test("Sequential order: the second member starts once the first is done; the global hooks run once, before and after, and a failing preBackup hook fails the session without starting a member", async (t) => {
  const { kube, namespace } = await testNamespace("bb-order");
  const calls: { path: string; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      calls.push({ path: req.url!, body });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  t.after(() => server.close());
  const port = (server.address() as any).port;
  const op = startOperator({ kube, namespace, image: "restash:test" });
  t.after(() => op.stop());
  await repo(kube, namespace);
  await kube.apply(deployment(namespace, "first"));
  await kube.apply(deployment(namespace, "second"));
  const hooks = {
    preBackup: { httpGet: { host: "127.0.0.1", port, path: "/pre" } },
    postBackup: {
      executionPolicy: "OnSuccess",
      httpPost: { host: "127.0.0.1", port, path: "/post", body: "{{ .Invoker.Kind }} {{ .Name }} {{ .Status.Phase }}" },
    },
  };
  await kube.apply(backupBatch(namespace, "seq", [workloadMember("first"), workloadMember("second")], { executionOrder: "Sequential", hooks }));
  const bb = await eventually("Ready", async () => {
    const o = await get(kube, "BackupBatch", namespace, "seq");
    return o?.status?.phase === "Ready" && o;
  });
  await kube.create(newBackupSession(bb, 1_700_000_100));
  const name = "seq-1700000100";
  const s1 = await eventually("first target initiated", async () => {
    const o = await get(kube, "BackupSession", namespace, name);
    return o?.status?.targets?.length === 2 && o;
  });
  assert.deepEqual(
    s1.status.targets.map((x: any) => [x.ref.name, x.phase, x.totalHosts]),
    [
      ["first", "Running", 1],
      ["second", "Pending", undefined],
    ],
  );
  assert.equal(cond(s1.status.conditions, "GlobalPreBackupHookSucceeded")?.reason, "GlobalPreBackupHookExecutedSuccessfully");
  assert.deepEqual(
    calls.map((c) => c.path),
    ["/pre"],
  );

  await hostDone(kube, namespace, name, "first");
  const s2 = await eventually("second target initiated", async () => {
    const o = await get(kube, "BackupSession", namespace, name);
    return o?.status?.targets?.[1]?.phase === "Running" && o;
  });
  assert.equal(s2.status.targets[0].phase, "Succeeded");
  assert.equal(s2.status.phase, "Running");
  assert.deepEqual(s2.status.targets[1].postBackupActions, ["ApplyRetentionPolicy", "VerifyRepositoryIntegrity", "SendRepositoryMetrics"]);

  await hostDone(kube, namespace, name, "second");
  const done = await eventually("session final", async () => {
    const o = await get(kube, "BackupSession", namespace, name);
    return ["Succeeded", "Failed"].includes(o?.status?.phase) && o;
  });
  assert.equal(done.status.phase, "Succeeded", JSON.stringify(done.status.conditions));
  assert.equal(cond(done.status.conditions, "GlobalPostBackupHookSucceeded")?.status, "True");
  assert.deepEqual(
    calls.map((c) => [c.path, c.body]),
    [
      ["/pre", ""],
      ["/post", `BackupBatch ${name} Succeeded`],
    ],
    "each global hook ran once",
  );
  assert.deepEqual(await argoHealth(done), { status: "Healthy", message: "Backup succeeded" });

  // A global preBackup hook that fails ends the session: no member starts.
  await kube.mergePatch(bb, { spec: { hooks: { preBackup: { httpGet: null, tcpSocket: { host: "127.0.0.1", port: 1 } } } } });
  const bb2 = await eventually("Ready again", async () => {
    const o = await get(kube, "BackupBatch", namespace, "seq");
    return o?.status?.observedGeneration === o?.metadata.generation && o.status.phase === "Ready" && o;
  });
  await kube.create(newBackupSession(bb2, 1_700_000_200));
  const failed = await eventually("Failed", async () => {
    const o = await get(kube, "BackupSession", namespace, "seq-1700000200");
    return o?.status?.phase === "Failed" && o;
  });
  assert.equal(cond(failed.status.conditions, "GlobalPreBackupHookSucceeded").reason, "GlobalPreBackupHookExecutionFailed");
  assert.match(
    cond(failed.status.conditions, "GlobalPreBackupHookSucceeded").message,
    /^Failed to execute global PreBackup Hook\. Reason: tcp 127\.0\.0\.1:1 is not open/,
  );
  assert.equal(failed.status.targets, undefined, "no member started");
  assert.equal(cond(failed.status.conditions, "GlobalPostBackupHookSucceeded"), undefined, "no postBackup after a failed preBackup");
  const health = await argoHealth(failed);
  assert.equal(health.status, "Degraded");
});
