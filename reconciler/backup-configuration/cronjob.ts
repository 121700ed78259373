// The backup-triggering CronJob of a BackupConfiguration (stash-behaviour.md 2.3), built purely.
import { COMPONENT_BACKUP, LABEL_DELETE_JOB_ON_COMPLETION, TRIGGER_CONTAINER, V1BETA1, cronJobName, offshootLabels, sortKeys } from "../../stash/names.ts";
import { controllerRef } from "../../lib/owner.ts";
import type { OperatorOptions } from "../context.ts";

const pick = (o: any, keys: string[]) => Object.fromEntries(keys.filter((k) => o?.[k] !== undefined).map((k) => [k, structuredClone(o[k])]));

/** Pod-level runtime settings Stash applies to its pods. */
export function podRuntimeSettings(pod: any): Record<string, unknown> {
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
  ]);
}

export function desiredCronJob(bc: any, opts: Pick<OperatorOptions, "image" | "imagePullPolicy">): any {
  const name = cronJobName(bc.metadata.name);
  const labels = offshootLabels(bc.metadata.labels, COMPONENT_BACKUP);
  const rs = bc.spec?.runtimeSettings ?? {};
  const container = {
    name: TRIGGER_CONTAINER,
    image: opts.image,
    imagePullPolicy: opts.imagePullPolicy ?? "IfNotPresent",
    args: ["create-backupsession", `--invoker-name=${bc.metadata.name}`, `--invoker-kind=${bc.kind ?? "BackupConfiguration"}`],
    ...pick(rs.container, ["resources", "env", "envFrom", "securityContext"]),
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
      schedule: bc.spec?.schedule,
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
export function desiredCronJobRBAC(bc: any): any[] {
  const name = cronJobName(bc.metadata.name);
  const labels = offshootLabels(bc.metadata.labels, COMPONENT_BACKUP);
  const owner = [controllerRef({ apiVersion: bc.apiVersion ?? V1BETA1, kind: bc.kind ?? "BackupConfiguration", metadata: bc.metadata })];
  const meta = { name, namespace: bc.metadata.namespace, labels, ownerReferences: owner };
  const userSA = bc.spec?.runtimeSettings?.pod?.serviceAccountName;
  const out: any[] = [];
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
