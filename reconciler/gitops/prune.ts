// Deletes what a new revision no longer has, from the inventory only: an object is deleted only
// if it still carries this source's labels. A Repository is kept unless its policy marked it
// prunable, and a pruned Repository never wipes its data (wipeOut is turned off first).
import type { Kube, KubeObject } from "../../lib/kube/client.ts";
import type { Repository } from "../../schema/types.generated.ts";
import { errorMessage } from "../../lib/errors.ts";
import { pool } from "../../policies/apply-plan.ts";
import { apiVersionOf, parseInventoryId, type InventoryEntry } from "../../policies/inventory.ts";
import { SOURCE_NAMESPACE_LABEL, SOURCE_NAME_LABEL, trackedBy, type SourceKey } from "../../policies/tracking.ts";

export type PruneAction = "deleted" | "gone" | "kept" | "skipped" | "failed";

export interface PruneOutcome {
  id: string;
  action: PruneAction;
  message?: string;
}

/** In two waves (everything else, then Repositories), `parallelism` deletes at a time; outcomes in `stale`'s order. */
export async function pruneStale(
  kube: Kube,
  stale: InventoryEntry[],
  source: SourceKey,
  opts: { dryRun?: boolean; parallelism?: number } = {},
): Promise<PruneOutcome[]> {
  const out: PruneOutcome[] = new Array(stale.length);
  const isRepo = (e: InventoryEntry) => parseInventoryId(e.id).kind === "Repository";
  for (const repositories of [false, true]) {
    const wave = stale.map((_, i) => i).filter((i) => isRepo(stale[i]) === repositories);
    await pool(wave, opts.parallelism ?? 16, async (i) => {
      out[i] = await pruneOne(kube, stale[i], source, opts);
    });
  }
  return out;
}

async function pruneOne(kube: Kube, e: InventoryEntry, source: SourceKey, opts: { dryRun?: boolean }): Promise<PruneOutcome> {
  const { namespace, name, kind } = parseInventoryId(e.id);
  const apiVersion = apiVersionOf(e);
  const ref = `${kind} ${namespace ? `${namespace}/` : ""}${name}`;
  try {
    const live = await kube.getOrNull<KubeObject>(apiVersion, kind, name, namespace || undefined);
    if (!live) return { id: e.id, action: "gone" };
    const owner = trackedBy(live);
    if (!owner || owner.namespace !== source.namespace || owner.name !== source.name)
      return { id: e.id, action: "skipped", message: `${ref} is no longer labelled as this source's; left alone` };
    if (kind === "Repository" && e.prunable !== true) {
      // Released, not deleted: drop the tracking labels so another source may adopt it.
      if (!opts.dryRun) await kube.mergePatch(live, { metadata: { labels: { [SOURCE_NAME_LABEL]: null, [SOURCE_NAMESPACE_LABEL]: null } } });
      return { id: e.id, action: "kept", message: `${ref} left Git but Repositories are kept unless the policy sets repository.prunable` };
    }
    if (opts.dryRun) return { id: e.id, action: "deleted" };
    if (kind === "Repository" && (live as Repository).spec?.wipeOut) await kube.mergePatch(live, { spec: { wipeOut: false } });
    await kube.delete(live);
    return { id: e.id, action: "deleted" };
  } catch (err) {
    return { id: e.id, action: "failed", message: `${ref}: ${errorMessage(err)}` };
  }
}
