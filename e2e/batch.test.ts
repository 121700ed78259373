// BackupBatch and RestoreBatch end to end, against the real API server and real restic: the
// operator makes the CronJob and a sidecar in each of two Deployments; both sidecars are started
// exactly as their pods would start them (args read from the Deployments) and back up at once, in
// parallel, into one real restic repository; the BackupSession ends Succeeded with both targets.
// Then a RestoreBatch restores both into two other Deployments through their init-containers,
// byte for byte. The Argo CD health checks judge every status on the way.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stopControlPlane } from "../testing/cluster.ts";
import { startOperator } from "../reconciler/operator.ts";
import { deployment, eventually, repository, secret } from "../testing/stash-objects.ts";
import { argoHealth } from "../deploy/argocd/argo-health.ts";
import { makeFixtureTree, runRunner, treeHash } from "../testing/runner.ts";
import { PASSWORD, V1B, cond, finalSession, injected, resticSnapshots, startSidecar, trigger, world } from "../testing/e2e-steps.ts";

after(() => stopControlPlane());

const MEMBERS = ["web", "api"];

test("a BackupBatch backs up two Deployments in parallel into one repository (one session, both targets Succeeded), and a RestoreBatch restores both byte for byte", async (t) => {
  const w = await world("e2e-batch", t);
  const op = startOperator({ kube: w.kube, namespace: w.namespace, image: "restash:e2e" });
  t.after(() => op.stop());
  const repoDir = join(w.dir, "repo");
  const src: Record<string, string> = {};
  for (const m of MEMBERS) {
    src[m] = join(w.dir, `${m}-data`);
    mkdirSync(src[m], { recursive: true });
    makeFixtureTree(src[m], 3);
    writeFileSync(join(src[m], "member.txt"), `data of ${m}\n`);
    await w.kube.apply(deployment(w.namespace, m, src[m]));
  }
  await w.kube.apply(secret(w.namespace, "repo-secret", { RESTIC_PASSWORD: PASSWORD }));
  await w.kube.apply(repository(w.namespace, "repo", { local: { mountPath: "/safe/repo", hostPath: { path: "/var/lib/backups" } } }));
  await w.kube.apply({
    apiVersion: V1B,
    kind: "BackupBatch",
    metadata: { name: "apps", namespace: w.namespace },
    spec: {
      repository: { name: "repo" },
      schedule: "*/5 * * * *",
      retentionPolicy: { name: "keep-last-3", keepLast: 3, prune: true },
      members: MEMBERS.map((m) => ({
        target: { ref: { apiVersion: "apps/v1", kind: "Deployment", name: m }, volumeMounts: [{ name: "source-data", mountPath: src[m] }], paths: [src[m]] },
      })),
    },
  });
  const bb = await eventually("BackupBatch Ready", async () => {
    const o = await w.kube.getOrNull<any>(V1B, "BackupBatch", "apps", w.namespace);
    return o?.status?.phase === "Ready" && o;
  });
  assert.equal((await argoHealth(bb)).status, "Healthy");
  const pathMap = `/safe/repo=${repoDir}`;
  const sidecars = await Promise.all(MEMBERS.map((m) => startSidecar(w, m, { RESTASH_PATH_MAP: pathMap })));
  t.after(() => Promise.all(sidecars.map((s) => s.stop())));
  const logs = () => sidecars.map((s, i) => `--- ${MEMBERS[i]}\n${s.output()}`).join("\n");

  // What the CronJob's pod runs: one BackupSession for the whole batch.
  const name = await trigger(w, "apps");
  assert.match(name, /^apps-\d{10}$/);
  const s = await finalSession(w, name, 120_000);
  assert.equal(s.status.phase, "Succeeded", `${JSON.stringify(s.status, null, 1)}\n${logs()}`);
  assert.deepEqual(Object.fromEntries(Object.entries(s.metadata.labels).filter(([k]) => k.startsWith("stash.appscode.com/"))), {
    "stash.appscode.com/invoker-name": "apps",
    "stash.appscode.com/invoker-type": "BackupBatch",
    "stash.appscode.com/target-kind": "Deployment",
    "stash.appscode.com/target-name": "web",
    "stash.appscode.com/target-namespace": w.namespace,
  });
  assert.deepEqual(s.spec.invoker, { apiGroup: "stash.appscode.com", kind: "BackupBatch", name: "apps" });
  assert.deepEqual(
    s.status.targets.map((x: any) => [
      x.ref.kind,
      x.ref.name,
      x.phase,
      x.totalHosts,
      x.stats.map((h: any) => `${h.hostname}:${h.phase}:${h.snapshots?.[0]?.path}`),
    ]),
    MEMBERS.map((m) => ["Deployment", m, "Succeeded", 1, [`host-0:Succeeded:${src[m]}`]]),
  );
  assert.deepEqual(s.status.targets[0].preBackupActions, ["InitializeBackendRepository"]);
  assert.deepEqual(s.status.targets[1].postBackupActions, ["ApplyRetentionPolicy", "VerifyRepositoryIntegrity", "SendRepositoryMetrics"]);
  for (const type of ["BackendRepositoryInitialized", "RetentionPolicyApplied", "RepositoryIntegrityVerified", "BackupHistoryCleaned", "MetricsPushed"]) {
    assert.equal(cond(s.status.conditions, type)?.status, "True", type);
  }
  assert.ok(!JSON.stringify(s).includes(PASSWORD), "no secret in the session");
  assert.deepEqual(await argoHealth(s), { status: "Healthy", message: "Backup succeeded" });
  const snaps = resticSnapshots(repoDir, PASSWORD);
  assert.deepEqual(snaps.map((x) => x.paths[0]).sort(), MEMBERS.map((m) => src[m]).sort(), "one snapshot per member, in one repository");
  const repo = await eventually("Repository statistics", async () => {
    const r = await w.kube.get<any>("stash.appscode.com/v1alpha1", "Repository", "repo", w.namespace);
    return r.status?.snapshotCount === 2 && r;
  });
  assert.equal(repo.status.integrity, true);
  assert.equal(repo.status.lastBackupTime, s.metadata.creationTimestamp);
  await eventually("Repository references the batch", async () =>
    ((await w.kube.get<any>("stash.appscode.com/v1alpha1", "Repository", "repo", w.namespace)).status?.references ?? []).some(
      (r: any) => r.kind === "BackupBatch" && r.name === "apps",
    ),
  );

  // Restore both into two other Deployments, through a RestoreBatch and their init-containers.
  const dst: Record<string, string> = {};
  for (const m of MEMBERS) {
    dst[m] = join(w.dir, `${m}-restored`);
    await w.kube.apply(deployment(w.namespace, `${m}-copy`, src[m]));
  }
  await w.kube.apply({
    apiVersion: V1B,
    kind: "RestoreBatch",
    metadata: { name: "apps-restore", namespace: w.namespace },
    spec: {
      repository: { name: "repo" },
      members: MEMBERS.map((m) => ({
        target: {
          ref: { apiVersion: "apps/v1", kind: "Deployment", name: `${m}-copy` },
          volumeMounts: [{ name: "source-data", mountPath: src[m] }],
          rules: [{ paths: [src[m]] }],
        },
      })),
    },
  });
  const inits = await Promise.all(MEMBERS.map((m) => injected(w, `${m}-copy`, "stash-init")));
  const running = await eventually("RestoreBatch Running", async () => {
    const r = await w.kube.get<any>(V1B, "RestoreBatch", "apps-restore", w.namespace);
    return r.status?.phase === "Running" && r;
  });
  assert.deepEqual(
    running.status.members.map((m: any) => [m.ref.name, m.phase, m.totalHosts]),
    MEMBERS.map((m) => [`${m}-copy`, "Running", 1]),
  );
  assert.equal((await argoHealth(running)).status, "Progressing");
  assert.deepEqual(inits[0].args.slice(0, 3), ["restore", "--invoker-name=apps-restore", "--invoker-kind=RestoreBatch"]);
  const restores = await Promise.all(
    MEMBERS.map((m, i) => runRunner(inits[i].args, w.env({ POD_NAME: `${m}-copy-7c9d-xyz12`, RESTASH_PATH_MAP: `${pathMap},${src[m]}=${dst[m]}` }))),
  );
  restores.forEach((r, i) => assert.equal(r.code, 0, `${MEMBERS[i]}: ${r.output}`));
  const rb = await eventually("RestoreBatch final", async () => {
    const r = await w.kube.get<any>(V1B, "RestoreBatch", "apps-restore", w.namespace);
    return ["Succeeded", "Failed", "Unknown"].includes(r.status?.phase) && cond(r.status.conditions, "MetricsPushed") && r;
  });
  assert.equal(rb.status.phase, "Succeeded", JSON.stringify(rb.status, null, 1));
  assert.deepEqual(
    rb.status.members.map((m: any) => [m.ref.name, m.phase, m.stats.map((h: any) => `${h.hostname}:${h.phase}`)]),
    MEMBERS.map((m) => [`${m}-copy`, "Succeeded", ["host-0:Succeeded"]]),
  );
  assert.match(rb.status.sessionDuration, /^\d+s$|^\d+m\d+s$/);
  assert.deepEqual(await argoHealth(rb), { status: "Healthy", message: "Restore succeeded: 2/2 members restored" });
  for (const m of MEMBERS) assert.equal(treeHash(dst[m]), treeHash(src[m]), `${m} restored byte-identically`);
});
