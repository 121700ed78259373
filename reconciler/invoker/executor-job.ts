// The Job that runs one target's backup or restore in the job model (a PVC, or a target with a
// Task): its volumes, the pod settings it takes from runtimeSettings, and the Job around either the
// Task's pod or the runner's own container. backup-session/backup-job.ts and
// restore-session/restore-job.ts give it their names, owner and runner arguments.
import type { V1Job, V1ObjectMeta, V1OwnerReference, V1PodSpec, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import type { BackupTarget, PodRuntimeSettings, RestoreTarget, RuntimeSettings } from "../../schema/types.generated.ts";
import type { TaskPodSpec } from "../../stash/tasks/resolve-task.ts";
import { SIDECAR_CONTAINER, TMP_MOUNT_PATH, TMP_VOLUME } from "../../stash/names.ts";
import { controllerRef, type Owned } from "../../lib/owner.ts";
import { podRuntimeSettings } from "../backup-configuration/cronjob.ts";
import type { OperatorOptions } from "../context.ts";

export const DEFAULT_DATA_PATH = "/stash-data";

/** The volumes of a backup or restore Job's pod: the scratch dir, and a target PVC at its mount path. */
export function jobVolumes(target: BackupTarget | RestoreTarget): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const volumes: V1Volume[] = [{ name: TMP_VOLUME, emptyDir: {} }];
  const mounts: V1VolumeMount[] = [{ name: TMP_VOLUME, mountPath: TMP_MOUNT_PATH }];
  if (target.ref?.kind === "PersistentVolumeClaim") {
    volumes.push({ name: "stash-target", persistentVolumeClaim: { claimName: target.ref.name } });
    mounts.push({ name: "stash-target", mountPath: target.volumeMounts?.[0]?.mountPath ?? DEFAULT_DATA_PATH });
  }
  return { volumes, mounts };
}

/** Pod settings every Job pod takes from runtimeSettings.pod (scheduling, security, service account). */
export function jobPodBase(pod: PodRuntimeSettings | undefined): Partial<V1PodSpec> {
  return { ...podRuntimeSettings(pod), ...(pod?.serviceAccountName ? { serviceAccountName: pod.serviceAccountName } : {}) };
}

export interface ExecutorJob {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  owner: Owned;
  /** The invoker's (or member's) spec.target. */
  target: BackupTarget | RestoreTarget;
  /** spec.runtimeSettings. */
  runtime: RuntimeSettings | undefined;
  /** The pod a Task resolves to; without one the Job runs the runner with `args`. */
  taskPod?: TaskPodSpec;
  args: string[];
  /** Carry runtimeSettings.pod.podAnnotations and container.resources (backups do, as Stash). */
  withPodAnnotationsAndResources?: boolean;
  opts: OperatorOptions;
}

/** A Job as executorJob builds it: name, owner and pod spec (with its volumes) always set. */
export type BuiltJob = V1Job & {
  metadata: V1ObjectMeta & { name: string; namespace: string; ownerReferences: V1OwnerReference[] };
  spec: NonNullable<V1Job["spec"]> & { template: { spec: V1PodSpec & { volumes: V1Volume[] } } };
};

export function executorJob(j: ExecutorJob): BuiltJob {
  const { volumes, mounts } = jobVolumes(j.target);
  const rt: RuntimeSettings = j.runtime ?? {};
  const extras = j.withPodAnnotationsAndResources;
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: j.name, namespace: j.namespace, labels: j.labels, ownerReferences: [controllerRef(j.owner)] },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels: j.labels, ...(extras && rt.pod?.podAnnotations ? { annotations: rt.pod.podAnnotations } : {}) },
        spec: j.taskPod
          ? // The Task's containers are its Functions' (the Function CRD checked their fields).
            ({ ...jobPodBase(rt.pod), ...j.taskPod } as V1PodSpec & { volumes: V1Volume[] })
          : {
              ...jobPodBase(rt.pod),
              restartPolicy: "Never",
              containers: [
                {
                  name: SIDECAR_CONTAINER,
                  image: j.opts.image,
                  imagePullPolicy: j.opts.imagePullPolicy ?? "IfNotPresent",
                  args: j.args,
                  env: [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
                  volumeMounts: mounts,
                  ...(extras && rt.container?.resources ? { resources: rt.container.resources } : {}),
                  securityContext: { runAsUser: 0, runAsGroup: 0, ...(rt.container?.securityContext ?? {}) },
                },
              ],
              volumes,
            },
      },
    },
  };
}
