// The backup Job for job-model targets (a PVC, or a workload with a task): one per BackupSession
// target, owned by the session. Its container runs the runner for exactly that session.
import { COMPONENT_BACKUP, V1BETA1, backupJobName, offshootLabels } from "../../stash/names.ts";
import { maxConnections, type RepositoryLike } from "../../stash/pod-template.ts";
import type { BackupSession, BackupTarget, TargetRef } from "../../schema/types.generated.ts";
import type { BackupView } from "../../stash/invoker-targets.ts";
import type { TaskPodSpec } from "../../stash/tasks/resolve-task.ts";
import type { OperatorOptions } from "../context.ts";
import { executorJob, type BuiltJob } from "../invoker/executor-job.ts";

/**
 * With `taskPod` (the invoker names a Task: stash/tasks resolves it) the Job runs that pod;
 * without, it runs the runner's `run-backup --backupsession` for the session.
 */
export function desiredBackupJob(
  session: BackupSession,
  invoker: BackupView,
  repo: RepositoryLike | undefined,
  index: number,
  opts: OperatorOptions,
  taskPod?: TaskPodSpec,
): BuiltJob {
  const target: BackupTarget = invoker.spec?.target ?? {};
  const ref: Partial<TargetRef> = target.ref ?? {};
  return executorJob({
    name: backupJobName(session.metadata.name!, index),
    namespace: session.metadata.namespace!,
    labels: offshootLabels(invoker.metadata.labels, COMPONENT_BACKUP),
    owner: { apiVersion: session.apiVersion ?? V1BETA1, kind: "BackupSession", metadata: session.metadata },
    target,
    runtime: invoker.spec?.runtimeSettings,
    taskPod,
    withPodAnnotationsAndResources: true,
    opts,
    args: [
      "run-backup",
      `--invoker-name=${invoker.metadata.name}`,
      `--invoker-kind=${invoker.kind ?? "BackupConfiguration"}`,
      `--target-name=${ref.name ?? ""}`,
      `--target-namespace=${ref.namespace || invoker.metadata.namespace}`,
      `--target-kind=${ref.kind ?? ""}`,
      `--backupsession=${session.metadata.name}`,
      `--enable-cache=${!invoker.spec?.tempDir?.disableCaching}`,
      `--max-connections=${maxConnections(repo)}`,
      `--metrics-enabled=${opts.pushgatewayUrl ? "true" : "false"}`,
      `--pushgateway-url=${opts.pushgatewayUrl ?? ""}`,
    ],
  });
}
