// Helpers for the node tests of Stash's other targets (a stand-alone PVC, a StatefulSet, a DaemonSet):
// a MinIO-backed Repository, hostPath PersistentVolumes under a temp dir of the test's own (the node
// has no dynamic provisioner), Running pods by label, checksums read through kubectl exec, and the
// end of a RestoreSession.
//
//   ownNamespace(prefix) -> NodeNamespace                 nodeNamespace, deleted after the file's tests
//   minioRepository(w, name, prefix) -> { minio, bucket }
//   hostPathVolume(w, name, opts) -> { name, dir }      a PV (cluster-scoped) removed, with its dir, after the file's tests
//   runningPods(w, selector, count, container?) -> pods
//   checksums(w, pod, container, dir) -> "sha  ./file\n..."
//   endedRestoreSession(w, name) -> RestoreSession
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { eventually } from "./eventually.ts";
import { kubectl, nodeNamespace, reachableFromPods, type NodeNamespace } from "./node.ts";
import { freshBucket } from "./services.ts";

export const V1B = "stash.appscode.com/v1beta1";
export const V1A = "stash.appscode.com/v1alpha1";
export const BUSYBOX = "docker.io/library/busybox:1.35";

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.splice(0)) await c().catch(() => undefined);
});

/** nodeNamespace, deleted after the file's tests (its claims first, so their hostPath volumes can go). */
export async function ownNamespace(prefix: string): Promise<NodeNamespace> {
  const w = await nodeNamespace(prefix);
  cleanups.unshift(async () => {
    await w.kube.delete({ apiVersion: "v1", kind: "Namespace", metadata: { name: w.namespace } });
  });
  return w;
}

/** A Secret and a Repository `name` in a fresh MinIO bucket that pods reach through a relay. */
export async function minioRepository(w: NodeNamespace, name: string, prefix: string) {
  const { minio, bucket } = await eventually("a MinIO bucket", () => freshBucket(prefix), 20_000, 100);
  const endpoint = await reachableFromPods(minio.endpoint);
  await w.kube.apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: `${name}-creds`, namespace: w.namespace },
    stringData: { RESTIC_PASSWORD: randomBytes(12).toString("hex"), AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: minio.secretKey },
  });
  await w.kube.apply({
    apiVersion: V1A,
    kind: "Repository",
    metadata: { name, namespace: w.namespace },
    spec: { backend: { storageSecretName: `${name}-creds`, s3: { endpoint, bucket, prefix, region: minio.region } } },
  });
  return { minio, bucket };
}

/** A temp dir of this test file, removed after its tests (with what pods wrote into it). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `restash-${prefix}-`));
  // mkdtemp makes it 0700: open it as a volume directory is (the pods' containers read and write it).
  chmodSync(dir, 0o777);
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A hostPath PersistentVolume on a temp dir, reserved for the claim `claim` of the namespace (so a
 * StatefulSet's claim `<template>-<set>-<ordinal>` or a PVC binds to it and to nothing else). Deleted after the tests.
 */
export async function hostPathVolume(w: NodeNamespace, claim: string): Promise<{ name: string; dir: string }> {
  const dir = tempDir(claim);
  const name = `${w.namespace}-${claim}`.slice(0, 63).replace(/-+$/, "");
  await w.kube.apply({
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name, labels: { "restash.dev/test-namespace": w.namespace } },
    spec: {
      capacity: { storage: "1Gi" },
      accessModes: ["ReadWriteOnce"],
      persistentVolumeReclaimPolicy: "Retain",
      storageClassName: "",
      claimRef: { namespace: w.namespace, name: claim },
      hostPath: { path: dir, type: "Directory" },
    },
  });
  cleanups.push(() => w.kube.delete({ apiVersion: "v1", kind: "PersistentVolume", metadata: { name } }).then(() => undefined));
  return { name, dir };
}

/** A claim for the volume hostPathVolume reserved for it. */
export function claim(namespace: string, name: string): any {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name, namespace },
    spec: { accessModes: ["ReadWriteOnce"], storageClassName: "", resources: { requests: { storage: "1Gi" } } },
  };
}

/** `count` Running, ready pods with the label selector (and, if given, the container or init-container). */
export async function runningPods(
  w: NodeNamespace,
  selector: string,
  count: number,
  container?: string,
  kind: "containers" | "initContainers" = "containers",
): Promise<any[]> {
  return eventually(
    `${count} Running pods ${selector}${container ? ` with ${container}` : ""}`,
    async () => {
      const pods = (await w.kube.list<any>("v1", "Pod", w.namespace, selector)).items.filter(
        (p) =>
          !p.metadata.deletionTimestamp &&
          p.status?.phase === "Running" &&
          (!container || p.spec[kind]?.some((c: any) => c.name === container)) &&
          p.status.containerStatuses?.every((c: any) => c.ready),
      );
      return pods.length === count && pods.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    },
    240_000,
    250,
  );
}

/** sha256 of every file under `dir`, as the container reads them. */
export async function checksums(w: NodeNamespace, pod: string, container: string, dir: string): Promise<string> {
  return kubectl(w.node, ["-n", w.namespace, "exec", pod, "-c", container, "--", "sh", "-c", `cd ${dir} && find . -type f | sort | xargs sha256sum`]);
}

/**
 * Shell that fills `dir` with three files of random bytes, a sub-directory and a file naming the pod,
 * once: a container restarted on the same volume (a rollout, a crash) keeps the bytes the test read.
 */
export const fillScript = (dir: string) =>
  `if [ ! -f ${dir}/sub/who ]; then mkdir -p ${dir}/sub && for i in 1 2 3; do head -c $((i*200000)) /dev/urandom > ${dir}/f$i; done && echo $(hostname) > ${dir}/sub/who && sync; fi`;

/** The RestoreSession once it ended (Succeeded or Failed). */
export function endedRestoreSession(w: NodeNamespace, name: string): Promise<any> {
  return eventually(
    `RestoreSession ${w.namespace}/${name} ended`,
    async () => {
      const r = await w.kube.get<any>(V1B, "RestoreSession", name, w.namespace);
      return ["Succeeded", "Failed"].includes(r.status?.phase) && r;
    },
    240_000,
    500,
  );
}

/** Seconds from an object's creationTimestamp to now. */
export const secondsSince = (obj: any) => (Date.now() - Date.parse(obj.metadata.creationTimestamp)) / 1000;
