// What every controller receives: clients, clock, logger and the operator's settings. Built once
// by startOperator and passed down (no module state).
import type { Kube } from "../lib/kube/client.ts";
import type { Logger } from "../lib/logger.ts";
import type { Clock } from "../lib/workqueue.ts";
import type { BackupSession, Repository } from "../schema/types.generated.ts";
import type { BackupInvoker, RestoreInvoker } from "../stash/invoker-targets.ts";

/** A finished session and its invoker, for the session metrics: a BackupSession, or a restore invoker that is its own session. */
export type SessionMetricsArgs =
  | [kind: "BackupSession", session: BackupSession, invoker: BackupInvoker | null, repository: Repository | null]
  | [kind: "RestoreSession", session: RestoreInvoker, invoker: RestoreInvoker, repository: Repository | null];

export interface OperatorOptions {
  /** Image of the restash runner used for the CronJob, sidecar, init-container and Jobs. */
  image: string;
  imagePullPolicy?: string;
  /** Pushgateway URL given to executors and used for session metrics; empty disables metrics. */
  pushgatewayUrl?: string;
  /** The operator's own pod (downward API), where a batch's global exec hooks run; absent outside a pod. */
  ownPod?: { namespace: string; name?: string; ip?: string };
}

export interface ControllerContext {
  kube: Kube;
  clock: Clock;
  log: Logger;
  opts: OperatorOptions;
  /** Pushes session-level metrics when a BackupSession/RestoreSession completes. */
  pushSessionMetrics?: (...args: SessionMetricsArgs) => Promise<void>;
  /** Deletes a Repository's backend data (spec.wipeOut); absent: wipeOut is reported as unsupported. */
  wipeOut?: (repository: Repository) => Promise<void>;
  /** Invokers (BackupConfigurations, RestoreSessions) that use a Repository, from the operator's caches. */
  invokersOf?: (namespace: string, name: string) => { kind: string; namespace: string; name: string }[];
  /** BackupConfigurations and BackupBatches (not being deleted) with a target of this kind, namespace and name, from the operator's caches. */
  backupInvokersTargeting?: (ref: { kind: string; namespace: string; name: string }) => BackupInvoker[];
  /** Namespace/ServiceAccount pairs whose restash-runner RoleBinding this process has applied. */
  runnerBindings?: Set<string>;
}

export const now = (ctx: { clock: Clock }) => new Date(ctx.clock.now());
