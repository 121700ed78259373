// The batch kinds through the pure functions every executor uses: an invoker's targets, one
// member's view, the execution order, the session labels, the sidecar and init-container a member
// gets, and Stash's RestoreBatch phase rules.
import { test } from "node:test";
import assert from "node:assert/strict";
import { executionOrder, memberView, nextInOrder, targetFor, targetsOf } from "../stash/invoker-targets.ts";
import { newBackupSession } from "../stash/new-backup-session.ts";
import { desiredCronJob } from "../reconciler/backup-configuration/cronjob.ts";
import { desiredRestoreJob } from "../reconciler/restore-session/restore-job.ts";
import { backupSessionCompleted, restoreBatchCompleted, restoreBatchPhase, restoreTargetPhase } from "../stash/phases.ts";
import { injectInitContainer, injectSidecar } from "../stash/pod-template.ts";
import { restoreSummary } from "../restic-runner/commands/restore-hooks.ts";
import type { BackupBatch, BackupConfiguration, RestoreBatch } from "../schema/types.generated.ts";

const c = (type: string, status: "True" | "False" | "Unknown") => ({ type, status });

const batch: BackupBatch = {
  apiVersion: "stash.appscode.com/v1beta1",
  kind: "BackupBatch",
  metadata: { name: "app-batch", namespace: "prod", uid: "u-1", labels: { team: "web" } },
  spec: {
    repository: { name: "repo" },
    schedule: "0 * * * *",
    runtimeSettings: { pod: { serviceAccountName: "trigger-sa" } },
    hooks: { preBackup: { httpGet: { port: 8080 } } },
    retentionPolicy: { name: "keep", keepLast: 3, prune: true },
    members: [
      {
        target: { ref: { apiVersion: "apps/v1", kind: "Deployment", name: "web" }, paths: ["/data"], volumeMounts: [{ name: "data", mountPath: "/data" }] },
        tempDir: { medium: "Memory" },
      },
      {
        target: { alias: "db", ref: { apiVersion: "v1", kind: "PersistentVolumeClaim", name: "db-data", namespace: "prod" }, paths: ["/stash-data"] },
        hooks: { postBackup: { tcpSocket: { port: 5432 } } },
      },
    ],
  },
};

test("a BackupConfiguration has one target; a BackupBatch one per member, namespaces defaulted, fields named", () => {
  const bc = {
    kind: "BackupConfiguration",
    metadata: { name: "bc", namespace: "ns" },
    spec: { target: { ref: { kind: "Deployment", name: "x" } }, task: { name: "" }, hooks: { preBackup: {} } },
  } as BackupConfiguration;
  assert.deepEqual(targetsOf(bc), [
    {
      index: 0,
      target: { ref: { kind: "Deployment", name: "x", namespace: "ns" } },
      task: { name: "" },
      runtimeSettings: undefined,
      tempDir: undefined,
      interimVolumeTemplate: undefined,
      hooks: { preBackup: {} },
      field: "spec.target",
    },
  ]);
  const t = targetsOf(batch);
  assert.deepEqual(
    t.map((x) => [x.index, x.target?.ref?.name, x.target?.ref?.namespace, x.field]),
    [
      [0, "web", "prod", "spec.members[0].target"],
      [1, "db-data", "prod", "spec.members[1].target"],
    ],
  );
  assert.equal(targetFor(batch, { kind: "PersistentVolumeClaim", name: "db-data", namespace: "prod" })?.index, 1);
  assert.equal(targetFor(batch, { kind: "Deployment", name: "db-data", namespace: "prod" }), undefined);
});

test("a member's view has the member's target, settings and hooks, and the batch's kind, repository and retention; the global hooks are not in it", () => {
  const v: any = memberView(batch, targetsOf(batch)[1]);
  assert.equal(v.kind, "BackupBatch");
  assert.equal(v.metadata.name, "app-batch");
  assert.equal(v.spec.target.alias, "db");
  assert.deepEqual(v.spec.hooks, { postBackup: { tcpSocket: { port: 5432 } } });
  assert.equal(v.spec.runtimeSettings, undefined, "the batch's runtimeSettings are the CronJob's");
  assert.deepEqual(v.spec.retentionPolicy, batch.spec.retentionPolicy);
  assert.equal((v.spec as any).members, undefined);
  assert.equal(batch.spec.members!.length, 2, "the batch is not modified");
  const bc = { kind: "BackupConfiguration", metadata: { name: "bc" }, spec: { target: {} } } as BackupConfiguration;
  assert.equal(memberView(bc, targetsOf(bc)[0]), bc, "a single-target invoker is its own view");
});

test("execution order: single-target kinds are Sequential, batches Parallel unless told; Sequential waits for every earlier target", () => {
  assert.equal(executionOrder({ kind: "BackupConfiguration", spec: {} } as BackupConfiguration), "Sequential");
  assert.equal(executionOrder(batch), "Parallel");
  assert.equal(executionOrder({ ...batch, spec: { ...batch.spec, executionOrder: "Sequential" } }), "Sequential");
  const complete = [true, false, false];
  assert.equal(
    nextInOrder("Parallel", 2, (i) => complete[i]),
    true,
  );
  assert.equal(
    nextInOrder("Sequential", 0, (i) => complete[i]),
    true,
  );
  assert.equal(
    nextInOrder("Sequential", 1, (i) => complete[i]),
    true,
  );
  assert.equal(
    nextInOrder("Sequential", 2, (i) => complete[i]),
    false,
  );
});

test("a BackupBatch's BackupSession and CronJob: invoker BackupBatch, target labels of the first member", () => {
  const s = newBackupSession(batch, 1_700_000_000);
  assert.equal(s.metadata.name, "app-batch-1700000000");
  assert.deepEqual(s.spec.invoker, { apiGroup: "stash.appscode.com", kind: "BackupBatch", name: "app-batch" });
  assert.equal(s.metadata.labels["stash.appscode.com/invoker-type"], "BackupBatch");
  assert.equal(s.metadata.labels["stash.appscode.com/target-kind"], "Deployment");
  assert.equal(s.metadata.labels["stash.appscode.com/target-name"], "web");
  assert.equal(s.metadata.ownerReferences[0].kind, "BackupBatch");
  const cj = desiredCronJob({ ...batch, spec: { ...batch.spec, paused: true } }, { image: "restash:x" });
  assert.equal(cj.metadata.name, "stash-trigger-app-batch");
  assert.equal(cj.spec.suspend, true);
  assert.deepEqual(cj.spec.jobTemplate.spec.template.spec.containers[0].args, [
    "create-backupsession",
    "--invoker-name=app-batch",
    "--invoker-kind=BackupBatch",
  ]);
  assert.equal(cj.spec.jobTemplate.spec.template.spec.serviceAccountName, "trigger-sa");
});

test("a workload member gets the same sidecar a BackupConfiguration gives, for invoker BackupBatch and its own target and tempDir", () => {
  const t = injectSidecar({ spec: { containers: [{ name: "app" }] } }, batch, undefined, { image: "restash:x" }, targetsOf(batch)[0]);
  const sidecar = t.spec!.containers!.find((x) => x.name === "stash");
  assert.deepEqual(sidecar!.args!.slice(0, 6), [
    "run-backup",
    "--invoker-name=app-batch",
    "--invoker-kind=BackupBatch",
    "--target-name=web",
    "--target-namespace=prod",
    "--target-kind=Deployment",
  ]);
  assert.deepEqual(sidecar!.volumeMounts, [
    { name: "stash-tmp-dir", mountPath: "/stash-tmp" },
    { name: "data", mountPath: "/data" },
  ]);
  assert.deepEqual(t.spec!.volumes, [{ name: "stash-tmp-dir", emptyDir: { medium: "Memory" } }]);
  assert.ok(t.metadata!.annotations!["stash.appscode.com/last-applied-backup-invoker-hash"]);
});

test("a RestoreBatch member gets the init-container, or a restore Job owned by the batch with the member's index", () => {
  const rb: RestoreBatch = {
    apiVersion: "stash.appscode.com/v1beta1",
    kind: "RestoreBatch",
    metadata: { name: "rb", namespace: "prod", uid: "u-2" },
    spec: {
      repository: { name: "repo" },
      members: [
        { target: { ref: { apiVersion: "apps/v1", kind: "Deployment", name: "web" }, rules: [{ paths: ["/data"] }] } },
        { target: { ref: { apiVersion: "v1", kind: "PersistentVolumeClaim", name: "db-data" }, rules: [{ paths: ["/stash-data"] }] } },
      ],
    },
  };
  const [web, db] = targetsOf(rb);
  const init = injectInitContainer({ spec: { containers: [{ name: "app" }] } }, rb, undefined, { image: "restash:x" }, web).spec!.initContainers![0];
  assert.deepEqual(init.args!.slice(0, 6), [
    "restore",
    "--invoker-name=rb",
    "--invoker-kind=RestoreBatch",
    "--target-name=web",
    "--target-namespace=prod",
    "--target-kind=Deployment",
  ]);
  const job = desiredRestoreJob(memberView(rb, db), undefined, db.index, { image: "restash:x" });
  assert.equal(job.metadata.name, "stash-restore-rb-1");
  assert.deepEqual(
    job.metadata.ownerReferences.map((o: any) => [o.kind, o.name]),
    [["RestoreBatch", "rb"]],
  );
  const args = job.spec.template.spec.containers[0].args ?? [];
  assert.ok(
    args.includes("--invoker-kind=RestoreBatch") && args.includes("--target-name=db-data") && args.includes("--target-kind=PersistentVolumeClaim"),
    args.join(" "),
  );
  assert.deepEqual(
    job.spec.template.spec.volumes.find((v: any) => v.name === "stash-target"),
    { name: "stash-target", persistentVolumeClaim: { claimName: "db-data" } },
  );
  // A member's restore hooks see the batch as invoker and the member as target.
  const summary = restoreSummary(memberView(rb, db) as any, { phase: "Running" }, Date.now());
  assert.deepEqual(
    [summary.Invoker, summary.Target],
    [
      { APIGroup: "stash.appscode.com", Kind: "RestoreBatch", Name: "rb" },
      { APIVersion: "v1", Kind: "PersistentVolumeClaim", Name: "db-data", Namespace: "prod" },
    ],
  );
});

test("a BackupSession of a batch completes only once every member's target is done", () => {
  const done = { totalHosts: 1, stats: [{ phase: "Succeeded" }] };
  assert.equal(backupSessionCompleted({ targets: [done] }, 2), false, "the second member has no entry yet");
  assert.equal(backupSessionCompleted({ targets: [done, { ref: {} }] }, 2), false, "the second member is pending");
  assert.equal(backupSessionCompleted({ targets: [done, done] }, 2), true);
});

test("RestoreBatch phase is Stash's calculateRestoreBatchPhase over member phases", () => {
  const ok = { conditions: [c("RestoreExecutorEnsured", "True")], totalHosts: 1, stats: [{ phase: "Succeeded" }] };
  const running = { conditions: [c("RestoreExecutorEnsured", "True")], totalHosts: 1, stats: [] };
  const failed = { conditions: [c("RestoreExecutorEnsured", "True")], totalHosts: 1, stats: [{ phase: "Failed" }] };
  const base = [c("RepositoryFound", "True"), c("BackendSecretFound", "True"), c("ValidationPassed", "True")];
  assert.equal(restoreTargetPhase({ ref: {} }), "Pending");
  assert.equal(restoreTargetPhase(running), "Running");
  assert.equal(restoreTargetPhase(ok), "Succeeded");
  assert.equal(restoreTargetPhase({ ...ok, conditions: [c("RestoreExecutorEnsured", "False")] }), "Failed");
  assert.equal(restoreTargetPhase({ ...running, stats: [{ phase: "Unknown" }] }), "Unknown");
  assert.equal(restoreBatchPhase({}, 2), "Pending");
  assert.equal(restoreBatchPhase({ conditions: base, members: [{ ref: {} }, { ref: {} }] }, 2), "Pending");
  assert.equal(restoreBatchPhase({ conditions: [...base.slice(1), c("RepositoryFound", "False")], members: [running] }, 2), "Pending");
  assert.equal(restoreBatchPhase({ conditions: base, members: [ok, running] }, 2), "Running");
  assert.equal(restoreBatchPhase({ conditions: base, members: [ok, ok] }, 2), "Running", "Succeeded only once metrics are pushed");
  assert.equal(restoreBatchPhase({ conditions: [...base, c("MetricsPushed", "True")], members: [ok, ok] }, 2), "Succeeded");
  assert.equal(restoreBatchPhase({ conditions: base, members: [ok, failed] }, 2), "Failed", "a failed member fails the batch at once (Stash)");
  assert.equal(
    restoreBatchPhase({ conditions: [...base, c("MetricsPushed", "True"), c("GlobalPostRestoreHookSucceeded", "False")], members: [ok, ok] }, 2),
    "Failed",
  );
  assert.equal(restoreBatchPhase({ conditions: [...base, c("MetricsPushed", "False")], members: [ok, ok] }, 2), "Failed");
  assert.equal(restoreBatchCompleted({ conditions: base, members: [ok, running] }, 2), false);
  assert.equal(restoreBatchCompleted({ conditions: base, members: [ok, failed] }, 2), true);
  assert.equal(restoreBatchCompleted({ conditions: [...base, c("DeadlineExceeded", "True")], members: [running] }, 2), true);
});
