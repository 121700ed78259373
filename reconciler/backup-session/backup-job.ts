// The backup Job for job-model targets (a PVC, or a workload with a task): one per BackupSession
// target, owned by the session. Its container runs the runner for exactly that session.
import { COMPONENT_BACKUP, SIDECAR_CONTAINER, TMP_MOUNT_PATH, TMP_VOLUME, V1BETA1, backupJobName, offshootLabels } from "../../stash/names.ts";
import { controllerRef } from "../../lib/owner.ts";
import { podRuntimeSettings } from "../backup-configuration/cronjob.ts";
import { maxConnections } from "../../stash/pod-template.ts";
import type { OperatorOptions } from "../context.ts";

export const DEFAULT_DATA_PATH = "/stash-data";

/** The volumes of a backup or restore Job's pod: the scratch dir, and a target PVC at its mount path. */
export function jobVolumes(target: any): { volumes: any[]; mounts: any[] } {
  const volumes: any[] = [{ name: TMP_VOLUME, emptyDir: {} }];
  const mounts: any[] = [{ name: TMP_VOLUME, mountPath: TMP_MOUNT_PATH }];
  if (target.ref?.kind === "PersistentVolumeClaim") {
    volumes.push({ name: "stash-target", persistentVolumeClaim: { claimName: target.ref.name } });
    mounts.push({ name: "stash-target", mountPath: target.volumeMounts?.[0]?.mountPath ?? DEFAULT_DATA_PATH });
  }
  return { volumes, mounts };
}

/** Pod settings every Job pod takes from runtimeSettings.pod (scheduling, security, service account). */
export function jobPodBase(pod: any): Record<string, any> {
  return { ...podRuntimeSettings(pod), ...(pod?.serviceAccountName ? { serviceAccountName: pod.serviceAccountName } : {}) };
}

/**
 * With `taskPod` (the invoker names a Task: restic-runner/tasks resolves it) the Job runs that pod;
 * without, it runs the runner's `run-backup --backupsession` for the session.
 */
export function desiredBackupJob(session: any, invoker: any, repo: any, index: number, opts: OperatorOptions, taskPod?: Record<string, any>): any {
  const target = invoker.spec?.target ?? {};
  const ref = target.ref ?? {};
  const labels = offshootLabels(invoker.metadata.labels, COMPONENT_BACKUP);
  const { volumes, mounts } = jobVolumes(target);
  const rs = invoker.spec?.runtimeSettings ?? {};
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: backupJobName(session.metadata.name, index),
      namespace: session.metadata.namespace,
      labels,
      ownerReferences: [controllerRef({ apiVersion: session.apiVersion ?? V1BETA1, kind: "BackupSession", metadata: session.metadata })],
    },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels, ...(rs.pod?.podAnnotations ? { annotations: rs.pod.podAnnotations } : {}) },
        spec: taskPod
          ? { ...jobPodBase(rs.pod), ...taskPod }
          : {
              ...jobPodBase(rs.pod),
              restartPolicy: "Never",
              containers: [
                {
                  name: SIDECAR_CONTAINER,
                  image: opts.image,
                  imagePullPolicy: opts.imagePullPolicy ?? "IfNotPresent",
                  args: [
                    "run-backup",
                    `--invoker-name=${invoker.metadata.name}`,
                    `--invoker-kind=${invoker.kind ?? "BackupConfiguration"}`,
                    `--target-name=${ref.name ?? ""}`,
                    `--target-namespace=${ref.namespace || invoker.metadata.namespace}`,
                    `--target-kind=${ref.kind ?? ""}`,
                    `--backupsession=${session.metadata.name}`,
                    `--enable-cache=${!invoker.spec?.tempDir?.disableCaching}`,
                    `--max-connections=${maxConnections(repo)}`,
                    `--metrics-enabled=${opts.pushgatewayUrl ? "true" : "false"}`,
                    `--pushgateway-url=${opts.pushgatewayUrl ?? ""}`,
                  ],
                  env: [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
                  volumeMounts: mounts,
                  ...(rs.container?.resources ? { resources: rs.container.resources } : {}),
                  securityContext: { runAsUser: 0, runAsGroup: 0, ...(rs.container?.securityContext ?? {}) },
                },
              ],
              volumes,
            },
      },
    },
  };
}
