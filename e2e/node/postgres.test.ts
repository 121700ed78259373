// PostgreSQL backed up and restored on a real node, as Stash's PostgreSQL addon guide does it: the
// server is a Deployment with a Service and an AppBinding; the BackupConfiguration runs the
// catalog's postgres-backup Task, whose Job pod (started by the real CronJob's BackupSession)
// streams pg_dumpall into restic in MinIO; a RestoreSession with the postgres-restore Task replays
// the dump into a fresh server, and the rows read back through kubectl exec psql are the same.
import { test } from "node:test";
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import { endedBackupSession, nodeNamespace, type NodeNamespace } from "../../testing/node.ts";
import { APPBINDING, V1B, deleteAfter, endedRestoreSession, minioRepository, postgresCredentials, postgresServer, psql } from "../../testing/node-postgres.ts";

const cond = (list: any[] | undefined, type: string) => (list ?? []).find((c: any) => c.type === type);

/** Rows, and a digest of every row in key order, of the shop database's two tables. */
const DIGEST = `SELECT (SELECT count(*) FROM items) || ' ' || (SELECT count(*) FROM orders) || ' ' ||
  md5((SELECT string_agg(id || '|' || name || '|' || price, ',' ORDER BY id) FROM items) ||
      (SELECT string_agg(id || '|' || item_id || '|' || quantity || '|' || note, ',' ORDER BY id) FROM orders))`;

let w: NodeNamespace;
let source = "";
let digest = "";
let bsDone: any;

test("a PostgreSQL server's databases are dumped by the postgres-backup Task's Job pod into MinIO when the real CronJob fires", async () => {
  w = await nodeNamespace("node-pg");
  deleteAfter(w);
  const { minio, bucket } = await minioRepository(w, "pg-repo", "pg");
  await postgresCredentials(w, "pg-auth");
  const server = await postgresServer(w, "pg", "pg-auth", { database: "shop" });
  source = server.pod;
  await psql(
    w,
    source,
    "shop",
    `CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL);
     CREATE TABLE orders (id serial PRIMARY KEY, item_id int REFERENCES items(id), quantity int, note text);
     INSERT INTO items SELECT g, 'item-' || g || repeat('x', g % 17), round((g * 1.37)::numeric, 2) FROM generate_series(1, 2000) g;
     INSERT INTO orders (item_id, quantity, note) SELECT 1 + (g * 7) % 2000, g % 5 + 1, E'line ''' || g || E'''\\ttab' FROM generate_series(1, 3000) g;`,
  );
  digest = (await psql(w, source, "shop", DIGEST)).trim();
  assert.match(digest, /^2000 3000 [0-9a-f]{32}$/);

  await w.kube.apply({
    apiVersion: V1B,
    kind: "BackupConfiguration",
    metadata: { name: "pg-backup", namespace: w.namespace },
    spec: {
      task: { name: "postgres-backup" },
      schedule: "*/1 * * * *",
      repository: { name: "pg-repo" },
      target: { ref: { apiVersion: APPBINDING, kind: "AppBinding", name: "pg" } },
      retentionPolicy: { name: "keep-last-5", keepLast: 5, prune: true },
    },
  });
  // The CronJob's trigger Job, then the backup Job: two pods that start Node (slow on a loaded 2-core machine).
  const session = await endedBackupSession(w, 360_000);
  assert.equal(session.status.phase, "Succeeded", JSON.stringify(session.status, null, 1));
  bsDone = session;
  // No more sessions while the restore runs.
  await w.kube.mergePatch(
    { apiVersion: V1B, kind: "BackupConfiguration", metadata: { name: "pg-backup", namespace: w.namespace } },
    { spec: { paused: true } },
  );

  const target = session.status.targets[0];
  assert.equal(target.ref.kind, "AppBinding");
  const host = target.stats[0];
  assert.equal(host.hostname, "host-0");
  assert.equal(host.phase, "Succeeded");
  assert.match(host.snapshots[0].name, /^[0-9a-f]{8}$/, JSON.stringify(host));
  assert.equal(host.snapshots[0].path, "/dumpfile.sql");
  assert.equal(host.snapshots[0].fileStats.totalFiles, 1);
  for (const type of ["BackendRepositoryInitialized", "RetentionPolicyApplied", "RepositoryIntegrityVerified"])
    assert.equal(cond(session.status.conditions, type)?.status, "True", type);

  // The backup ran as a Job pod of the Task's steps, started through the kubelet, not in the operator.
  // (update-status writes the session before its container exits, so the Job completes a moment later.)
  const job = await eventually(
    "the backup Job complete",
    async () => {
      const jobs = (await w.kube.list<any>("batch/v1", "Job", w.namespace)).items;
      return jobs.find((j) => j.metadata.ownerReferences?.some((o: any) => o.kind === "BackupSession") && j.status?.succeeded === 1);
    },
    180_000,
    250,
  );
  const pods = (await w.kube.list<any>("v1", "Pod", w.namespace, `job-name=${job.metadata.name}`)).items;
  assert.equal(pods[0]?.status?.phase, "Succeeded", JSON.stringify(pods.map((p) => p.status)));
  const steps = [...(pods[0].spec.initContainers ?? []), ...pods[0].spec.containers].map((c: any) => c.name);
  assert.deepEqual(steps, ["postgres-backup-0", "update-status-1"]);

  const keys = await minio.listObjects(bucket, "pg/");
  assert.ok(
    keys.some((k) => k.startsWith("pg/snapshots/")),
    "restic wrote a snapshot into MinIO",
  );
  const password = Buffer.from((await w.kube.get<any>("v1", "Secret", "pg-auth", w.namespace)).data.POSTGRES_PASSWORD, "base64").toString();
  assert.ok(!JSON.stringify(session.status).includes(password), "the database password is in no status");
  console.log(
    `[pg] backup: session created ${session.metadata.creationTimestamp}, Succeeded after ${session.status.sessionDuration ?? "?"}; ${host.snapshots[0].totalSize ?? ""} dump`,
  );
});

test("a RestoreSession with the postgres-restore Task replays the dump into a fresh server: every row comes back", async () => {
  assert.ok(bsDone, "the backup test ran first");
  // The same credentials: pg_dumpall's ALTER ROLE sets the source's password on the fresh server,
  // so psql's \connect into each database authenticates with what the AppBinding's Secret says.
  const fresh = await postgresServer(w, "pg-restored", "pg-auth");
  assert.notEqual(fresh.pod, source);
  // A fresh server: no shop database yet.
  assert.equal((await psql(w, fresh.pod, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'shop'")).trim(), "0");

  await w.kube.apply({
    apiVersion: V1B,
    kind: "RestoreSession",
    metadata: { name: "pg-restore", namespace: w.namespace },
    spec: {
      task: { name: "postgres-restore" },
      repository: { name: "pg-repo" },
      target: { ref: { apiVersion: APPBINDING, kind: "AppBinding", name: "pg-restored" }, rules: [{ snapshots: ["latest"] }] },
    },
  });
  const rs = await endedRestoreSession(w, "pg-restore");
  assert.equal(rs.status.phase, "Succeeded", JSON.stringify(rs.status, null, 1));
  assert.equal(rs.status.stats?.[0]?.phase, "Succeeded", JSON.stringify(rs.status.stats));
  const restored = (await psql(w, fresh.pod, "shop", DIGEST)).trim();
  assert.equal(restored, digest, "the restored server holds the same rows");
  // The serial's sequence came along: a new order gets the next id.
  assert.equal((await psql(w, fresh.pod, "shop", "INSERT INTO orders (item_id, quantity, note) VALUES (1, 1, 'new') RETURNING id")).trim(), "3001");
  const jobs = (await w.kube.list<any>("batch/v1", "Job", w.namespace)).items.filter((j) =>
    j.metadata.ownerReferences?.some((o: any) => o.kind === "RestoreSession"),
  );
  assert.equal(jobs.length, 1, JSON.stringify(jobs.map((j) => j.metadata.name)));
  await eventually(
    "the restore Job complete",
    async () => (await w.kube.get<any>("batch/v1", "Job", jobs[0].metadata.name, w.namespace)).status?.succeeded === 1,
    180_000,
    250,
  );
  console.log(`[pg] restore: ${digest.split(" ").slice(0, 2).join(" + ")} rows compared, Succeeded after ${rs.status.sessionDuration ?? "?"}`);
});
