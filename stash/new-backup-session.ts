// The BackupSession an invoker's trigger creates (stash-behaviour.md 2.4): `<invoker>-<unix s>`,
// invoker and target labels, owned by the invoker, retryLeft from retryConfig.
import {
  COMPONENT_BACKUP,
  LABEL_INVOKER_NAME,
  LABEL_INVOKER_TYPE,
  LABEL_TARGET_KIND,
  LABEL_TARGET_NAME,
  LABEL_TARGET_NAMESPACE,
  V1BETA1,
  backupSessionName,
  offshootLabels,
  sortKeys,
} from "./names.ts";
import { controllerRef } from "../lib/owner.ts";

export function sessionLabels(invoker: any): Record<string, string> {
  const ref = invoker.spec?.target?.ref ?? invoker.spec?.members?.[0]?.target?.ref;
  const labels: Record<string, string> = {
    ...offshootLabels(invoker.metadata.labels, COMPONENT_BACKUP),
    [LABEL_INVOKER_TYPE]: invoker.kind ?? "BackupConfiguration",
    [LABEL_INVOKER_NAME]: invoker.metadata.name,
  };
  if (ref?.kind) labels[LABEL_TARGET_KIND] = ref.kind;
  if (ref?.name) labels[LABEL_TARGET_NAME] = ref.name;
  if (ref?.name) labels[LABEL_TARGET_NAMESPACE] = ref.namespace || invoker.metadata.namespace;
  return sortKeys(labels);
}

export function newBackupSession(invoker: any, unixSeconds: number, retryLeft?: number): any {
  return {
    apiVersion: V1BETA1,
    kind: "BackupSession",
    metadata: {
      name: backupSessionName(invoker.metadata.name, unixSeconds),
      namespace: invoker.metadata.namespace,
      labels: sessionLabels(invoker),
      ownerReferences: [controllerRef({ apiVersion: invoker.apiVersion ?? V1BETA1, kind: invoker.kind ?? "BackupConfiguration", metadata: invoker.metadata })],
    },
    spec: {
      invoker: { apiGroup: "stash.appscode.com", kind: invoker.kind ?? "BackupConfiguration", name: invoker.metadata.name },
      retryLeft: retryLeft ?? invoker.spec?.retryConfig?.maxRetry ?? 0,
    },
  };
}
