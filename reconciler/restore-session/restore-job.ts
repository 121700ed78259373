// The restore Job for job-model targets (a PVC): runs the runner's `restore` for the session.
// `rs` is a RestoreSession, or a RestoreBatch as one member sees it (invoker-targets.ts memberView).
import { COMPONENT_RESTORE, V1BETA1, offshootLabels, restoreJobName } from "../../stash/names.ts";
import { maxConnections, type RepositoryLike } from "../../stash/pod-template.ts";
import type { RestoreTarget, TargetRef } from "../../schema/types.generated.ts";
import type { RestoreView } from "../../stash/invoker-targets.ts";
import type { TaskPodSpec } from "../../stash/tasks/resolve-task.ts";
import type { OperatorOptions } from "../context.ts";
import { executorJob, type BuiltJob } from "../invoker/executor-job.ts";

export function desiredRestoreJob(rs: RestoreView, repo: RepositoryLike | undefined, index: number, opts: OperatorOptions, taskPod?: TaskPodSpec): BuiltJob {
  const target: RestoreTarget = rs.spec?.target ?? {};
  const ref: Partial<TargetRef> = target.ref ?? {};
  return executorJob({
    name: restoreJobName(rs.metadata.name!, index),
    namespace: rs.metadata.namespace!,
    labels: offshootLabels(rs.metadata.labels, COMPONENT_RESTORE),
    owner: { apiVersion: rs.apiVersion ?? V1BETA1, kind: rs.kind ?? "RestoreSession", metadata: rs.metadata },
    target,
    runtime: rs.spec?.runtimeSettings,
    taskPod,
    opts,
    args: [
      "restore",
      `--invoker-name=${rs.metadata.name}`,
      `--invoker-kind=${rs.kind ?? "RestoreSession"}`,
      `--target-name=${ref.name ?? ""}`,
      `--target-namespace=${ref.namespace || rs.metadata.namespace}`,
      `--target-kind=${ref.kind ?? ""}`,
      `--restore-model=job`,
      `--enable-cache=${!rs.spec?.tempDir?.disableCaching}`,
      `--max-connections=${maxConnections(repo)}`,
      `--metrics-enabled=${opts.pushgatewayUrl ? "true" : "false"}`,
      `--pushgateway-url=${opts.pushgatewayUrl ?? ""}`,
    ],
  });
}
