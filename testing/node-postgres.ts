// PostgreSQL on the real node for the database Task tests: a server Deployment (the image
// scripts/build-image.sh postgres builds) with its Service and the AppBinding Stash's PostgreSQL
// addon reads, a MinIO-backed Repository, SQL through `kubectl exec psql`, and the end of a RestoreSession.
//
//   postgresServer(w, name, secret) -> { pod, clusterIP }     Deployment + Service + AppBinding `name`, Ready
//   postgresCredentials(w, name)                               the Secret an AppBinding and the server share
//   minioRepository(w, name, prefix) -> { minio, bucket, env } Secret + Repository; env for restic run from the test
//   psql(w, pod, db, sql) -> stdout                            psql -XAtq in the server's container (local socket)
//   endedRestoreSession(w, name) -> RestoreSession             Succeeded or Failed (within 10 min: each Task step starts Node)
//   deleteAfter(w)                                             the namespace goes after the file's tests
import { randomBytes } from "node:crypto";
import { after } from "node:test";
import { eventually } from "./eventually.ts";
import { kubectl, reachableFromPods, type NodeNamespace } from "./node.ts";
import { freshBucket, type Minio } from "./services.ts";

export const V1B = "stash.appscode.com/v1beta1";
export const APPBINDING = "appcatalog.appscode.com/v1alpha1";
export const POSTGRES_IMAGE = "docker.io/library/postgres:15";

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.splice(0)) await c().catch(() => undefined);
});

export function deleteAfter(w: NodeNamespace): void {
  cleanups.push(async () => {
    await w.kube.delete({ apiVersion: "v1", kind: "Namespace", metadata: { name: w.namespace } });
  });
}

/** The credentials Secret (Stash's PostgreSQL keys), also the server's environment. */
export async function postgresCredentials(w: NodeNamespace, name: string): Promise<void> {
  await w.kube.apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: w.namespace },
    stringData: { POSTGRES_USER: "postgres", POSTGRES_PASSWORD: randomBytes(12).toString("hex") },
  });
}

/**
 * A PostgreSQL server Deployment `name` (label app=<name>, container `postgres`), its Service and
 * an AppBinding `name`, Ready (pg_isready through the kubelet's exec probe). The node has no
 * cluster DNS, so the AppBinding's url holds the Service's ClusterIP beside the service reference
 * (KubeDB's AppBindings carry both); hooks find the pod through the service's selector.
 */
export async function postgresServer(
  w: NodeNamespace,
  name: string,
  secret: string,
  opts: { database?: string } = {},
): Promise<{ pod: string; clusterIP: string }> {
  await w.kube.apply({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: w.namespace, labels: { app: name } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 2,
          containers: [
            {
              name: "postgres",
              image: POSTGRES_IMAGE,
              envFrom: [{ secretRef: { name: secret } }],
              env: opts.database ? [{ name: "POSTGRES_DB", value: opts.database }] : [],
              ports: [{ name: "postgres", containerPort: 5432 }],
              readinessProbe: { exec: { command: ["pg_isready", "-h", "127.0.0.1", "-U", "postgres"] }, periodSeconds: 1, failureThreshold: 120 },
              volumeMounts: [{ name: "data", mountPath: "/var/lib/postgresql/data" }],
            },
          ],
          volumes: [{ name: "data", emptyDir: {} }],
        },
      },
    },
  });
  await w.kube.apply({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: w.namespace },
    spec: { selector: { app: name }, ports: [{ name: "postgres", port: 5432, targetPort: "postgres" }] },
  });
  const svc = await eventually(
    `Service ${name} has a ClusterIP`,
    async () => {
      const s = await w.kube.get<any>("v1", "Service", name, w.namespace);
      return s.spec?.clusterIP && s;
    },
    30_000,
    100,
  );
  const clusterIP: string = svc.spec.clusterIP;
  const db = opts.database ?? "postgres";
  await w.kube.apply({
    apiVersion: APPBINDING,
    kind: "AppBinding",
    metadata: { name, namespace: w.namespace },
    spec: {
      type: "kubedb.com/postgres",
      version: "15",
      clientConfig: {
        url: `postgresql://${clusterIP}:5432/${db}?sslmode=disable`,
        service: { name, port: 5432, path: `/${db}`, query: "sslmode=disable", scheme: "postgresql" },
      },
      secret: { name: secret },
    },
  });
  const pod = await eventually(
    `a Ready pod of ${name}`,
    async () => {
      const pods = (await w.kube.list<any>("v1", "Pod", w.namespace, `app=${name}`)).items;
      return pods.find((p) => !p.metadata.deletionTimestamp && p.status?.containerStatuses?.every((c: any) => c.ready));
    },
    180_000,
    250,
  );
  return { pod: pod.metadata.name, clusterIP };
}

/** A Secret and a Repository `name` in a fresh MinIO bucket that pods reach through a relay; `env` is restic's for the test process. */
export async function minioRepository(w: NodeNamespace, name: string, prefix: string): Promise<{ minio: Minio; bucket: string; env: Record<string, string> }> {
  const { minio, bucket } = await eventually("a MinIO bucket", () => freshBucket(prefix), 20_000, 100);
  const endpoint = await reachableFromPods(minio.endpoint);
  const password = randomBytes(12).toString("hex");
  await w.kube.apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: `${name}-creds`, namespace: w.namespace },
    stringData: { RESTIC_PASSWORD: password, AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: minio.secretKey },
  });
  await w.kube.apply({
    apiVersion: "stash.appscode.com/v1alpha1",
    kind: "Repository",
    metadata: { name, namespace: w.namespace },
    spec: { backend: { storageSecretName: `${name}-creds`, s3: { endpoint, bucket, prefix, region: minio.region } } },
  });
  const env = {
    RESTIC_REPOSITORY: `s3:${minio.endpoint}/${bucket}/${prefix}`,
    RESTIC_PASSWORD: password,
    AWS_ACCESS_KEY_ID: minio.accessKey,
    AWS_SECRET_ACCESS_KEY: minio.secretKey,
    AWS_DEFAULT_REGION: minio.region,
  };
  return { minio, bucket, env };
}

/** psql -XAtq -v ON_ERROR_STOP=1 in the server's container, as its superuser over the local socket. */
export function psql(w: NodeNamespace, pod: string, db: string, sql: string): Promise<string> {
  return kubectl(w.node, ["-n", w.namespace, "exec", "-i", pod, "-c", "postgres", "--", "psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", db], {
    input: sql,
  });
}

export function endedRestoreSession(w: NodeNamespace, name: string): Promise<any> {
  return eventually(
    `RestoreSession ${name} ended`,
    async () => {
      const r = await w.kube.get<any>(V1B, "RestoreSession", name, w.namespace);
      return ["Succeeded", "Failed"].includes(r.status?.phase) && r;
    },
    600_000,
    500,
  );
}
