// Stash's names, labels, annotations and constants, exactly as Stash users know them
// (stash-behaviour.md 2.3–2.10). Pure functions only.

export const GROUP = "stash.appscode.com";
export const V1BETA1 = "stash.appscode.com/v1beta1";
export const V1ALPHA1 = "stash.appscode.com/v1alpha1";

export const FINALIZER = "stash.appscode.com";
export const REPOSITORY_FINALIZER = "stash";

export const LABEL_INVOKER_TYPE = "stash.appscode.com/invoker-type";
export const LABEL_INVOKER_NAME = "stash.appscode.com/invoker-name";
export const LABEL_TARGET_KIND = "stash.appscode.com/target-kind";
export const LABEL_TARGET_NAME = "stash.appscode.com/target-name";
export const LABEL_TARGET_NAMESPACE = "stash.appscode.com/target-namespace";
export const LABEL_COMPONENT = "app.kubernetes.io/component";
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
export const LABEL_DELETE_JOB_ON_COMPLETION = "stash.appscode.com/delete-job-on-completion";
export const COMPONENT_BACKUP = "stash-backup";
export const COMPONENT_RESTORE = "stash-restore";
export const MANAGED_BY = "stash.appscode.com";

export const ANN_LAST_APPLIED_BACKUP_INVOKER = "stash.appscode.com/last-applied-backup-invoker";
export const ANN_LAST_APPLIED_BACKUP_INVOKER_KIND = "stash.appscode.com/last-applied-backup-invoker-kind";
export const ANN_LAST_APPLIED_BACKUP_INVOKER_HASH = "stash.appscode.com/last-applied-backup-invoker-hash";
export const ANN_LAST_APPLIED_RESTORE_INVOKER = "stash.appscode.com/last-applied-restore-invoker";
export const ANN_LAST_APPLIED_RESTORE_INVOKER_KIND = "stash.appscode.com/last-applied-restore-invoker-kind";
export const ANN_LAST_APPLIED_RESTORE_INVOKER_HASH = "stash.appscode.com/last-applied-restore-invoker-hash";

export const SIDECAR_CONTAINER = "stash";
export const INIT_CONTAINER = "stash-init";
export const TRIGGER_CONTAINER = "stash-trigger";
export const TMP_VOLUME = "stash-tmp-dir";
export const TMP_MOUNT_PATH = "/stash-tmp";
export const DEFAULT_HOST = "host-0";
export const DEFAULT_BACKUP_HISTORY_LIMIT = 1;
/** Stash requeues after 5 s when a dependency is missing (requeueTimeInterval). */
export const REQUEUE_MS = 5_000;

/** Kinds backed up by a sidecar (and restored by an init-container) when no task is named. */
export const WORKLOAD_KINDS = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"] as const;

export type Model = "sidecar" | "job";

export function backupModel(targetKind: string | undefined, taskName: string | undefined): Model {
  return !taskName && (WORKLOAD_KINDS as readonly string[]).includes(targetKind ?? "") ? "sidecar" : "job";
}

const dns = (s: string) => s.replace(/\./g, "-");

/** `stash-trigger-<invoker>` keeping the rightmost 52 characters (CronJob names are limited to 52). */
export function cronJobName(invokerName: string): string {
  const full = `stash-trigger-${dns(invokerName)}`;
  return full.length <= 52 ? full : full.slice(-52).replace(/^[^a-z0-9]+/, "");
}

/** `<name>-<suffix>` in at most 63 characters: the name part is cut, the suffix kept. */
export function nameWithSuffix(name: string, suffix: string, max = 63): string {
  const room = max - suffix.length - 1;
  return `${name.slice(0, room).replace(/[-.]+$/, "")}-${suffix}`;
}

/** `<prefix>-<name>-<suffix>`; if longer than 63, the first half and the last half are kept. */
export function nameWithPrefixAndSuffix(prefix: string, name: string, suffix: string, max = 63): string {
  const full = `${prefix}-${dns(name)}-${suffix}`;
  if (full.length <= max) return full;
  const half = Math.floor(max / 2);
  return (full.slice(0, half) + full.slice(full.length - (max - half))).replace(/--+/g, "-");
}

/** BackupSession name: `<invoker>-<unix seconds>`. */
export function backupSessionName(invokerName: string, unixSeconds: number): string {
  return nameWithSuffix(invokerName, String(unixSeconds));
}

export function backupJobName(sessionName: string, targetIndex: number): string {
  return nameWithPrefixAndSuffix("stash-backup", sessionName, String(targetIndex));
}

export function restoreJobName(invokerName: string, targetIndex: number): string {
  return nameWithPrefixAndSuffix("stash-restore", invokerName, String(targetIndex));
}

/** The metric job (grouping key): `<lower-case kind>-<namespace>-<name>`. */
export function metricsJobName(invokerKind: string, namespace: string, name: string): string {
  return `${invokerKind.toLowerCase()}-${namespace}-${name}`;
}

/** Labels by which a GitOps tool (or restash's own policy sync) claims an object as its own. An
 *  object restash creates must never inherit them: Argo CD would report it out of sync and prune
 *  it — what happened to Velero's Backups when they copied Argo CD's instance label. */
const GITOPS_LABEL_KEYS = new Set(["app.kubernetes.io/instance"]);
const GITOPS_LABEL_PREFIXES = ["argocd.argoproj.io/", "kustomize.toolkit.fluxcd.io/", "helm.toolkit.fluxcd.io/", "restash.dev/"];
export const isGitOpsTrackingLabel = (key: string) => GITOPS_LABEL_KEYS.has(key) || GITOPS_LABEL_PREFIXES.some((p) => key.startsWith(p));

/** Stash's offshoot labels: the invoker's labels (less GitOps tracking labels) plus component and managed-by. */
export function offshootLabels(userLabels: Record<string, string> | undefined, component: string): Record<string, string> {
  const inherited = Object.fromEntries(Object.entries(userLabels ?? {}).filter(([k]) => !isGitOpsTrackingLabel(k)));
  return sortKeys({ ...inherited, [LABEL_COMPONENT]: component, [LABEL_MANAGED_BY]: MANAGED_BY });
}

export function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** FNV-1a 64-bit of a string, as decimal (what Stash stores in the *-hash annotations). */
export function fnv64a(s: string): string {
  let h = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  for (const b of Buffer.from(s, "utf8")) {
    h ^= BigInt(b);
    h = (h * prime) & 0xffffffffffffffffn;
  }
  return h.toString();
}

/** JSON with object keys sorted at every level: stable input for hashes and annotations. */
export function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, val) => (val && typeof val === "object" && !Array.isArray(val) ? sortKeys(val) : val));
}

/** The restic host name for a pod (S:pkg/util/util.go GetHostName). */
export function hostName(targetKind: string, alias: string | undefined, podName: string | undefined, nodeName: string | undefined): string {
  if (targetKind === "StatefulSet") {
    const ordinal = podName?.match(/-(\d+)$/)?.[1] ?? "0";
    return alias ? `${alias}-${ordinal}` : `host-${ordinal}`;
  }
  if (targetKind === "DaemonSet") return alias ? `${alias}-${nodeName ?? "node"}` : (nodeName ?? DEFAULT_HOST);
  return alias || DEFAULT_HOST;
}
