// The restore invoker as one restore executor (init-container, restore Job) sees it, for both
// kinds: a RestoreSession is its own single target, its status the target's; a RestoreBatch is
// seen through the member its flags name (invoker-targets.ts memberView), and that member's entry
// in status.members (conditions, totalHosts, stats) stands for the status, with the batch's phase
// and deadline. Reads and writes go through here, so the restore code is the same for both.
import type { Kube } from "../../lib/kube/client.ts";
import type { RestoreBatch, RestoreBatchStatus, RestoreMemberStatus, RestoreSession, RestoreSessionStatus } from "../../schema/types.generated.ts";
import { RESTORE_BATCH, memberView, sameRef, targetFor, type RestoreInvoker } from "../../stash/invoker-targets.ts";
import { V1BETA1 } from "../../stash/names.ts";
import { updateStatus } from "../../lib/status.ts";
import type { RestoreExecutorView, TargetFlags } from "./run-backup.ts";

export type { RestoreExecutorView };

const kindOf = (f: TargetFlags) => f.invokerKind || "RestoreSession";
const refOf = (f: TargetFlags) => ({ kind: f.targetKind, name: f.targetName, namespace: f.targetNamespace });

/** A batch member's status as a RestoreSession-shaped status (pure). */
export function memberStatus(batchStatus: RestoreBatchStatus | undefined, ref: { kind: string; name: string; namespace: string }): RestoreSessionStatus {
  const m: Partial<RestoreMemberStatus> = (batchStatus?.members ?? []).find((x) => sameRef(x.ref, ref, ref.namespace)) ?? {};
  const out: RestoreSessionStatus = { conditions: m.conditions ?? [], stats: m.stats ?? [] };
  if (m.totalHosts !== undefined) out.totalHosts = m.totalHosts;
  if (batchStatus?.phase) out.phase = batchStatus.phase;
  if (batchStatus?.sessionDeadline) out.sessionDeadline = batchStatus.sessionDeadline;
  return out;
}

/** Writes a RestoreSession-shaped status back into the batch member's entry (pure; the batch's own fields are the operator's). */
export function withMemberStatus(
  batchStatus: RestoreBatchStatus | undefined,
  ref: { kind: string; name: string; namespace: string },
  next: RestoreSessionStatus,
): RestoreBatchStatus {
  const status = structuredClone(batchStatus ?? {});
  const members = status.members ?? [];
  let m = members.find((x) => sameRef(x.ref, ref, ref.namespace));
  if (!m) members.push((m = { ref }));
  if (next.conditions?.length) m.conditions = next.conditions;
  if (next.stats?.length) m.stats = next.stats;
  status.members = members;
  return status;
}

/** The restore invoker for the flags: the RestoreSession, or the RestoreBatch as the flags' member sees it. */
export async function readRestoreInvoker(kube: Kube, f: TargetFlags): Promise<RestoreExecutorView> {
  const kind = kindOf(f);
  const ns = f.targetNamespace;
  const inv = await kube.getOrNull<RestoreInvoker>(V1BETA1, kind, f.invokerName, ns);
  if (!inv) throw new Error(`${kind} ${ns}/${f.invokerName} not found (flag --invoker-name)`);
  if (kind !== RESTORE_BATCH) return inv as RestoreSession;
  const info = targetFor(inv, refOf(f));
  if (!info)
    throw new Error(`${kind} ${ns}/${f.invokerName} has no member with target ${f.targetKind} ${ns}/${f.targetName} (flags --target-kind, --target-name)`);
  return { ...memberView(inv, info), status: memberStatus((inv as RestoreBatch).status, refOf(f)) };
}

/** Read-modify-write of the restore status the flags' target owns (a RestoreBatch: its member's entry). */
export function updateRestoreStatus(
  kube: Kube,
  f: TargetFlags,
  mutate: (status: RestoreSessionStatus) => RestoreSessionStatus | undefined,
): Promise<RestoreSession | RestoreBatch | null> {
  const kind = kindOf(f);
  const ref = { apiVersion: V1BETA1, kind, name: f.invokerName, namespace: f.targetNamespace };
  if (kind !== RESTORE_BATCH) return updateStatus<RestoreSession>(kube, ref, (status) => mutate(status));
  return updateStatus<RestoreBatch>(kube, ref, (status) => {
    const next = mutate(memberStatus(status, refOf(f)));
    return next ? withMemberStatus(status, refOf(f), next) : undefined;
  });
}
