// What the four invoker kinds (BackupConfiguration, BackupBatch, RestoreSession, RestoreBatch)
// watch besides themselves, and the Repository reads their reconciles share: their Repository,
// its backend Secret and their targets decide their readiness, so events of those map to the
// invokers (of this kind, from its cache) that use them.
import { cachedGets } from "../../lib/kube/informer.ts";
import { keyOf } from "../../lib/owner.ts";
import { targetsOf, type Invoker } from "../../stash/invoker-targets.ts";
import type { Workload } from "../../stash/workload.ts";
import { INIT_CONTAINER, SIDECAR_CONTAINER, V1ALPHA1 } from "../../stash/names.ts";
import type { ControllerContext } from "../context.ts";
import { REPOSITORIES, SECRETS, WORKLOADS, generationChanged, type Caches, type Mapping } from "../registration.ts";

/** The key of the Repository an invoker uses. */
export const repositoryKeyOf = (inv: Invoker) => `${inv.spec?.repository?.namespace || inv.metadata.namespace}/${inv.spec?.repository?.name}`;

/** Whether an invoker uses the Repository namespace/name. */
export const uses = (inv: Invoker, namespace: string, name: string) =>
  inv.spec?.repository?.name === name && (inv.spec?.repository?.namespace || inv.metadata.namespace) === namespace;

/** Whether a workload's pod template carries the sidecar or the restore init-container. */
function hasStashParts(w: Workload): boolean {
  const spec = w.spec?.template?.spec;
  return (spec?.containers ?? []).some((c) => c.name === SIDECAR_CONTAINER) || (spec?.initContainers ?? []).some((c) => c.name === INIT_CONTAINER);
}

export const invokerWatches: Mapping<Invoker>[] = [
  {
    // What of a Repository its users depend on: existence, spec (generation) and deletion. Status
    // updates (references, statistics) must not requeue every user, or N users cost N² reconciles.
    source: REPOSITORIES,
    when: generationChanged,
    map: (repo, own) =>
      own
        .list()
        .filter((inv) => uses(inv, repo.metadata.namespace!, repo.metadata.name!))
        .map(keyOf),
  },
  {
    // Only existence matters: a backend Secret appearing (or going) changes its users' readiness.
    source: SECRETS,
    when: () => (_secret, type) => type !== "update",
    map: (secret, own) =>
      own
        .list()
        .filter((inv) => inv.metadata.namespace === secret.metadata.namespace || inv.spec?.repository?.namespace === secret.metadata.namespace)
        .map(keyOf),
  },
  ...WORKLOADS.map((source): Mapping<Invoker> => ({
    source,
    // A workload update matters only when it lost (or never had) what an invoker put there.
    // A WORKLOADS source: its objects are workloads.
    when: () => (w, type) => !(type === "update" && hasStashParts(w as Workload)),
    map: (w, own) => {
      // Listed items carry no kind: then any target of that name and namespace matches.
      const kind = w.kind ?? "";
      const targets = (inv: Invoker) =>
        targetsOf(inv).some(
          ({ target }) => target?.ref?.name === w.metadata.name && target?.ref?.namespace === w.metadata.namespace && (!kind || target?.ref?.kind === kind),
        );
      return own.list().filter(targets).map(keyOf);
    },
  })),
];

/**
 * The invokers' reconcilers read Repositories from the informer cache, as controller-runtime's
 * client does (docs/decisions/operator-memory.md); a miss or a deletion is read from the API server.
 */
export function readsCachedRepositories(ctx: ControllerContext, caches: Caches): ControllerContext {
  return { ...ctx, kube: cachedGets(ctx.kube, [{ apiVersion: V1ALPHA1, kind: "Repository", informer: caches.informer("Repository") }]) };
}
