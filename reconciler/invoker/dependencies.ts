// Steps shared by the backup and restore invoker reconcilers: find the Repository,
// its backend Secret, the target, and check the
// Repository's usage policy. Each step sets its Stash condition and throws a typed error to stop.
import type { V1Namespace, V1Secret } from "@kubernetes/client-node";
import { setCondition, type ConditionInput } from "../../lib/conditions.ts";
import { stalled, waiting } from "../../lib/errors.ts";
import type { Kube, KubeObject } from "../../lib/kube/client.ts";
import type { Condition, Repository } from "../../schema/types.generated.ts";
import { C, R } from "../../stash/conditions.ts";
import { REQUEUE_MS, V1ALPHA1 } from "../../stash/names.ts";
import { targetApiVersion } from "./workload.ts";
import type { Invoker, InvokerView, TargetInfo } from "../../stash/invoker-targets.ts";

export interface StepState {
  conditions: Condition[];
  now: Date;
  generation?: number;
}

/** lib's setCondition on a Stash status's conditions: the one it sets is stamped with lastTransitionTime, the others were read with theirs. */
export const setStashCondition = (list: readonly Condition[] | undefined, input: ConditionInput, now: Date, generation?: number): Condition[] =>
  setCondition(list, input, now, generation) as Condition[];

export const setCond = (st: StepState, type: string, status: boolean | "Unknown", reason: string, message: string) => {
  st.conditions = setStashCondition(st.conditions, { type, status, reason, message }, st.now, st.generation);
};

/** The Repository an invoker names (spec.repository; its namespace defaults to the invoker's). */
export function repositoryRef(invoker: Invoker | InvokerView): { name: string | undefined; namespace: string } {
  return { name: invoker.spec?.repository?.name, namespace: invoker.spec?.repository?.namespace || invoker.metadata.namespace! };
}

const objRef = (inv: Invoker | InvokerView) => ({ kind: inv.kind, namespace: inv.metadata.namespace, name: inv.metadata.name! });

export async function findRepository(kube: Kube, st: StepState, invoker: Invoker | InvokerView): Promise<Repository> {
  const { name, namespace } = repositoryRef(invoker);
  if (!name) {
    setCond(st, C.RepositoryFound, false, R.RepositoryNotAvailable, "spec.repository.name is empty.");
    throw stalled(R.RepositoryNotAvailable, "no Repository named", { object: objRef(invoker), field: "spec.repository.name" });
  }
  let repo: Repository | null;
  try {
    repo = await kube.getOrNull<Repository>(V1ALPHA1, "Repository", name, namespace);
  } catch (e) {
    setCond(
      st,
      C.RepositoryFound,
      "Unknown",
      R.UnableToCheckRepositoryAvailability,
      `Failed to check whether the Repository ${namespace}/${name} exist. Reason: ${(e as Error).message}`,
    );
    throw e;
  }
  if (!repo || repo.metadata.deletionTimestamp) {
    const why = repo ? "is being deleted" : "does not exist";
    setCond(st, C.RepositoryFound, false, R.RepositoryNotAvailable, `Repository ${namespace}/${name} ${why}.`);
    throw waiting(R.RepositoryNotAvailable, `Repository ${namespace}/${name} ${why}`, REQUEUE_MS, { object: objRef(invoker), field: "spec.repository" });
  }
  setCond(st, C.RepositoryFound, true, R.RepositoryAvailable, `Repository ${namespace}/${name} exist.`);
  return repo;
}

export async function findBackendSecret(kube: Kube, st: StepState, invoker: Invoker | InvokerView, repo: Repository): Promise<V1Secret> {
  const name = repo.spec?.backend?.storageSecretName;
  const ns = repo.metadata.namespace!;
  if (!name) {
    setCond(st, C.BackendSecretFound, false, R.BackendSecretNotAvailable, `Repository ${ns}/${repo.metadata.name} has no spec.backend.storageSecretName.`);
    throw stalled(R.BackendSecretNotAvailable, "no storage Secret named", {
      object: { kind: "Repository", namespace: ns, name: repo.metadata.name! },
      field: "spec.backend.storageSecretName",
    });
  }
  let secret: V1Secret | null;
  try {
    secret = await kube.getOrNull<V1Secret>("v1", "Secret", name, ns);
  } catch (e) {
    setCond(
      st,
      C.BackendSecretFound,
      "Unknown",
      R.UnableToCheckBackendSecretAvailability,
      `Failed to check whether the backend Secret ${ns}/${name} exist. Reason: ${(e as Error).message}`,
    );
    throw e;
  }
  if (!secret) {
    setCond(st, C.BackendSecretFound, false, R.BackendSecretNotAvailable, `Backend Secret ${ns}/${name} does not exist.`);
    throw waiting(R.BackendSecretNotAvailable, `backend Secret ${ns}/${name} does not exist`, REQUEUE_MS, {
      object: objRef(invoker),
      field: "spec.repository",
    });
  }
  setCond(st, C.BackendSecretFound, true, R.BackendSecretAvailable, `Backend Secret ${ns}/${name} exist.`);
  return secret;
}

/** Repository usagePolicy.allowedNamespaces: Same (default), All, or Selector on Namespace labels. */
export async function usageAllowed(kube: Kube, repo: Repository, namespace: string): Promise<boolean> {
  if (repo.metadata.namespace === namespace) return true;
  const allowed = repo.spec?.usagePolicy?.allowedNamespaces;
  if (!allowed?.from) return false;
  if (allowed.from === "All") return true;
  if (allowed.from !== "Selector") return false;
  const ns = await kube.getOrNull<V1Namespace>("v1", "Namespace", namespace);
  const labels: Record<string, string> = ns?.metadata?.labels ?? {};
  const sel = allowed.selector ?? {};
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const ex of sel.matchExpressions ?? []) {
    const has = ex.key in labels;
    const inVals = (ex.values ?? []).includes(labels[ex.key]);
    if (ex.operator === "In" && !(has && inVals)) return false;
    if (ex.operator === "NotIn" && has && inVals) return false;
    if (ex.operator === "Exists" && !has) return false;
    if (ex.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

/** Finds the invoker's target (`info`: one of a batch's members; default spec.target) and sets `conditionType` on `st`. */
export async function findTarget(
  kube: Kube,
  st: StepState,
  invoker: Invoker | InvokerView,
  conditionType: string,
  kindWord: string,
  info?: TargetInfo,
): Promise<KubeObject | null> {
  const ref = info ? info.target?.ref : invoker.spec && "target" in invoker.spec ? invoker.spec.target?.ref : undefined;
  const field = `${info?.field ?? "spec.target"}.ref`;
  if (!ref?.kind || !ref?.name) {
    setCond(st, conditionType, false, R.TargetNotAvailable, `${field} is not set.`);
    throw stalled(R.TargetNotAvailable, "kind and name are required", { object: objRef(invoker), field });
  }
  const ns = ref.namespace || invoker.metadata.namespace!;
  let target: KubeObject | null;
  try {
    target = await kube.getOrNull(targetApiVersion(ref), ref.kind, ref.name, ns);
  } catch (e) {
    setCond(
      st,
      conditionType,
      "Unknown",
      R.UnableToCheckTargetAvailability,
      `Failed to check whether ${kindWord} target ${ref.kind} ${ns}/${ref.name} exist. Reason: ${(e as Error).message}`,
    );
    throw e;
  }
  if (!target) {
    setCond(st, conditionType, false, R.TargetNotAvailable, `${kindWord} target ${ref.kind} ${ns}/${ref.name} does not exist.`);
    throw waiting(R.TargetNotAvailable, `${kindWord.toLowerCase()} target ${ref.kind} ${ns}/${ref.name} does not exist`, REQUEUE_MS, {
      object: objRef(invoker),
      field,
    });
  }
  setCond(st, conditionType, true, R.TargetAvailable, `${kindWord} target ${ref.kind} ${ns}/${ref.name} found.`);
  return target;
}
