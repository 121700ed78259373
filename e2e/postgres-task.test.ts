// A real PostgreSQL database backed up (into MinIO) through an AppBinding and the shipped postgres-backup
// Task, dropped, and restored through a RestoreSession and the postgres-restore Task: the rows
// and their checksum come back equal, the sessions' status in the API server says so, and the
// database password appears in no status and no step output.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { KubeObject } from "../lib/kube/client.ts";
import { startOperator } from "../reconciler/operator.ts";
import { newBackupSession } from "../stash/new-backup-session.ts";
import { testNamespace } from "../testing/cluster.ts";
import { cleanupAfterFile, eventually, s3StorageSecret } from "../testing/e2e.ts";
import { startPostgres } from "../testing/postgres.ts";
import { installCatalog } from "../stash/tasks/catalog.ts";
import { runJobLocally } from "../testing/local-pod.ts";
import { backupJobName, restoreJobName } from "../stash/names.ts";
import type { BackupConfiguration } from "../schema/types.generated.ts";

const V1BETA1 = "stash.appscode.com/v1beta1";
const APPBINDING = "appcatalog.appscode.com/v1alpha1";
const { defer } = cleanupAfterFile({ sharedServices: true });

async function setup(prefix: string) {
  const { cp, kube, namespace } = await testNamespace(prefix);
  await installCatalog(kube);
  // The repository lives in a real S3 store (MinIO).
  const { minio, bucket } = await s3StorageSecret(kube, namespace, "restic", "pg");
  await kube.apply({
    apiVersion: "stash.appscode.com/v1alpha1",
    kind: "Repository",
    metadata: { name: "pg-repo", namespace },
    spec: { backend: { s3: { endpoint: minio.endpoint, bucket, prefix: `${namespace}/shop`, region: minio.region }, storageSecretName: "restic" } },
  });
  const operator = startOperator({ kube, namespace, image: "ghcr.io/restash/restash:test" });
  defer(() => operator.stop());
  const get = (kind: string, name: string) => kube.get<KubeObject>(V1BETA1, kind, name, namespace);
  const final = (kind: string, name: string) =>
    eventually(`${kind} ${name} final`, async () => {
      const o = await get(kind, name);
      return ["Succeeded", "Failed", "Skipped", "Unknown"].includes(o.status?.phase) && o;
    });
  const backup = async (name: string, appBinding: string, seconds: number) => {
    await kube.apply({
      apiVersion: V1BETA1,
      kind: "BackupConfiguration",
      metadata: { name, namespace },
      spec: {
        task: { name: "postgres-backup" },
        schedule: "0 * * * *",
        repository: { name: "pg-repo" },
        target: { ref: { apiVersion: APPBINDING, kind: "AppBinding", name: appBinding } },
        retentionPolicy: { name: "keep-last-3", keepLast: 3, prune: true },
      },
    });
    const bc = await eventually(`BackupConfiguration ${name} Ready`, async () => {
      const o = await get("BackupConfiguration", name);
      return o.status?.phase === "Ready" && o;
    });
    const bs = newBackupSession(bc as BackupConfiguration, seconds);
    await kube.create(bs);
    await eventually("the backup target initiated", async () => (await get("BackupSession", bs.metadata.name)).status?.targets?.[0]?.totalHosts === 1);
    return { bc, session: bs.metadata.name as string };
  };
  return { kube, kubeconfig: cp.kubeconfig, namespace, get, final, backup, minio, bucket };
}

const appBinding = (namespace: string, name: string, port: number, secret: string) => ({
  apiVersion: APPBINDING,
  kind: "AppBinding",
  metadata: { name, namespace },
  spec: {
    type: "kubedb.com/postgres",
    version: "15",
    clientConfig: { url: `postgresql://127.0.0.1:${port}/postgres?sslmode=disable` },
    secret: { name: secret },
  },
});

const CHECKSUM = "SELECT count(*) || ':' || md5(string_agg(id || '|' || name || '|' || price, ',' ORDER BY id)) FROM items";

test("a PostgreSQL database backed up through its AppBinding is restored after a drop with equal rows and checksum", async () => {
  const pg = await startPostgres();
  defer(() => pg.stop());
  const s = await setup("pg-task");
  await pg.psql("CREATE DATABASE shop");
  await pg.psql(
    "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, price numeric(10,2)); INSERT INTO items (name, price) SELECT 'item-' || g, g * 1.25 FROM generate_series(1, 2000) g;",
    "shop",
  );
  const before = await pg.psql(CHECKSUM, "shop");
  assert.match(before, /^2000:[0-9a-f]{32}$/);

  await s.kube.apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "shop-auth", namespace: s.namespace },
    stringData: { POSTGRES_USER: pg.user, POSTGRES_PASSWORD: pg.password },
  });
  await s.kube.apply(appBinding(s.namespace, "shop-db", pg.port, "shop-auth"));
  const { session } = await s.backup("shop-backup", "shop-db", 1_700_001_000);
  let output = "";
  const run = await runJobLocally({
    kube: s.kube,
    kubeconfig: s.kubeconfig,
    namespace: s.namespace,
    name: backupJobName(session, 0),
    onOutput: (_c, chunk) => (output += chunk),
  });
  assert.deepEqual(
    run.containers.map((c) => [c.name, c.exitCode]),
    [
      ["postgres-backup-0", 0],
      ["update-status-1", 0],
    ],
    output,
  );

  const bs = await s.final("BackupSession", session);
  assert.equal(bs.status.phase, "Succeeded", JSON.stringify(bs.status));
  const stat = bs.status.targets[0].stats[0];
  assert.deepEqual([stat.hostname, stat.phase, stat.snapshots.length, stat.snapshots[0].path], ["host-0", "Succeeded", 1, "/dumpfile.sql"]);
  assert.equal(stat.snapshots[0].fileStats.totalFiles, 1);

  const objects = await s.minio.listObjects(s.bucket, `${s.namespace}/shop/`);
  assert.ok(objects.some((k) => k.endsWith("/config")) && objects.some((k) => k.includes("/snapshots/")), objects.join(", "));

  await pg.psql("DROP DATABASE shop");
  assert.equal(await pg.psql("SELECT count(*) FROM pg_database WHERE datname = 'shop'"), "0");

  await s.kube.apply({
    apiVersion: V1BETA1,
    kind: "RestoreSession",
    metadata: { name: "shop-restore", namespace: s.namespace },
    spec: {
      task: { name: "postgres-restore" },
      repository: { name: "pg-repo" },
      target: { ref: { apiVersion: APPBINDING, kind: "AppBinding", name: "shop-db" } },
    },
  });
  const rs = await eventually("the restore executor", async () => {
    const o = await s.get("RestoreSession", "shop-restore");
    return o.status?.totalHosts === 1 && o;
  });
  const restore = await runJobLocally({
    kube: s.kube,
    kubeconfig: s.kubeconfig,
    namespace: s.namespace,
    name: restoreJobName(rs.metadata.name!, 0),
    onOutput: (_c, chunk) => (output += chunk),
  });
  assert.deepEqual(
    restore.containers.map((c) => [c.name, c.exitCode]),
    [
      ["postgres-restore-0", 0],
      ["update-status-1", 0],
    ],
    output,
  );
  const done = await s.final("RestoreSession", "shop-restore");
  assert.equal(done.status.phase, "Succeeded", JSON.stringify(done.status));
  assert.equal(await pg.psql(CHECKSUM, "shop"), before);

  const stored = JSON.stringify([bs, done, await s.kube.get("stash.appscode.com/v1alpha1", "Repository", "pg-repo", s.namespace)]);
  assert.ok(!stored.includes(pg.password), "the database password is in a status");
  assert.ok(!stored.includes(s.minio.secretKey), "the S3 secret key is in a status");
  assert.ok(!output.includes(s.minio.secretKey), "the S3 secret key is in a step's output");
  assert.ok(!output.includes(pg.password), "the database password is in a step's output");
});

test("a backup through an AppBinding whose Secret is absent fails naming the AppBinding and the Secret", async () => {
  const s = await setup("pg-nosecret");
  await s.kube.apply(appBinding(s.namespace, "orphan-db", 5432, "orphan-auth"));
  const { session } = await s.backup("orphan-backup", "orphan-db", 1_700_002_000);
  const run = await runJobLocally({ kube: s.kube, kubeconfig: s.kubeconfig, namespace: s.namespace, name: backupJobName(session, 0) });
  assert.equal(run.failed, "postgres-backup-0");
  const bs = await s.final("BackupSession", session);
  assert.equal(bs.status.phase, "Failed");
  assert.equal(bs.status.targets[0].stats[0].error, `AppBinding ${s.namespace}/orphan-db, field spec.secret.name: Secret ${s.namespace}/orphan-auth not found`);
  const ready = bs.status.conditions.find((c: any) => c.type === "Stalled" || c.type === "Ready");
  assert.match(JSON.stringify(ready ?? bs.status.conditions), /orphan-auth/);
});
