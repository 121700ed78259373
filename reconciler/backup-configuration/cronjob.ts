// The backup-triggering CronJob of a BackupConfiguration (stash-behaviour.md 2.3), built purely.
import { COMPONENT_BACKUP, LABEL_DELETE_JOB_ON_COMPLETION, TRIGGER_CONTAINER, V1BETA1, cronJobName, offshootLabels, sortKeys } from "../../stash/names.ts";
import type { V1CronJob, V1CronJobSpec, V1JobSpec, V1ObjectMeta, V1PodSpec, V1RoleBinding, V1ServiceAccount, RbacV1Subject } from "@kubernetes/client-node";
import { controllerRef } from "../../lib/owner.ts";
import type { BackupConfigurationSpec, ContainerRuntimeSettings, PodRuntimeSettings } from "../../schema/types.generated.ts";
import type { OperatorOptions } from "../context.ts";

/** The fields of `o` named in `keys` that are set, copied. */
function pick<T extends object, K extends keyof T>(o: T | undefined, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o?.[k] !== undefined) out[k] = structuredClone(o[k]);
  return out;
}

/** What the trigger CronJob is built from: a BackupConfiguration or a BackupBatch (kind and apiVersion default to BackupConfiguration's). */
export interface CronJobSource {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta;
  spec?: Pick<BackupConfigurationSpec, "schedule" | "paused" | "runtimeSettings">;
}

/** The CronJob as built: name, schedule and the trigger pod always set. */
export type TriggerCronJob = V1CronJob & {
  metadata: V1ObjectMeta & { name: string };
  spec: V1CronJobSpec & { jobTemplate: { spec: V1JobSpec & { template: { spec: V1PodSpec } } } };
};

/** The trigger pod's ServiceAccount and RoleBinding (subjects only on the RoleBinding). */
export type TriggerRBAC = (V1ServiceAccount | V1RoleBinding) & { metadata: V1ObjectMeta & { name: string }; subjects?: RbacV1Subject[] };

/** Pod-level runtime settings Stash applies to its pods. */
export function podRuntimeSettings(pod: PodRuntimeSettings | undefined): Partial<V1PodSpec> {
  return pick(pod, [
    "nodeSelector",
    "securityContext",
    "imagePullSecrets",
    "affinity",
    "schedulerName",
    "tolerations",
    "priorityClassName",
    "priority",
    "runtimeClassName",
    "nodeName",
    "automountServiceAccountToken",
    "enableServiceLinks",
  ] as const);
}

export function desiredCronJob(bc: CronJobSource, opts: Pick<OperatorOptions, "image" | "imagePullPolicy">): TriggerCronJob {
  const name = cronJobName(bc.metadata.name!);
  const labels = offshootLabels(bc.metadata.labels, COMPONENT_BACKUP);
  const rs = bc.spec?.runtimeSettings ?? {};
  const container = {
    name: TRIGGER_CONTAINER,
    image: opts.image,
    imagePullPolicy: opts.imagePullPolicy ?? "IfNotPresent",
    args: ["create-backupsession", `--invoker-name=${bc.metadata.name}`, `--invoker-kind=${bc.kind ?? "BackupConfiguration"}`],
    ...pick<ContainerRuntimeSettings, "resources" | "env" | "envFrom" | "securityContext">(rs.container, ["resources", "env", "envFrom", "securityContext"]),
  };
  return {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: {
      name,
      namespace: bc.metadata.namespace,
      labels,
      ownerReferences: [controllerRef({ apiVersion: bc.apiVersion ?? V1BETA1, kind: bc.kind ?? "BackupConfiguration", metadata: bc.metadata })],
    },
    spec: {
      // Required: validateBackupInvoker refuses an invoker without one before its CronJob is applied.
      schedule: bc.spec?.schedule as string,
      suspend: bc.spec?.paused === true,
      jobTemplate: {
        metadata: { labels: sortKeys({ ...labels, [LABEL_DELETE_JOB_ON_COMPLETION]: "true" }) },
        spec: {
          template: {
            metadata: { labels },
            spec: {
              ...podRuntimeSettings(rs.pod),
              serviceAccountName: rs.pod?.serviceAccountName ?? name,
              containers: [container],
              restartPolicy: "Never",
            },
          },
        },
      },
    },
  };
}

/**
 * The ServiceAccount (unless the user names one) and RoleBinding to ClusterRole `stash-cron-job`
 * the trigger pod runs with, both named after the CronJob and owned by the BackupConfiguration.
 */
export function desiredCronJobRBAC(bc: CronJobSource): TriggerRBAC[] {
  const name = cronJobName(bc.metadata.name!);
  const labels = offshootLabels(bc.metadata.labels, COMPONENT_BACKUP);
  const owner = [controllerRef({ apiVersion: bc.apiVersion ?? V1BETA1, kind: bc.kind ?? "BackupConfiguration", metadata: bc.metadata })];
  const meta = { name, namespace: bc.metadata.namespace, labels, ownerReferences: owner };
  const userSA = bc.spec?.runtimeSettings?.pod?.serviceAccountName;
  const out: TriggerRBAC[] = [];
  if (!userSA) out.push({ apiVersion: "v1", kind: "ServiceAccount", metadata: meta });
  out.push({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: meta,
    // The ClusterRole deploy/rbac.yaml ships (and the only one besides restash-runner the operator may bind).
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "restash-cron-job" },
    subjects: [{ kind: "ServiceAccount", name: userSA ?? name, namespace: bc.metadata.namespace }],
  });
  return out;
}
