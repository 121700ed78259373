// The restore Job for job-model targets (a PVC): runs the runner's `restore` for the session.
// `rs` is a RestoreSession, or a RestoreBatch as one member sees it (invoker-targets.ts memberView).
import { COMPONENT_RESTORE, SIDECAR_CONTAINER, V1BETA1, offshootLabels, restoreJobName } from "../../stash/names.ts";
import { controllerRef } from "../../lib/owner.ts";
import { maxConnections } from "../../stash/pod-template.ts";
import { jobPodBase, jobVolumes } from "../backup-session/backup-job.ts";
import type { OperatorOptions } from "../context.ts";

export function desiredRestoreJob(rs: any, repo: any, index: number, opts: OperatorOptions, taskPod?: Record<string, any>): any {
  const target = rs.spec?.target ?? {};
  const ref = target.ref ?? {};
  const labels = offshootLabels(rs.metadata.labels, COMPONENT_RESTORE);
  const { volumes, mounts } = jobVolumes(target);
  const rt = rs.spec?.runtimeSettings ?? {};
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: restoreJobName(rs.metadata.name, index),
      namespace: rs.metadata.namespace,
      labels,
      ownerReferences: [controllerRef({ apiVersion: rs.apiVersion ?? V1BETA1, kind: rs.kind ?? "RestoreSession", metadata: rs.metadata })],
    },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels },
        spec: taskPod
          ? { ...jobPodBase(rt.pod), ...taskPod }
          : {
              ...jobPodBase(rt.pod),
              restartPolicy: "Never",
              containers: [
                {
                  name: SIDECAR_CONTAINER,
                  image: opts.image,
                  imagePullPolicy: opts.imagePullPolicy ?? "IfNotPresent",
                  args: [
                    "restore",
                    `--invoker-name=${rs.metadata.name}`,
                    `--invoker-kind=${rs.kind ?? "RestoreSession"}`,
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
