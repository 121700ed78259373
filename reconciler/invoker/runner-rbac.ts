// The RoleBinding that lets a workload's ServiceAccount run the restash runner (the backup sidecar,
// the restore init-container, the backup and restore Jobs): ClusterRole restash-runner, bound in the
// workload's namespace, as Stash binds its sidecar role per namespace. One per ServiceAccount and
// namespace, shared by every invoker there, so it has no owner; `kubectl delete ns` takes it away.
import type { V1PodSpec, V1RoleBinding } from "@kubernetes/client-node";
import type { AnyObject, Kube } from "../../lib/kube/client.ts";
import type { RuntimeSettings } from "../../schema/types.generated.ts";
import { LABEL_MANAGED_BY, MANAGED_BY } from "../../stash/names.ts";

export const RUNNER_CLUSTER_ROLE = "restash-runner";

/** The ServiceAccount a workload's pods run as. */
export const podServiceAccount = (workload: (AnyObject & { spec?: { template?: { spec?: Pick<V1PodSpec, "serviceAccountName"> } } }) | null | undefined) =>
  workload?.spec?.template?.spec?.serviceAccountName || "default";

/** The ServiceAccount a Job's pod runs as (runtimeSettings.pod.serviceAccountName, as jobPodBase sets it). */
export const jobServiceAccount = (invoker: AnyObject & { spec?: { runtimeSettings?: RuntimeSettings } }) =>
  invoker.spec?.runtimeSettings?.pod?.serviceAccountName || "default";

export function desiredRunnerBinding(namespace: string, serviceAccount: string): V1RoleBinding {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: `${RUNNER_CLUSTER_ROLE}-${serviceAccount}`.slice(0, 253), namespace, labels: { [LABEL_MANAGED_BY]: MANAGED_BY } },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: RUNNER_CLUSTER_ROLE },
    subjects: [{ kind: "ServiceAccount", name: serviceAccount, namespace }],
  };
}

/** Applies the binding once per namespace and ServiceAccount for the life of `done` (the operator's memo). */
export async function ensureRunnerBinding(kube: Kube, done: Set<string> | undefined, namespace: string, serviceAccount: string): Promise<void> {
  const key = `${namespace}/${serviceAccount}`;
  if (done?.has(key)) return;
  await kube.apply(desiredRunnerBinding(namespace, serviceAccount), { force: true });
  done?.add(key);
}
