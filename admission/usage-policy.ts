// Repository.spec.usagePolicy: which namespaces may refer to a Repository. Same as Stash: no
// policy at all means only the Repository's own namespace; a policy without `from` allows nobody
// else; `All` allows every namespace; `Selector` matches the referring namespace's labels.
import type { V1ObjectMeta } from "@kubernetes/client-node";
import type { RepositorySpec } from "../schema/types.generated.ts";

/** What the decision reads of a Repository. */
type UsageOf = { metadata: V1ObjectMeta; spec?: Pick<RepositorySpec, "usagePolicy"> };
import { fromLabelSelector, matches } from "../lib/kube/label-selector.ts";

export type UsageDecision = { allowed: true } | { allowed: false; reason: string };

/**
 * Whether `namespace` (whose labels are `namespaceLabels`) may use `repo`. The own namespace is
 * always allowed.
 */
export function usageAllowed(repo: UsageOf, namespace: string, namespaceLabels: Record<string, string> = {}): UsageDecision {
  if (repo.metadata.namespace === namespace) return { allowed: true };
  const policy = repo.spec?.usagePolicy?.allowedNamespaces;
  if (!policy) return { allowed: false, reason: "the Repository has no usagePolicy, so only its own namespace may use it" };
  switch (policy.from) {
    case "All":
      return { allowed: true };
    case "Same":
      return { allowed: false, reason: "usagePolicy.allowedNamespaces.from is Same" };
    case "Selector": {
      const reqs = fromLabelSelector(policy.selector, "spec.usagePolicy.allowedNamespaces.selector");
      // An empty selector selects every namespace, as LabelSelector semantics say.
      return matches(reqs, namespaceLabels)
        ? { allowed: true }
        : { allowed: false, reason: `namespace ${JSON.stringify(namespace)} does not match usagePolicy.allowedNamespaces.selector` };
    }
    default:
      return { allowed: false, reason: "usagePolicy.allowedNamespaces.from is not set" };
  }
}

/** Stash's message for a refused cross-namespace reference, with restash's reason appended. */
export function usageDeniedMessage(namespace: string, repoNamespace: string, repoName: string, reason: string): string {
  return `namespace ${JSON.stringify(namespace)} is not allowed to refer Repository ${JSON.stringify(repoName)} of ${JSON.stringify(repoNamespace)} namespace. Please, check the usagePolicy of the Repository (${reason})`;
}
