import { test, after } from "node:test";
import assert from "node:assert/strict";
import { testNamespace, stopControlPlane } from "../../testing/cluster.ts";
import { startOperator } from "../operator.ts";
import { backupConfiguration, deployment, eventually, repository, secret } from "../../testing/stash-objects.ts";
import type { Kube } from "../../lib/kube/client.ts";

// The shared control plane holds child processes; stop it when the whole run ends.
after(() => stopControlPlane());

const cond = (o: any, type: string) => (o?.status?.conditions ?? []).find((c: any) => c.type === type);
const getBC = (kube: Kube, ns: string, name: string) => kube.getOrNull<any>("stash.appscode.com/v1beta1", "BackupConfiguration", name, ns);

test("a BackupConfiguration for a Deployment gets its CronJob, the sidecar, a Repository reference and phase Ready", async (t) => {
  const { kube, namespace } = await testNamespace("bc-ready");
  const op = startOperator({ kube, namespace, image: "restash:test", pushgatewayUrl: "http://pgw:9091" });
  t.after(() => op.stop());
  await kube.apply(secret(namespace, "repo-secret", { RESTIC_PASSWORD: "not-a-real-password" }));
  await kube.apply(repository(namespace, "repo", { local: { mountPath: "/safe/data", hostPath: { path: "/tmp/x" } } }));
  await kube.apply(deployment(namespace, "app"));
  await kube.apply(backupConfiguration(namespace, "app-backup", { kind: "Deployment", name: "app" }, "repo"));

  const bc = await eventually("phase Ready", async () => {
    const o = await getBC(kube, namespace, "app-backup");
    return o?.status?.phase === "Ready" && o;
  });
  for (const type of ["RepositoryFound", "BackendSecretFound", "ValidationPassed", "BackupTargetFound", "CronJobCreated", "StashSidecarInjected", "Ready"]) {
    assert.equal(cond(bc, type)?.status, "True", `${type}: ${JSON.stringify(cond(bc, type))}`);
    assert.equal(cond(bc, type)?.observedGeneration, bc.metadata.generation);
  }
  assert.equal(cond(bc, "RepositoryFound").message, `Repository ${namespace}/repo exist.`);
  assert.deepEqual(bc.metadata.finalizers, ["stash.appscode.com"]);

  const cj = await kube.get<any>("batch/v1", "CronJob", "stash-trigger-app-backup", namespace);
  assert.equal(cj.spec.schedule, "*/5 * * * *");
  assert.equal(cj.spec.suspend, false);
  assert.deepEqual(cj.spec.jobTemplate.spec.template.spec.containers[0].args, [
    "create-backupsession",
    "--invoker-name=app-backup",
    "--invoker-kind=BackupConfiguration",
  ]);
  assert.equal(cj.metadata.ownerReferences[0].uid, bc.metadata.uid);

  const dep = await kube.get<any>("apps/v1", "Deployment", "app", namespace);
  const sidecar = dep.spec.template.spec.containers.find((c: any) => c.name === "stash");
  assert.ok(sidecar, "sidecar injected");
  assert.deepEqual(sidecar.args.slice(0, 6), [
    "run-backup",
    "--invoker-name=app-backup",
    "--invoker-kind=BackupConfiguration",
    "--target-name=app",
    `--target-namespace=${namespace}`,
    "--target-kind=Deployment",
  ]);
  assert.ok(dep.spec.template.spec.volumes.some((v: any) => v.name === "stash-tmp-dir"));
  assert.ok(dep.spec.template.metadata.annotations["stash.appscode.com/last-applied-backup-invoker-hash"]);
  assert.equal(dep.metadata.annotations["stash.appscode.com/last-applied-backup-invoker-kind"], "BackupConfiguration");

  const repo = await eventually("Repository references the configuration", async () => {
    const r = await kube.get<any>("stash.appscode.com/v1alpha1", "Repository", "repo", namespace);
    return r.status?.references?.length === 1 && r;
  });
  assert.deepEqual(repo.status.references, [{ kind: "BackupConfiguration", namespace, name: "app-backup" }]);
  assert.deepEqual(repo.metadata.finalizers, ["stash"]);

  // Pausing suspends the CronJob and keeps the sidecar (no restart).
  const hash = dep.spec.template.metadata.annotations["stash.appscode.com/last-applied-backup-invoker-hash"];
  await kube.mergePatch(bc, { spec: { paused: true } });
  await eventually("suspended CronJob", async () => (await kube.get<any>("batch/v1", "CronJob", "stash-trigger-app-backup", namespace)).spec.suspend === true);
  const dep2 = await kube.get<any>("apps/v1", "Deployment", "app", namespace);
  assert.equal(dep2.spec.template.metadata.annotations["stash.appscode.com/last-applied-backup-invoker-hash"], hash);

  // Deleting the configuration removes the sidecar, the CronJob and the reference.
  await kube.delete(bc);
  await eventually("BackupConfiguration gone", async () => (await getBC(kube, namespace, "app-backup")) === null);
  const dep3 = await kube.get<any>("apps/v1", "Deployment", "app", namespace);
  assert.deepEqual(
    dep3.spec.template.spec.containers.map((c: any) => c.name),
    ["app"],
  );
  assert.ok(!dep3.spec.template.spec.volumes.some((v: any) => v.name === "stash-tmp-dir"));
  assert.equal(dep3.metadata.annotations?.["stash.appscode.com/last-applied-backup-invoker"], undefined);
  assert.equal(await kube.getOrNull("batch/v1", "CronJob", "stash-trigger-app-backup", namespace), null);
  await eventually(
    "reference removed",
    async () => (await kube.get<any>("stash.appscode.com/v1alpha1", "Repository", "repo", namespace)).status?.references === undefined,
  );
});

test("a BackupConfiguration whose Repository is missing is NotReady, and becomes Ready when it appears", async (t) => {
  const { kube, namespace } = await testNamespace("bc-norepo");
  const op = startOperator({ kube, namespace, image: "restash:test" });
  t.after(() => op.stop());
  await kube.apply(deployment(namespace, "app"));
  await kube.apply(backupConfiguration(namespace, "b", { kind: "Deployment", name: "app" }, "later"));
  const bc = await eventually("RepositoryFound False", async () => {
    const o = await getBC(kube, namespace, "b");
    return cond(o, "RepositoryFound")?.status === "False" && o;
  });
  assert.equal(bc.status.phase, "NotReady");
  assert.equal(cond(bc, "RepositoryFound").reason, "RepositoryNotAvailable");
  assert.equal(cond(bc, "RepositoryFound").message, `Repository ${namespace}/later does not exist.`);
  assert.equal(cond(bc, "Reconciling")?.status, "True");
  assert.equal(cond(bc, "Ready")?.status, "False");
  await kube.apply(secret(namespace, "later-secret", { RESTIC_PASSWORD: "pw-pw-pw" }));
  await kube.apply(repository(namespace, "later", { s3: { endpoint: "http://127.0.0.1:1", bucket: "b" } }));
  await eventually("Ready", async () => (await getBC(kube, namespace, "b"))?.status?.phase === "Ready");
});

test("an invalid schedule makes the BackupConfiguration Invalid and Stalled, naming the field", async (t) => {
  const { kube, namespace } = await testNamespace("bc-invalid");
  const op = startOperator({ kube, namespace, image: "restash:test" });
  t.after(() => op.stop());
  await kube.apply(secret(namespace, "r-secret", { RESTIC_PASSWORD: "pw-pw-pw" }));
  await kube.apply(repository(namespace, "r", { s3: { endpoint: "http://127.0.0.1:1", bucket: "b" } }));
  await kube.apply(backupConfiguration(namespace, "bad", { kind: "PersistentVolumeClaim", name: "data" }, "r", { schedule: "every monday" }));
  const bc = await eventually("Invalid", async () => {
    const o = await getBC(kube, namespace, "bad");
    return o?.status?.phase === "Invalid" && o;
  });
  assert.equal(cond(bc, "ValidationPassed").status, "False");
  assert.match(
    cond(bc, "ValidationPassed").message,
    new RegExp(`^BackupConfiguration ${namespace}/bad, field spec.schedule: "every monday" is not a cron expression`),
  );
  assert.equal(cond(bc, "Stalled").status, "True");
  assert.equal(await kube.getOrNull("batch/v1", "CronJob", "stash-trigger-bad", namespace), null);
});

test("two BackupConfigurations on one Deployment: the newest has the sidecar, the other injects none and names it; when the newest goes, the other takes over", async (t) => {
  const { kube, namespace } = await testNamespace("bc-rivals");
  const op = startOperator({ kube, namespace, image: "restash:test", pushgatewayUrl: "http://pgw:9091" });
  t.after(() => op.stop());
  await kube.apply(secret(namespace, "repo-secret", { RESTIC_PASSWORD: "not-a-real-password" }));
  await kube.apply(repository(namespace, "repo", { local: { mountPath: "/safe/data", hostPath: { path: "/tmp/x" } } }));
  await kube.apply(deployment(namespace, "app"));
  // The workload records the invoker whose sidecar it carries (Stash's annotation: the invoker as JSON).
  const invokerOf = async () => {
    const recorded = (await kube.get<any>("apps/v1", "Deployment", "app", namespace)).metadata.annotations?.["stash.appscode.com/last-applied-backup-invoker"];
    return recorded ? JSON.parse(recorded).metadata.name : undefined;
  };
  await kube.apply(backupConfiguration(namespace, "older", { kind: "Deployment", name: "app" }, "repo"));
  await eventually("older Ready", async () => (await getBC(kube, namespace, "older"))?.status?.phase === "Ready");
  assert.equal(await invokerOf(), "older");
  // creationTimestamp has second resolution: the rival is created in a later second.
  const since = Math.floor(Date.now() / 1000);
  await eventually("a new second", async () => Math.floor(Date.now() / 1000) > since);
  await kube.apply(backupConfiguration(namespace, "newer", { kind: "Deployment", name: "app" }, "repo"));
  await eventually(
    "newer Ready with its sidecar",
    async () => (await getBC(kube, namespace, "newer"))?.status?.phase === "Ready" && (await invokerOf()) === "newer",
  );

  // The older one's next reconcile (a spec change) leaves the sidecar alone and says why.
  await kube.mergePatch(
    { apiVersion: "stash.appscode.com/v1beta1", kind: "BackupConfiguration", metadata: { name: "older", namespace } },
    { spec: { schedule: "0 * * * *" } },
  );
  const older = await eventually("older says the newer one has the sidecar", async () => {
    const o = await getBC(kube, namespace, "older");
    return o?.status?.observedGeneration === o?.metadata.generation && cond(o, "StashSidecarInjected")?.status === "False" && o;
  });
  assert.match(
    cond(older, "StashSidecarInjected").message,
    new RegExp(`^Deployment ${namespace}/app is backed up by BackupConfiguration ${namespace}/newer, the newest invoker that targets it`),
  );
  assert.equal(cond(older, "Stalled")?.status, "True");
  assert.equal(await invokerOf(), "newer");

  // The newer one deleted: its sidecar goes with it and the older one injects its own.
  await kube.delete({ apiVersion: "stash.appscode.com/v1beta1", kind: "BackupConfiguration", metadata: { name: "newer", namespace } });
  await eventually(
    "older has the sidecar and is Ready",
    async () => (await invokerOf()) === "older" && (await getBC(kube, namespace, "older"))?.status?.phase === "Ready",
    30_000,
  );
  assert.equal(cond(await getBC(kube, namespace, "older"), "StashSidecarInjected")?.status, "True");
});
