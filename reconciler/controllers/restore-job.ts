// The restore Job for job-model targets (a PVC): runs the runner's `restore` for the session.
import { COMPONENT_RESTORE, SIDECAR_CONTAINER, TMP_MOUNT_PATH, TMP_VOLUME, V1BETA1, offshootLabels, restoreJobName } from "./stash-names.ts";
import { controllerRef } from "./owner.ts";
import { podRuntimeSettings } from "./cronjob.ts";
import { maxConnections } from "../../restic-runner/pod-template.ts";
import { DEFAULT_DATA_PATH } from "./backup-job.ts";
import type { OperatorOptions } from "./options.ts";

export function desiredRestoreJob(rs: any, repo: any, index: number, opts: OperatorOptions, taskPod?: Record<string, any>): any {
  const target = rs.spec?.target ?? {};
  const ref = target.ref ?? {};
  const labels = offshootLabels(rs.metadata.labels, COMPONENT_RESTORE);
  const mountPath = target.volumeMounts?.[0]?.mountPath ?? DEFAULT_DATA_PATH;
  const volumes: any[] = [{ name: TMP_VOLUME, emptyDir: {} }];
  const mounts: any[] = [{ name: TMP_VOLUME, mountPath: TMP_MOUNT_PATH }];
  if (ref.kind === "PersistentVolumeClaim") {
    volumes.push({ name: "stash-target", persistentVolumeClaim: { claimName: ref.name } });
    mounts.push({ name: "stash-target", mountPath });
  }
  const rt = rs.spec?.runtimeSettings ?? {};
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: restoreJobName(rs.metadata.name, index),
      namespace: rs.metadata.namespace,
      labels,
      ownerReferences: [controllerRef({ apiVersion: rs.apiVersion ?? V1BETA1, kind: "RestoreSession", metadata: rs.metadata })],
    },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels },
        spec: taskPod ? { ...podRuntimeSettings(rt.pod), ...(rt.pod?.serviceAccountName ? { serviceAccountName: rt.pod.serviceAccountName } : {}), ...taskPod } : {
          ...podRuntimeSettings(rt.pod),
          ...(rt.pod?.serviceAccountName ? { serviceAccountName: rt.pod.serviceAccountName } : {}),
          restartPolicy: "Never",
          containers: [
            {
              name: SIDECAR_CONTAINER,
              image: opts.image,
              imagePullPolicy: opts.imagePullPolicy ?? "IfNotPresent",
              args: [
                "restore",
                `--invoker-name=${rs.metadata.name}`,
                `--invoker-kind=RestoreSession`,
                `--target-name=${ref.name ?? ""}`,
                `--target-namespace=${ref.namespace || rs.metadata.namespace}`,
                `--target-kind=${ref.kind ?? ""}`,
                `--restore-model=job`,
                `--enable-cache=${!rs.spec?.tempDir?.disableCaching}`,
                `--max-connections=${maxConnections(repo)}`,
                `--metrics-enabled=${opts.pushgatewayUrl ? "true" : "false"}`,
                `--pushgateway-url=${opts.pushgatewayUrl ?? ""}`,
              ],
              env: [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
              volumeMounts: mounts,
              securityContext: { runAsUser: 0, runAsGroup: 0, ...(rt.container?.securityContext ?? {}) },
            },
          ],
          volumes,
        },
      },
    },
  };
}
