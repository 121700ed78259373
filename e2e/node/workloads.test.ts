// Stash's other targets on a real node, as its guides run them: a stand-alone PVC backed up and
// restored by the pvc-backup / pvc-restore Task Jobs, a StatefulSet whose two replicas each back up
// under their own host (host-0, host-1) through the injected sidecars and restore into a new
// StatefulSet, and a DaemonSet backed up by its sidecar under the node's name. The real CronJob fires
// every backup; no test code creates a BackupSession. Volumes are hostPath PersistentVolumes on temp
// dirs (the node has no dynamic provisioner).
import { test } from "node:test";
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import { endedBackupSession, kubectl, type NodeNamespace } from "../../testing/node.ts";
import {
  BUSYBOX,
  V1B,
  checksums,
  claim,
  endedRestoreSession,
  fillScript,
  hostPathVolume,
  minioRepository,
  ownNamespace,
  runningPods,
  secondsSince,
  tempDir,
} from "../../testing/node-workloads.ts";

const cond = (list: any[] | undefined, type: string) => (list ?? []).find((c: any) => c.type === type);
const retention = { name: "keep-last-5", keepLast: 5, prune: true };
const fileStarted = Date.now();

/** Seconds from the session's creation (the CronJob's trigger) to Succeeded, as the test saw it, and the session's own duration. */
function timing(t: { diagnostic(m: string): void }, what: string, session: any) {
  t.diagnostic(
    `${what}: created → ${session.status.phase} in ${secondsSince(session).toFixed(1)} s (status.sessionDuration ${session.status.sessionDuration})`,
  );
}

/** The hosts of the Repository `repo`'s snapshots, through `kubectl get snapshots` (the operator pod's Snapshot API). */
async function snapshotHosts(w: NodeNamespace): Promise<string[]> {
  const list = JSON.parse(await kubectl(w.node, ["-n", w.namespace, "get", "snapshots", "-l", "repository=repo", "-o", "json"])).items;
  return [...new Set<string>(list.map((s: any) => s.status.hostname))].sort();
}

/** Pauses a BackupConfiguration once its session is checked, so its CronJob stops loading the node for the rest of the file. */
const pause = (w: NodeNamespace, name: string) =>
  w.kube.mergePatch({ apiVersion: V1B, kind: "BackupConfiguration", metadata: { name, namespace: w.namespace } }, { spec: { paused: true } });

/** The pod of the pvc flows: mounts `claimName` at /data and runs `script` before sleeping. */
function pvcPod(namespace: string, name: string, claimName: string, script: string): any {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels: { app: name } },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [{ name: "app", image: BUSYBOX, command: ["sh", "-c", `${script}exec sleep 36000`], volumeMounts: [{ name: "data", mountPath: "/data" }] }],
      volumes: [{ name: "data", persistentVolumeClaim: { claimName } }],
    },
  };
}

let pvc: { w: NodeNamespace; sums: string } | undefined;

test("a stand-alone PVC is backed up by the pvc-backup Task's Job when the real CronJob fires, into MinIO", async (t) => {
  const w = await ownNamespace("node-pvc");
  await minioRepository(w, "repo", "pvc");
  await hostPathVolume(w, "source-pvc");
  await w.kube.apply(claim(w.namespace, "source-pvc"));
  await w.kube.apply(pvcPod(w.namespace, "writer", "source-pvc", `${fillScript("/data")} && `));
  const [writer] = await runningPods(w, "app=writer", 1);
  const sums = await checksums(w, writer.metadata.name, "app", "/data");
  assert.equal(sums.trim().split("\n").length, 4, sums);

  // As Stash's PVC guide: the Task and a ref to the claim, nothing else.
  await w.kube.apply({
    apiVersion: V1B,
    kind: "BackupConfiguration",
    metadata: { name: "pvc-backup", namespace: w.namespace },
    spec: {
      task: { name: "pvc-backup" },
      repository: { name: "repo" },
      schedule: "*/1 * * * *",
      target: { ref: { apiVersion: "v1", kind: "PersistentVolumeClaim", name: "source-pvc" } },
      retentionPolicy: retention,
    },
  });
  const session = await endedBackupSession(w);
  timing(t, "pvc backup", session);
  assert.equal(session.status.phase, "Succeeded", JSON.stringify(session.status, null, 1));
  const host = session.status.targets[0].stats[0];
  assert.equal(host.hostname, "host-0");
  assert.equal(host.snapshots[0].fileStats.totalFiles, 4, JSON.stringify(host));
  // The backup ran in a Job's pod on the node, owned by the BackupSession (the pod exits after its last step wrote the status).
  const owned = (j: any) => j.metadata.ownerReferences?.some((o: any) => o.kind === "BackupSession" && o.name === session.metadata.name);
  const backupJob = await eventually(
    "the session's backup Job completed",
    async () => (await w.kube.list<any>("batch/v1", "Job", w.namespace)).items.find((j) => owned(j) && (j.status?.succeeded || j.status?.failed)),
    60_000,
    250,
  );
  assert.equal(backupJob.status.succeeded, 1, JSON.stringify(backupJob.status));
  assert.ok(
    backupJob.spec.template.spec.volumes.some((v: any) => v.persistentVolumeClaim?.claimName === "source-pvc"),
    "the Job mounts the claim",
  );
  assert.deepEqual(await snapshotHosts(w), ["host-0"]);
  await pause(w, "pvc-backup");
  pvc = { w, sums };
});

test("a RestoreSession with the pvc-restore Task fills a fresh PVC, and a pod reading it sees the same bytes", async (t) => {
  assert.ok(pvc, "the PVC backup ran first");
  const { w, sums } = pvc;
  await hostPathVolume(w, "restored-pvc");
  await w.kube.apply(claim(w.namespace, "restored-pvc"));
  await w.kube.apply({
    apiVersion: V1B,
    kind: "RestoreSession",
    metadata: { name: "pvc-restore", namespace: w.namespace },
    spec: {
      task: { name: "pvc-restore" },
      repository: { name: "repo" },
      target: { ref: { apiVersion: "v1", kind: "PersistentVolumeClaim", name: "restored-pvc" }, rules: [{ snapshots: ["latest"] }] },
    },
  });
  const rs = await endedRestoreSession(w, "pvc-restore");
  timing(t, "pvc restore", rs);
  assert.equal(rs.status.phase, "Succeeded", JSON.stringify(rs.status, null, 1));
  await w.kube.apply(pvcPod(w.namespace, "reader", "restored-pvc", ""));
  const [reader] = await runningPods(w, "app=reader", 1);
  assert.equal(await checksums(w, reader.metadata.name, "app", "/data"), sums, "the restored claim holds the same bytes");
});

/** A StatefulSet whose replicas keep /source/data on their own claim (a hostPath PV each); `fill` writes into it first. */
function statefulSet(namespace: string, name: string, replicas: number, fill: boolean): any {
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name, namespace, labels: { app: name } },
    spec: {
      replicas,
      serviceName: name,
      podManagementPolicy: "Parallel",
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: "app",
              image: BUSYBOX,
              command: ["sh", "-c", `${fill ? `${fillScript("/source/data")} && ` : ""}exec sleep 36000`],
              volumeMounts: [{ name: "source-data", mountPath: "/source/data" }],
            },
          ],
        },
      },
      volumeClaimTemplates: [
        { metadata: { name: "source-data" }, spec: { accessModes: ["ReadWriteOnce"], storageClassName: "", resources: { requests: { storage: "1Gi" } } } },
      ],
    },
  };
}

let sts: { w: NodeNamespace; sums: string[] } | undefined;

test("each replica of a StatefulSet backs up under its own host through its injected sidecar, and both hosts are in the session and the snapshots", async (t) => {
  const w = await ownNamespace("node-sts");
  await minioRepository(w, "repo", "sts");
  for (const i of [0, 1]) await hostPathVolume(w, `source-data-db-${i}`);
  // The BackupConfiguration first: the webhook injects the sidecar as the StatefulSet is created.
  await w.kube.apply({
    apiVersion: V1B,
    kind: "BackupConfiguration",
    metadata: { name: "db-backup", namespace: w.namespace },
    spec: {
      repository: { name: "repo" },
      schedule: "*/1 * * * *",
      target: {
        ref: { apiVersion: "apps/v1", kind: "StatefulSet", name: "db" },
        volumeMounts: [{ name: "source-data", mountPath: "/source/data" }],
        paths: ["/source/data"],
      },
      retentionPolicy: retention,
    },
  });
  await w.kube.apply({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "db", namespace: w.namespace },
    spec: { clusterIP: "None", selector: { app: "db" } },
  });
  await w.kube.apply(statefulSet(w.namespace, "db", 2, true));
  const pods = await runningPods(w, "app=db", 2, "stash");
  assert.deepEqual(
    pods.map((p) => p.metadata.name),
    ["db-0", "db-1"],
  );
  const sums = await Promise.all(pods.map((p) => checksums(w, p.metadata.name, "app", "/source/data")));
  assert.notEqual(sums[0], sums[1], "each replica holds its own data");

  const session = await endedBackupSession(w);
  timing(t, "statefulset backup (2 hosts)", session);
  assert.equal(session.status.phase, "Succeeded", JSON.stringify(session.status, null, 1));
  const target = session.status.targets[0];
  assert.equal(target.totalHosts, 2);
  assert.deepEqual(target.stats.map((s: any) => s.hostname).sort(), ["host-0", "host-1"]);
  for (const s of target.stats) {
    assert.equal(s.phase, "Succeeded", JSON.stringify(s));
    assert.equal(s.snapshots[0].fileStats.totalFiles, 4, JSON.stringify(s));
  }
  for (const type of ["BackendRepositoryInitialized", "RetentionPolicyApplied", "RepositoryIntegrityVerified"])
    assert.equal(cond(session.status.conditions, type)?.status, "True", type);
  assert.deepEqual(await snapshotHosts(w), ["host-0", "host-1"]);
  await pause(w, "db-backup");
  sts = { w, sums };
});

test("a RestoreSession restores each host into the same ordinal of a new StatefulSet through the init-containers", async (t) => {
  assert.ok(sts, "the StatefulSet backup ran first");
  const { w, sums } = sts;
  for (const i of [0, 1]) await hostPathVolume(w, `source-data-recovered-${i}`);
  await w.kube.apply({
    apiVersion: V1B,
    kind: "RestoreSession",
    metadata: { name: "db-restore", namespace: w.namespace },
    spec: {
      repository: { name: "repo" },
      target: {
        ref: { apiVersion: "apps/v1", kind: "StatefulSet", name: "recovered" },
        volumeMounts: [{ name: "source-data", mountPath: "/source/data" }],
        rules: [{ paths: ["/source/data"] }],
      },
    },
  });
  await w.kube.apply({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "recovered", namespace: w.namespace },
    spec: { clusterIP: "None", selector: { app: "recovered" } },
  });
  await w.kube.apply(statefulSet(w.namespace, "recovered", 2, false));
  const rs = await endedRestoreSession(w, "db-restore");
  timing(t, "statefulset restore (2 hosts)", rs);
  assert.equal(rs.status.phase, "Succeeded", JSON.stringify(rs.status, null, 1));
  assert.deepEqual(rs.status.stats.map((s: any) => s.hostname).sort(), ["host-0", "host-1"], JSON.stringify(rs.status.stats));
  const pods = await runningPods(w, "app=recovered", 2, "stash-init", "initContainers");
  const restored = await Promise.all(pods.map((p) => checksums(w, p.metadata.name, "app", "/source/data")));
  // recovered-0 holds db-0's files (the file naming the writer says db-0), recovered-1 db-1's.
  assert.deepEqual(restored, sums, "each ordinal got its own host's bytes");
});

test("a DaemonSet's pod on the node backs its volume up through the injected sidecar under the node's name", async (t) => {
  const w = await ownNamespace("node-ds");
  await minioRepository(w, "repo", "ds");
  const dir = tempDir("ds");
  await w.kube.apply({
    apiVersion: V1B,
    kind: "BackupConfiguration",
    metadata: { name: "agent-backup", namespace: w.namespace },
    spec: {
      repository: { name: "repo" },
      schedule: "*/1 * * * *",
      target: {
        ref: { apiVersion: "apps/v1", kind: "DaemonSet", name: "agent" },
        volumeMounts: [{ name: "source-data", mountPath: "/source/data" }],
        paths: ["/source/data"],
      },
      retentionPolicy: retention,
    },
  });
  // As Stash's DaemonSet guide: the data lives on the node (a hostPath).
  await w.kube.apply({
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: "agent", namespace: w.namespace, labels: { app: "agent" } },
    spec: {
      selector: { matchLabels: { app: "agent" } },
      template: {
        metadata: { labels: { app: "agent" } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: "app",
              image: BUSYBOX,
              command: ["sh", "-c", `${fillScript("/source/data")} && exec sleep 36000`],
              volumeMounts: [{ name: "source-data", mountPath: "/source/data" }],
            },
          ],
          volumes: [{ name: "source-data", hostPath: { path: dir, type: "Directory" } }],
        },
      },
    },
  });
  const [pod] = await runningPods(w, "app=agent", 1, "stash");
  const sums = await checksums(w, pod.metadata.name, "app", "/source/data");
  assert.equal(sums.trim().split("\n").length, 4, sums);
  const session = await endedBackupSession(w);
  timing(t, "daemonset backup", session);
  assert.equal(session.status.phase, "Succeeded", JSON.stringify(session.status, null, 1));
  const target = session.status.targets[0];
  assert.equal(target.totalHosts, 1);
  assert.equal(target.stats.length, 1, JSON.stringify(target.stats));
  assert.equal(target.stats[0].hostname, pod.spec.nodeName, "a DaemonSet's host is its pod's node");
  assert.equal(target.stats[0].snapshots[0].fileStats.totalFiles, 4);
  assert.deepEqual(await snapshotHosts(w), [pod.spec.nodeName]);
  await pause(w, "agent-backup");
  t.diagnostic(`test file so far: ${((Date.now() - fileStarted) / 1000).toFixed(1)} s`);
});
