// Objects the controller tests create: a Repository with its Secret, a Deployment, a
// BackupConfiguration. Plain builders (test support, not a mock: they go to the real API server).

export function repository(namespace: string, name: string, backend: Record<string, unknown>, extra: Record<string, unknown> = {}): any {
  return {
    apiVersion: "stash.appscode.com/v1alpha1",
    kind: "Repository",
    metadata: { name, namespace },
    spec: { backend: { storageSecretName: `${name}-secret`, ...backend }, ...extra },
  };
}

export function secret(namespace: string, name: string, data: Record<string, string>): any {
  return { apiVersion: "v1", kind: "Secret", metadata: { name, namespace }, stringData: data };
}

export function deployment(namespace: string, name: string, mountPath = "/source/data"): any {
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
          containers: [{ name: "app", image: "busybox", command: ["sleep", "3600"], volumeMounts: [{ name: "source-data", mountPath }] }],
          volumes: [{ name: "source-data", emptyDir: {} }],
        },
      },
    },
  };
}

export function backupConfiguration(
  namespace: string,
  name: string,
  target: { kind: string; name: string; apiVersion?: string },
  repo: string,
  extra: Record<string, unknown> = {},
): any {
  return {
    apiVersion: "stash.appscode.com/v1beta1",
    kind: "BackupConfiguration",
    metadata: { name, namespace },
    spec: {
      repository: { name: repo },
      schedule: "*/5 * * * *",
      target: {
        ref: { apiVersion: target.apiVersion ?? (target.kind === "PersistentVolumeClaim" ? "v1" : "apps/v1"), kind: target.kind, name: target.name },
        volumeMounts: [{ name: "source-data", mountPath: "/source/data" }],
        paths: ["/source/data"],
      },
      retentionPolicy: { name: "keep-last-5", keepLast: 5, prune: true },
      ...extra,
    },
  };
}

export { eventually } from "./eventually.ts";
