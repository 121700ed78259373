// The restore Job for job-model targets (a PVC): runs the runner's `restore` for the session.
// `rs` is a RestoreSession, or a RestoreBatch as one member sees it (invoker-targets.ts memberView).
import { COMPONENT_RESTORE, V1BETA1, offshootLabels, restoreJobName } from "../../stash/names.ts";
import { maxConnections } from "../../stash/pod-template.ts";
import type { OperatorOptions } from "../context.ts";
import { executorJob } from "../invoker/executor-job.ts";

export function desiredRestoreJob(rs: any, repo: any, index: number, opts: OperatorOptions, taskPod?: Record<string, any>): any {
  const target = rs.spec?.target ?? {};
  const ref = target.ref ?? {};
  return executorJob({
    name: restoreJobName(rs.metadata.name, index),
    namespace: rs.metadata.namespace,
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
