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
import type { V1OwnerReference } from "@kubernetes/client-node";
import { controllerRef } from "../lib/owner.ts";
import type { BackupBatchMember, BackupSession, BackupTarget } from "../schema/types.generated.ts";
import type { BackupInvoker } from "./invoker-targets.ts";

export function sessionLabels(invoker: BackupInvoker): Record<string, string> {
  const spec: { target?: BackupTarget; members?: BackupBatchMember[] } | undefined = invoker.spec;
  const ref = spec?.target?.ref ?? spec?.members?.[0]?.target?.ref;
  const labels: Record<string, string> = {
    ...offshootLabels(invoker.metadata.labels, COMPONENT_BACKUP),
    [LABEL_INVOKER_TYPE]: invoker.kind ?? "BackupConfiguration",
    [LABEL_INVOKER_NAME]: invoker.metadata.name ?? "",
  };
  if (ref?.kind) labels[LABEL_TARGET_KIND] = ref.kind;
  if (ref?.name) labels[LABEL_TARGET_NAME] = ref.name;
  if (ref?.name) labels[LABEL_TARGET_NAMESPACE] = ref.namespace || invoker.metadata.namespace || "";
  return sortKeys(labels);
}

/** A BackupSession as newBackupSession builds it: name, labels and owner always set. */
export type NewBackupSession = BackupSession & {
  metadata: { name: string; namespace?: string; labels: Record<string, string>; ownerReferences: V1OwnerReference[] };
};

export function newBackupSession(invoker: BackupInvoker, unixSeconds: number, retryLeft?: number): NewBackupSession {
  const name = invoker.metadata.name ?? "";
  return {
    apiVersion: V1BETA1,
    kind: "BackupSession",
    metadata: {
      name: backupSessionName(name, unixSeconds),
      namespace: invoker.metadata.namespace,
      labels: sessionLabels(invoker),
      ownerReferences: [
        controllerRef({
          apiVersion: invoker.apiVersion ?? V1BETA1,
          kind: invoker.kind ?? "BackupConfiguration",
          metadata: invoker.metadata,
        }) as unknown as V1OwnerReference,
      ],
    },
    spec: {
      invoker: { apiGroup: "stash.appscode.com", kind: invoker.kind ?? "BackupConfiguration", name },
      retryLeft: retryLeft ?? invoker.spec?.retryConfig?.maxRetry ?? 0,
    },
  };
}
