// The operator variables a Task is resolved with (stash-behaviour.md 2.6, "Task input
// variables"): session, invoker, repository, hosts, target, driver, restore, retention and misc.
// Pure: built from the objects the caller has already read. Unset values are left out, so a
// Function's `${VAR:=default}` applies.
import type { Backend, BackupTarget, EmptyDirSettings, RestoreRule, RestoreTarget, RetentionPolicy } from "../../schema/types.generated.ts";
import { maxConnections, type RepositoryLike } from "../pod-template.ts";
import { DEFAULT_HOST, TMP_MOUNT_PATH } from "../names.ts";

export const DEFAULT_TARGET_MOUNT_PATH = "/stash-data";

/**
 * What the inputs read of a BackupConfiguration's or RestoreSession's spec (or of a batch as one
 * member sees it, stash/invoker-targets.ts memberView): either target's fields, all optional.
 */
export interface TaskInputSpec {
  target?: Partial<BackupTarget & RestoreTarget>;
  tempDir?: EmptyDirSettings;
  /** Deprecated RestoreSession spec.rules, read when the target has none. */
  rules?: RestoreRule[];
  retentionPolicy?: RetentionPolicy;
}

export interface TaskInputArgs {
  /** BackupConfiguration or RestoreSession (kind, metadata, spec). */
  invoker: { apiVersion?: string; kind?: string; metadata: { name?: string; namespace?: string }; spec?: TaskInputSpec };
  /** The BackupSession of a backup (a RestoreSession is its own session). */
  backupSession?: string;
  /** The Repository the invoker uses. */
  repository?: { metadata: { name?: string; namespace?: string } } & RepositoryLike;
  /** restic host of this run; default host-0. */
  hostname?: string;
  /** The runner image, e.g. ghcr.io/restash/restash:0.1.0 (split into STASH_DOCKER_*). */
  image?: string;
  pushgatewayUrl?: string;
  /** Whether the Job has an interim volume (interimVolumeTemplate). */
  interimVolume?: boolean;
}

const TARGET_API_VERSIONS: Record<string, string> = {
  Deployment: "apps/v1",
  StatefulSet: "apps/v1",
  DaemonSet: "apps/v1",
  ReplicaSet: "apps/v1",
  PersistentVolumeClaim: "v1",
  AppBinding: "appcatalog.appscode.com/v1alpha1",
};

/** `registry/name:tag` → the three STASH_DOCKER_* parts. */
export function splitImage(image: string): { registry: string; name: string; tag: string } {
  const at = image.indexOf("@");
  const noDigest = at >= 0 ? image.slice(0, at) : image;
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  const hasTag = colon > slash;
  const repo = hasTag ? noDigest.slice(0, colon) : noDigest;
  const tag = hasTag ? noDigest.slice(colon + 1) : "latest";
  const i = repo.lastIndexOf("/");
  return { registry: i >= 0 ? repo.slice(0, i) : "", name: i >= 0 ? repo.slice(i + 1) : repo, tag };
}

/** What Stash exposes about a backend: provider, bucket (or container / mountPath), prefix, endpoint, region. */
function repositoryVars(repo: TaskInputArgs["repository"]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!repo) return out;
  const b: Partial<Backend> = repo.spec?.backend ?? {};
  out.REPOSITORY_NAME = repo.metadata.name ?? "";
  out.REPOSITORY_NAMESPACE = repo.metadata.namespace ?? "";
  if (b.storageSecretName) {
    out.REPOSITORY_SECRET_NAME = b.storageSecretName;
    out.REPOSITORY_SECRET_NAMESPACE = repo.metadata.namespace ?? "";
  }
  const set = (k: string, v: unknown) => {
    if (v !== undefined && v !== null && v !== "") out[k] = String(v);
  };
  if (b.s3) {
    set("REPOSITORY_PROVIDER", "s3");
    set("REPOSITORY_BUCKET", b.s3.bucket);
    set("REPOSITORY_PREFIX", b.s3.prefix);
    set("REPOSITORY_ENDPOINT", b.s3.endpoint);
    set("REPOSITORY_REGION", b.s3.region);
    if (b.s3.insecureTLS) out.REPOSITORY_INSECURE_TLS = "true";
  } else if (b.gcs) {
    set("REPOSITORY_PROVIDER", "gcs");
    set("REPOSITORY_BUCKET", b.gcs.bucket);
    set("REPOSITORY_PREFIX", b.gcs.prefix);
  } else if (b.azure) {
    set("REPOSITORY_PROVIDER", "azure");
    set("REPOSITORY_BUCKET", b.azure.container);
    set("REPOSITORY_PREFIX", b.azure.prefix);
  } else if (b.swift) {
    set("REPOSITORY_PROVIDER", "swift");
    set("REPOSITORY_BUCKET", b.swift.container);
    set("REPOSITORY_PREFIX", b.swift.prefix);
  } else if (b.b2) {
    set("REPOSITORY_PROVIDER", "b2");
    set("REPOSITORY_BUCKET", b.b2.bucket);
    set("REPOSITORY_PREFIX", b.b2.prefix);
  } else if (b.rest) {
    set("REPOSITORY_PROVIDER", "rest");
    set("REPOSITORY_URL", b.rest.url);
  } else if (b.local) {
    set("REPOSITORY_PROVIDER", "local");
    set("REPOSITORY_BUCKET", b.local.mountPath);
    set("REPOSITORY_PREFIX", b.local.subPath);
  }
  out.MAX_CONNECTIONS = String(maxConnections(repo));
  return out;
}

function retentionVars(policy: RetentionPolicy | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!policy) return out;
  const keys: [keyof RetentionPolicy, string][] = [
    ["keepLast", "RETENTION_KEEP_LAST"],
    ["keepHourly", "RETENTION_KEEP_HOURLY"],
    ["keepDaily", "RETENTION_KEEP_DAILY"],
    ["keepWeekly", "RETENTION_KEEP_WEEKLY"],
    ["keepMonthly", "RETENTION_KEEP_MONTHLY"],
    ["keepYearly", "RETENTION_KEEP_YEARLY"],
  ];
  for (const [field, v] of keys) if (typeof policy[field] === "number") out[v] = String(policy[field]);
  if (policy.keepTags?.length) out.RETENTION_KEEP_TAGS = policy.keepTags.join(",");
  out.RETENTION_PRUNE = String(policy.prune === true);
  out.RETENTION_DRY_RUN = String(policy.dryRun === true);
  return out;
}

/** The operator variables for resolving the invoker's Task (sorted keys). */
export function taskInputs(a: TaskInputArgs): Record<string, string> {
  const inv = a.invoker;
  const kind = inv.kind ?? "BackupConfiguration";
  const ns = inv.metadata.namespace ?? "";
  const spec: TaskInputSpec = inv.spec ?? {};
  const target = spec.target ?? {};
  const ref: Partial<NonNullable<BackupTarget["ref"]>> = target.ref ?? {};
  const out: Record<string, string> = {
    NAMESPACE: ns,
    INVOKER_KIND: kind,
    INVOKER_NAME: inv.metadata.name ?? "",
    HOSTNAME: a.hostname ?? target.alias ?? DEFAULT_HOST,
    ENABLE_CACHE: String(!spec.tempDir?.disableCaching),
    INTERIM_DATA_DIR: a.interimVolume ? "/stash-interim-volume/data" : `${TMP_MOUNT_PATH}/stash-interim-volume/data`,
    PROMETHEUS_JOB_NAME: inv.metadata.name ?? "",
    ...repositoryVars(a.repository),
  };
  if (kind === "RestoreSession") out.RESTORE_SESSION = inv.metadata.name ?? "";
  else if (a.backupSession) out.BACKUP_SESSION = a.backupSession;
  if (ref.kind) {
    out.TARGET_KIND = ref.kind;
    out.TARGET_NAME = ref.name ?? "";
    out.TARGET_NAMESPACE = ref.namespace || ns;
    out.TARGET_API_VERSION = ref.apiVersion || TARGET_API_VERSIONS[ref.kind] || "";
  }
  const mountPath = target.volumeMounts?.[0]?.mountPath ?? DEFAULT_TARGET_MOUNT_PATH;
  out.TARGET_MOUNT_PATH = mountPath;
  out.TARGET_PATHS = target.paths?.length ? target.paths.join(",") : mountPath;
  if (typeof target.replicas === "number") out.TARGET_APP_REPLICAS = String(target.replicas);
  if (target.args?.length) out.DRIVER_ARGS = target.args.join(" ");
  if (target.exclude?.length) out.EXCLUDE_PATTERNS = target.exclude.join(",");
  const rule = (target.rules ?? spec.rules ?? [])[0];
  if (kind === "RestoreSession") {
    out.SOURCE_HOSTNAME = rule?.sourceHost || out.HOSTNAME;
    if (rule?.paths?.length) out.RESTORE_PATHS = rule.paths.join(",");
    if (rule?.snapshots?.length) out.RESTORE_SNAPSHOTS = rule.snapshots.join(",");
    if (rule?.include?.length) out.INCLUDE_PATTERNS = rule.include.join(",");
    if (rule?.exclude?.length) out.EXCLUDE_PATTERNS = rule.exclude.join(",");
  } else {
    Object.assign(out, retentionVars(spec.retentionPolicy));
  }
  if (a.pushgatewayUrl) out.PROMETHEUS_PUSHGATEWAY_URL = a.pushgatewayUrl;
  if (a.image) {
    const img = splitImage(a.image);
    out.STASH_DOCKER_REGISTRY = img.registry;
    out.STASH_DOCKER_IMAGE = img.name;
    out.STASH_IMAGE_TAG = img.tag;
  }
  return Object.fromEntries(Object.entries(out).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
}
