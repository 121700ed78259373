// BackupBatch and RestoreBatch admission. Stash Enterprise registers validators for both
// (backupbatchvalidators, restorebatchvalidators; CREATE and UPDATE) but its code is not public, so
// restash applies the rules Stash enforces on the single-target kinds (stash-behaviour.md section 3)
// to each member, and to the batch where they concern the batch as a whole:
// - BackupBatch, like BackupConfiguration: a Ready batch's member targets are frozen; each member's
//   target may be in another namespace only where Stash allows it; each member's Task must exist;
//   the Repository must admit the namespace (usagePolicy).
// - RestoreBatch, like RestoreSession: the spec is immutable; each member's restore rules hold
//   Stash's invariants; then the same target, Task and Repository checks.
// Member fields are named by position (spec.members[1].target.ref.namespace).
import { isDeepStrictEqual } from "node:util";
import type { BackupBatch, BackupBatchMember, RestoreBatch, RestoreBatchMember } from "../schema/types.generated.ts";
import { validating, type AdmissionContext, type KindAdmission, type Violation } from "./types.ts";
import { repositoryReferenceViolations, targetNamespaceViolations, taskNameViolations } from "./references.ts";
import { ruleViolations } from "./restore-session.ts";

function membersOf(obj: BackupBatch | undefined): BackupBatchMember[];
function membersOf(obj: RestoreBatch | undefined): RestoreBatchMember[];
function membersOf(obj: BackupBatch | RestoreBatch | undefined): (BackupBatchMember | RestoreBatchMember)[];
function membersOf(obj: BackupBatch | RestoreBatch | undefined): (BackupBatchMember | RestoreBatchMember)[] {
  const members = obj?.spec?.members;
  return Array.isArray(members) ? members : [];
}

/** The checks every member of either batch kind must pass: its target's namespace and its Task. */
async function memberViolations(obj: BackupBatch | RestoreBatch, ctx: AdmissionContext): Promise<Violation[]> {
  const out: Violation[] = [];
  for (const [i, m] of membersOf(obj).entries()) {
    out.push(...targetNamespaceViolations(m?.target?.ref, m?.task?.name, obj.metadata.namespace, `spec.members[${i}].target.ref.namespace`));
    out.push(...(await taskNameViolations(m?.task?.name, `spec.members[${i}].task.name`, ctx)));
  }
  return out;
}

export const backupBatchAdmission: KindAdmission = {
  validate: validating<BackupBatch>(async (obj, old, ctx) => {
    if (obj.metadata.deletionTimestamp) return [];
    const out: Violation[] = [];
    // The sidecars, Jobs and CronJob of a Ready batch were built for these targets.
    const targets = (o: BackupBatch | undefined) => membersOf(o).map((m) => m?.target);
    if (ctx.operation === "UPDATE" && old?.status?.phase === "Ready" && !isDeepStrictEqual(targets(old), targets(obj))) {
      out.push({ field: "spec.members", message: "updating target is forbidden when BackupBatch is in READY state" });
    }
    out.push(...(await memberViolations(obj, ctx)));
    out.push(...(await repositoryReferenceViolations(obj, ctx)));
    return out;
  }),
};

export const restoreBatchAdmission: KindAdmission = {
  validate: validating<RestoreBatch>(async (obj, old, ctx) => {
    if (obj.metadata.deletionTimestamp) return [];
    if (ctx.operation === "UPDATE" && old) {
      return isDeepStrictEqual(old.spec, obj.spec) ? [] : [{ field: "spec", message: "RestoreBatch spec is immutable" }];
    }
    const out: Violation[] = [];
    for (const [i, m] of membersOf(obj).entries()) out.push(...ruleViolations(m?.target?.rules, `spec.members[${i}].target.rules`));
    out.push(...(await memberViolations(obj, ctx)));
    out.push(...(await repositoryReferenceViolations(obj, ctx)));
    return out;
  }),
};
