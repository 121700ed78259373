// Session-level metrics the operator pushes when a BackupSession or RestoreSession completes
// (stash-behaviour.md 8), through stash/metrics.ts, to the invoker's job.
import { backupSessionMetrics, jobName, pushMetrics, restoreSessionMetrics } from "../../stash/metrics.ts";
import { targetLabels } from "../../stash/metrics.ts";
import { commonOf } from "../../stash/metrics.ts";
import type { ControllerContext } from "../context.ts";

export function sessionMetricsPusher(url: string, now: () => number): NonNullable<ControllerContext["pushSessionMetrics"]> {
  return async (kind, session, invoker, _repo) => {
    if (!invoker) return;
    const c = commonOf(invoker);
    const created = Date.parse(String(session.metadata.creationTimestamp));
    const durationSeconds = Math.max(0, Math.round((now() - created) / 1000));
    if (kind === "BackupSession") {
      const targets = (session.status?.targets ?? []).map((t) => ({
        target: targetLabels(t.ref),
        succeeded: t.phase === "Succeeded",
        totalHosts: t.totalHosts ?? 0,
      }));
      await pushMetrics(
        url,
        jobName(c.invoker),
        backupSessionMetrics(c, { succeeded: session.status?.phase === "Succeeded", durationSeconds, targets, at: new Date(now()) }),
      );
    } else {
      // A RestoreBatch reports each member; a RestoreSession its one target.
      const succeeded = session.status?.phase === "Succeeded";
      const members = session.kind === "RestoreBatch" ? session.status?.members : undefined;
      const single = session.kind === "RestoreSession" ? session : undefined;
      const targets = members
        ? members.map((m) => ({ target: targetLabels(m.ref), succeeded: m.phase === "Succeeded", totalHosts: m.totalHosts ?? 0 }))
        : [{ target: targetLabels(single?.spec?.target?.ref), succeeded, totalHosts: single?.status?.totalHosts ?? 0 }];
      await pushMetrics(url, jobName(c.invoker), restoreSessionMetrics(c, { succeeded, durationSeconds, targets }));
    }
  };
}
