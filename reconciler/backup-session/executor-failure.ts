// Why a backup Job's pod will never write its host's results: the Job failed (a container
// OOM-killed or exited non-zero before the runner reported), or a container cannot start (its image
// cannot be pulled, its config is refused). Stash leaves such a session Running until its timeOut, or
// forever; restash ends it with BackupDisrupted naming the pod's reason. Pure: the reconcile reads the
// Job and its pods and sets the condition.
import type { V1ContainerStatus, V1JobStatus, V1PodStatus } from "@kubernetes/client-node";

/** Waiting reasons that never fix themselves: the session fails at once. */
const PERMANENT_WAITING = new Set(["ErrImageNeverPull", "InvalidImageName"]);
/** Waiting reasons the kubelet keeps retrying: the session fails once they last `graceMs`. */
const RETRIED_WAITING = new Set(["ErrImagePull", "ImagePullBackOff", "CreateContainerConfigError", "CreateContainerError", "RunContainerError"]);

/** How long a container may fail to start (an image pull retried with back-off) before the session fails. */
export const START_FAILURE_GRACE_MS = 60_000;
/** How often a session re-reads a Job whose pod has not started: pod status changes do not requeue it. */
export const PENDING_POD_RECHECK_MS = 10_000;

export type ExecutorVerdict = { failed: string } | { recheckMs: number } | undefined;

/** What is read of a Job: its name and status. */
export interface JobRead {
  metadata?: { name?: string; namespace?: string };
  status?: Pick<V1JobStatus, "conditions" | "succeeded">;
}
/** What is read of a pod; timestamps as the API server sends them (RFC 3339; client-node declares a Date). */
export interface PodRead {
  metadata?: { name?: string; creationTimestamp?: Date | string; deletionTimestamp?: Date | string };
  status?: Pick<V1PodStatus, "phase" | "reason" | "message" | "initContainerStatuses" | "containerStatuses">;
}

const statusesOf = (pod: PodRead): V1ContainerStatus[] => [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];

function terminatedReason(pod: PodRead): string | undefined {
  for (const c of statusesOf(pod)) {
    const t = c.state?.terminated ?? c.lastState?.terminated;
    if (t && (t.exitCode !== 0 || (t.reason && t.reason !== "Completed")))
      return `container ${c.name} ${t.reason === "OOMKilled" ? "was OOMKilled" : `terminated: ${t.reason ?? "Error"}`} (exit code ${t.exitCode})${t.message ? `: ${t.message.trim()}` : ""}`;
  }
  if (pod.status?.phase === "Failed" && pod.status.reason) return `${pod.status.reason}${pod.status.message ? `: ${pod.status.message}` : ""}`;
  return undefined;
}

/**
 * The verdict on a backup Job (`job`, null while absent) and its pods at `now`: `failed` with a
 * message, `recheckMs` while a pod has not started (read again then), or undefined (running, or
 * done: the runner reports its own result).
 */
export function executorVerdict(job: JobRead | null, pods: PodRead[], now: Date, graceMs = START_FAILURE_GRACE_MS): ExecutorVerdict {
  if (!job) return undefined;
  const where = `backup Job ${job.metadata?.namespace}/${job.metadata?.name}`;
  const failed = (job.status?.conditions ?? []).find((c) => c.type === "Failed" && c.status === "True");
  if (failed) {
    for (const pod of pods) {
      const why = terminatedReason(pod);
      if (why) return { failed: `${where} failed: pod ${pod.metadata?.name}: ${why}` };
    }
    return { failed: `${where} failed: ${failed.reason ?? "Failed"}${failed.message ? `: ${failed.message}` : ""}` };
  }
  if ((job.status?.succeeded ?? 0) > 0) return undefined;
  let recheck: number | undefined;
  for (const pod of pods) {
    if (pod.metadata?.deletionTimestamp || pod.status?.phase !== "Pending") continue;
    for (const c of statusesOf(pod)) {
      const w = c.state?.waiting;
      if (!w?.reason) continue;
      const why = `${where}: pod ${pod.metadata?.name}: container ${c.name} cannot start: ${w.reason}${w.message ? `: ${w.message}` : ""}`;
      if (PERMANENT_WAITING.has(w.reason)) return { failed: why };
      if (RETRIED_WAITING.has(w.reason)) {
        const left = Date.parse(String(pod.metadata?.creationTimestamp)) + graceMs - now.getTime();
        if (left <= 0) return { failed: `${why} (for more than ${Math.round(graceMs / 1000)} s)` };
        recheck = Math.min(recheck ?? left, left);
      }
    }
    recheck = Math.min(recheck ?? PENDING_POD_RECHECK_MS, PENDING_POD_RECHECK_MS);
  }
  return recheck === undefined ? undefined : { recheckMs: Math.max(recheck, 1000) };
}
