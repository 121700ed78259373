// Faults end to end: a wrong password, a missing or empty target path, a sidecar SIGKILLed in the
// middle of a backup, and a Repository deleted while a backup runs. Each ends in a clear phase
// and message, never a Succeeded that backed up nothing, and never a secret in status.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { stopControlPlane } from "../testing/cluster.ts";
import { startOperator } from "../reconciler/operator.ts";
import { eventually } from "../testing/stash-objects.ts";
import { makeFixtureTree, treeHash } from "../testing/runner.ts";
import { PASSWORD, V1B, cond, finalSession, resticSnapshots, setupBackup, startSidecar, trigger, world } from "../testing/e2e-steps.ts";

after(() => stopControlPlane());

const stalledMessage = (s: any) => cond(s.status.conditions, "Stalled")?.message ?? "";

test("a wrong repository password fails the BackupSession with a clear message and no secret in status", async (t) => {
  const w = await world("e2e-wrongpw", t);
  const op = startOperator({ kube: w.kube, namespace: w.namespace, image: "restash:e2e" });
  t.after(() => op.stop());
  const wrong = "this-is-the-wrong-password";
  const { repoDir, pathMap } = await setupBackup(w, { password: wrong, srcFill: (s) => makeFixtureTree(s, 1) });
  // The repository exists already, made with another password.
  execFileSync("restic", ["init"], { env: { ...process.env, RESTIC_REPOSITORY: repoDir, RESTIC_PASSWORD: PASSWORD }, stdio: "ignore" });
  const sidecar = await startSidecar(w, "app", { RESTASH_PATH_MAP: pathMap });
  t.after(() => sidecar.stop());
  const s = await finalSession(w, await trigger(w, "app-backup"));
  assert.equal(s.status.phase, "Failed");
  const host = s.status.targets[0].stats[0];
  assert.equal(host.phase, "Failed");
  assert.match(host.error, /wrong password/);
  assert.equal(cond(s.status.conditions, "BackendRepositoryInitialized")?.status, "False");
  assert.match(stalledMessage(s), /host host-0: .*wrong password/);
  const text = JSON.stringify(s);
  assert.ok(!text.includes(wrong) && !text.includes(PASSWORD), "no password in status");
  assert.ok(!sidecar.output().includes(wrong), "no password in logs");
});

test("a missing or empty target path fails the backup, and nothing is written to the repository", async (t) => {
  const w = await world("e2e-empty", t);
  const op = startOperator({ kube: w.kube, namespace: w.namespace, image: "restash:e2e" });
  t.after(() => op.stop());
  const { src, repoDir, pathMap } = await setupBackup(w, { srcFill: () => {} });
  const sidecar = await startSidecar(w, "app", { RESTASH_PATH_MAP: pathMap });
  t.after(() => sidecar.stop());
  const s = await finalSession(w, await trigger(w, "app-backup"));
  assert.equal(s.status.phase, "Failed");
  assert.equal(s.status.targets[0].stats[0].error, `nothing to back up at ${src}: the directory is empty`);
  assert.equal(existsSync(join(repoDir, "config")), false, "repository untouched");
  const repo = await w.kube.get<any>("stash.appscode.com/v1alpha1", "Repository", "repo", w.namespace);
  assert.equal(repo.status?.lastBackupTime, undefined, "a failed backup is not a last backup");

  // The path vanishes: still a failure, naming the path.
  await w.kube.mergePatch(
    { apiVersion: V1B, kind: "BackupConfiguration", metadata: { name: "app-backup", namespace: w.namespace } },
    { spec: { target: { paths: [join(w.dir, "nope")] } } },
  );
  await eventually("sidecar follows the new spec", async () => {
    const bc = await w.kube.get<any>(V1B, "BackupConfiguration", "app-backup", w.namespace);
    return bc.status?.observedGeneration === bc.metadata.generation && bc.status?.phase === "Ready";
  });
  const s2 = await finalSession(w, await trigger(w, "app-backup"));
  assert.equal(s2.status.phase, "Failed");
  assert.equal(s2.status.targets[0].stats[0].error, `nothing to back up at ${join(w.dir, "nope")}: the path does not exist`);
});

/** Waits until restic holds a lock in the repository (the backup is under way). */
const lockTaken = (repoDir: string) =>
  eventually("restic lock", async () => existsSync(join(repoDir, "locks")) && readdirSync(join(repoDir, "locks")).length > 0, 60_000, 20);

test("a sidecar SIGKILLed mid-backup leaves a stale lock; the restarted sidecar completes the session and the repository checks clean", async (t) => {
  const w = await world("e2e-kill", t);
  const op = startOperator({ kube: w.kube, namespace: w.namespace, image: "restash:e2e" });
  t.after(() => op.stop());
  // Upload limited to 1 MiB/s so the 6 MiB backup is still running when it is killed.
  const { src, repoDir, pathMap } = await setupBackup(w, { srcFill: (s) => makeFixtureTree(s, 6) });
  await w.kube.mergePatch(
    { apiVersion: V1B, kind: "BackupConfiguration", metadata: { name: "app-backup", namespace: w.namespace } },
    { spec: { target: { args: ["--limit-upload", "1024"] } } },
  );
  execFileSync("restic", ["init"], { env: { ...process.env, RESTIC_REPOSITORY: repoDir, RESTIC_PASSWORD: PASSWORD }, stdio: "ignore" });
  const first = await startSidecar(w, "app", { RESTASH_PATH_MAP: pathMap });
  t.after(() => first.stop());
  const name = await trigger(w, "app-backup");
  await lockTaken(repoDir);
  first.kill9();
  await first.exited;
  assert.ok(readdirSync(join(repoDir, "locks")).length > 0, "the killed restic left its lock");
  const mid = await w.kube.get<any>(V1B, "BackupSession", name, w.namespace);
  assert.equal(mid.status.phase, "Running", "no host result yet");

  const second = await startSidecar(w, "app", { RESTASH_PATH_MAP: pathMap });
  t.after(() => second.stop());
  const s = await finalSession(w, name, 120_000);
  assert.equal(s.status.phase, "Succeeded", `${JSON.stringify(s.status)}\n${second.output()}`);
  assert.equal(cond(s.status.conditions, "RepositoryIntegrityVerified")?.status, "True");
  const snaps = resticSnapshots(repoDir, PASSWORD);
  assert.equal(snaps.length, 1);
  const dst = join(w.dir, "check-restore");
  execFileSync("restic", ["restore", `${snaps[0].id}:${src}`, "--target", dst], {
    env: { ...process.env, RESTIC_REPOSITORY: repoDir, RESTIC_PASSWORD: PASSWORD },
    stdio: "ignore",
  });
  assert.equal(treeHash(dst), treeHash(src));
});

test("a Repository deleted while a backup runs is kept until the backup ends; the next session is Skipped naming the missing Repository", async (t) => {
  const w = await world("e2e-repodel", t);
  const op = startOperator({ kube: w.kube, namespace: w.namespace, image: "restash:e2e" });
  t.after(() => op.stop());
  const { repoDir, pathMap } = await setupBackup(w, { srcFill: (s) => makeFixtureTree(s, 4) });
  await w.kube.mergePatch(
    { apiVersion: V1B, kind: "BackupConfiguration", metadata: { name: "app-backup", namespace: w.namespace } },
    { spec: { target: { args: ["--limit-upload", "1024"] } } },
  );
  execFileSync("restic", ["init"], { env: { ...process.env, RESTIC_REPOSITORY: repoDir, RESTIC_PASSWORD: PASSWORD }, stdio: "ignore" });
  const sidecar = await startSidecar(w, "app", { RESTASH_PATH_MAP: pathMap });
  t.after(() => sidecar.stop());
  const name = await trigger(w, "app-backup");
  await lockTaken(repoDir);
  await w.kube.delete({ apiVersion: "stash.appscode.com/v1alpha1", kind: "Repository", metadata: { name: "repo", namespace: w.namespace } });
  const terminating = await w.kube.get<any>("stash.appscode.com/v1alpha1", "Repository", "repo", w.namespace);
  assert.ok(terminating.metadata.deletionTimestamp, "deletion waits on the finalizer");
  const s = await finalSession(w, name, 120_000);
  assert.equal(s.status.phase, "Succeeded", `the backup that ran is real: ${JSON.stringify(s.status)}`);
  assert.equal(resticSnapshots(repoDir, PASSWORD).length, 1);
  await eventually("Repository gone", async () => (await w.kube.getOrNull("stash.appscode.com/v1alpha1", "Repository", "repo", w.namespace)) === null, 30_000);
  await eventually(
    "BackupConfiguration NotReady",
    async () => (await w.kube.get<any>(V1B, "BackupConfiguration", "app-backup", w.namespace)).status?.phase === "NotReady",
  );
  const next = await finalSession(w, await trigger(w, "app-backup"));
  assert.equal(next.status.phase, "Skipped");
  assert.equal(
    cond(next.status.conditions, "BackupSkipped")?.message,
    `Skipped taking backup. Reason: BackupConfiguration ${w.namespace}/app-backup is not ready. Repository ${w.namespace}/repo does not exist.`,
  );
  assert.equal(next.status.targets, undefined, "no target was started");
});

test("two pods of one Deployment share its backup: only the Lease holder backs up, once", async (t) => {
  const w = await world("e2e-lease", t);
  const op = startOperator({ kube: w.kube, namespace: w.namespace, image: "restash:e2e" });
  t.after(() => op.stop());
  const { repoDir, pathMap } = await setupBackup(w, { srcFill: (s) => makeFixtureTree(s, 3) });
  await w.kube.mergePatch(
    { apiVersion: V1B, kind: "BackupConfiguration", metadata: { name: "app-backup", namespace: w.namespace } },
    { spec: { target: { args: ["--limit-upload", "2048"] } } },
  );
  const a = await startSidecar(w, "app", { RESTASH_PATH_MAP: pathMap, POD_NAME: "app-6d4f8-aaaaa" });
  const b = await startSidecar(w, "app", { RESTASH_PATH_MAP: pathMap, POD_NAME: "app-6d4f8-bbbbb" });
  t.after(() => Promise.all([a.stop(), b.stop()]).then(() => {}));
  const s = await finalSession(w, await trigger(w, "app-backup"), 120_000);
  assert.equal(s.status.phase, "Succeeded", JSON.stringify(s.status));
  assert.equal(s.status.targets[0].stats.length, 1, "one host result");
  assert.equal(resticSnapshots(repoDir, PASSWORD).length, 1, "one snapshot: the other pod did not back up");
  const lease = await w.kube.get<any>("coordination.k8s.io/v1", "Lease", "lock-deployment-app-backup", w.namespace);
  assert.equal(lease.spec.holderIdentity, "", "released after the backup");
  const waited = [a, b].filter((p) => p.output().includes("another pod holds the backup lease"));
  assert.ok(waited.length <= 1);
});
