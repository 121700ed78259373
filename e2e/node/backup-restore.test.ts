// On a real node, as users run restash: the operator is a pod (deployed with kubectl apply -k), the
// real CronJob controller fires the trigger Job every minute, the sidecar the webhook injected into
// the application's real pod backs its volume up into MinIO, and a RestoreSession's init-container
// restores it into a new Deployment before that Deployment's app container starts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { eventually } from "../../testing/eventually.ts";
import { freshBucket } from "../../testing/services.ts";
import { endedBackupSession, kubectl, nodeNamespace, reachableFromPods, type NodeNamespace } from "../../testing/node.ts";

const V1B = "stash.appscode.com/v1beta1";
const cond = (list: any[] | undefined, type: string) => (list ?? []).find((c: any) => c.type === type);

/** A Deployment whose app container writes `files` (seeded random bytes) into its volume, then waits. */
function app(namespace: string, name: string, write: boolean): any {
  const fill = write
    ? "mkdir -p /source/data/sub && for i in 1 2 3; do head -c $((i*300000)) /dev/urandom > /source/data/f$i; done && echo hello > /source/data/sub/greeting && "
    : "";
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace, labels: { app: name } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: "app",
              image: "docker.io/library/busybox:1.35",
              command: ["sh", "-c", `${fill}exec sleep 36000`],
              volumeMounts: [{ name: "source-data", mountPath: "/source/data" }],
            },
          ],
          volumes: [{ name: "source-data", emptyDir: {} }],
        },
      },
    },
  };
}

/** The Running pod of a Deployment whose template has the given container (waits for the rollout). */
async function runningPod(w: NodeNamespace, deployment: string, container: string, kind: "containers" | "initContainers" = "containers"): Promise<any> {
  return eventually(
    `a Running pod of ${deployment} with ${container}`,
    async () => {
      const pods = (await w.kube.list<any>("v1", "Pod", w.namespace, `app=${deployment}`)).items;
      return pods.find(
        (p) =>
          !p.metadata.deletionTimestamp &&
          p.status?.phase === "Running" &&
          p.spec[kind]?.some((c: any) => c.name === container) &&
          p.status.containerStatuses?.every((c: any) => c.ready),
      );
    },
    180_000,
    250,
  );
}

/** sha256 of every file under /source/data, as the pod's app container reads them. */
async function checksums(w: NodeNamespace, pod: string): Promise<string> {
  return kubectl(w.node, ["-n", w.namespace, "exec", pod, "-c", "app", "--", "sh", "-c", "cd /source/data && find . -type f | sort | xargs sha256sum"]);
}

let w: NodeNamespace;
let sums = "";
let repoName = "";

test("a Deployment's volume is backed up by the injected sidecar when the real CronJob fires, into MinIO, and the snapshot is listed", async () => {
  w = await nodeNamespace("node-backup");
  const { minio, bucket } = await eventually("a MinIO bucket", () => freshBucket("node"), 20_000, 100);
  const endpoint = await reachableFromPods(minio.endpoint);
  repoName = "minio-repo";
  await w.kube.apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "minio-creds", namespace: w.namespace },
    stringData: { RESTIC_PASSWORD: randomBytes(12).toString("hex"), AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: minio.secretKey },
  });
  await w.kube.apply({
    apiVersion: "stash.appscode.com/v1alpha1",
    kind: "Repository",
    metadata: { name: repoName, namespace: w.namespace },
    spec: { backend: { storageSecretName: "minio-creds", s3: { endpoint, bucket, prefix: "app", region: minio.region } } },
  });
  await w.kube.apply(app(w.namespace, "app", true));
  await w.kube.apply({
    apiVersion: V1B,
    kind: "BackupConfiguration",
    metadata: { name: "app-backup", namespace: w.namespace },
    spec: {
      repository: { name: repoName },
      schedule: "*/1 * * * *",
      target: {
        ref: { apiVersion: "apps/v1", kind: "Deployment", name: "app" },
        volumeMounts: [{ name: "source-data", mountPath: "/source/data" }],
        paths: ["/source/data"],
      },
      retentionPolicy: { name: "keep-last-5", keepLast: 5, prune: true },
    },
  });
  const pod = await runningPod(w, "app", "stash");
  sums = await checksums(w, pod.metadata.name);
  assert.equal(sums.trim().split("\n").length, 4, sums);

  // The session the CronJob's Job created (no test code triggers it).
  const session = await endedBackupSession(w);
  assert.equal(session.status.phase, "Succeeded", JSON.stringify(session.status, null, 1));
  const jobs = (await w.kube.list<any>("batch/v1", "Job", w.namespace)).items;
  assert.ok(
    jobs.some((j) => j.metadata.ownerReferences?.some((o: any) => o.kind === "CronJob") && j.status?.succeeded === 1),
    `a trigger Job of the CronJob completed: ${JSON.stringify(jobs.map((j) => [j.metadata.name, j.status]))}`,
  );
  const host = session.status.targets[0].stats[0];
  assert.equal(host.hostname, "host-0");
  assert.equal(host.snapshots[0].fileStats.totalFiles, 4);
  for (const type of ["BackendRepositoryInitialized", "RetentionPolicyApplied", "RepositoryIntegrityVerified"])
    assert.equal(cond(session.status.conditions, type)?.status, "True", type);

  const repo = await eventually(
    "Repository status",
    async () => {
      const r = await w.kube.get<any>("stash.appscode.com/v1alpha1", "Repository", repoName, w.namespace);
      return r.status?.snapshotCount >= 1 && r;
    },
    30_000,
    250,
  );
  assert.equal(repo.status.integrity, true);
  assert.ok(
    (await minio.listObjects(bucket, "app/")).some((k) => k.startsWith("app/snapshots/")),
    "restic wrote a snapshot into MinIO",
  );
  // Through the operator pod's Snapshot API, behind the APIService and its Service.
  const listed = JSON.parse(await kubectl(w.node, ["-n", w.namespace, "get", "snapshots", "-o", "json"]));
  const snap = listed.items.find((s: any) => s.metadata.name.startsWith(`${repoName}-`));
  assert.ok(snap, JSON.stringify(listed));
  assert.equal(snap.status.hostname ?? snap.spec?.hostname ?? "host-0", "host-0");

  // The sidecar pushed Stash's metrics to the pushgateway, read here through its Service (by the API server's proxy).
  const job = `backupconfiguration-${w.namespace}-app-backup`;
  const metrics = await eventually(
    "the sidecar's metrics in the pushgateway",
    async () => {
      const text = await kubectl(w.node, ["get", "--raw", "/api/v1/namespaces/restash/services/restash-pushgateway:pushgateway/proxy/metrics"]);
      const mine = text.split("\n").filter((l) => l.includes(`job="${job}"`));
      return mine.some((l) => l.startsWith("stash_backup_host_backup_success{")) && mine;
    },
    30_000,
    500,
  );
  const value = (name: string) =>
    metrics
      .find((l) => l.startsWith(`${name}{`))
      ?.split(" ")
      .pop();
  assert.equal(value("stash_backup_host_backup_success"), "1", metrics.join("\n"));
  assert.equal(value("stash_backup_host_files_total"), "4", metrics.join("\n"));
  assert.equal(value("stash_repository_integrity"), "1", metrics.join("\n"));
});

test("a RestoreSession restores the snapshot into a new Deployment through its init-container, and the app container reads the same bytes", async () => {
  assert.ok(sums, "the backup test ran first");
  await w.kube.apply({
    apiVersion: V1B,
    kind: "RestoreSession",
    metadata: { name: "restore", namespace: w.namespace },
    spec: {
      repository: { name: repoName },
      target: {
        ref: { apiVersion: "apps/v1", kind: "Deployment", name: "restored" },
        volumeMounts: [{ name: "source-data", mountPath: "/source/data" }],
        rules: [{ paths: ["/source/data"] }],
      },
    },
  });
  await w.kube.apply(app(w.namespace, "restored", false));
  const rs = await eventually(
    "RestoreSession ended",
    async () => {
      const r = await w.kube.get<any>(V1B, "RestoreSession", "restore", w.namespace);
      return ["Succeeded", "Failed"].includes(r.status?.phase) && r;
    },
    180_000,
    500,
  );
  assert.equal(rs.status.phase, "Succeeded", JSON.stringify(rs.status, null, 1));
  const pod = await runningPod(w, "restored", "stash-init", "initContainers");
  const init = pod.status.initContainerStatuses.find((c: any) => c.name === "stash-init");
  assert.equal(init.state.terminated?.exitCode, 0, JSON.stringify(init));
  assert.equal(await checksums(w, pod.metadata.name), sums, "the restored files are byte-identical");
});
