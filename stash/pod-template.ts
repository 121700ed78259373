// Pure injection of Stash's backup sidecar (`stash`) and restore init-container (`stash-init`)
// into a workload's pod template, and their removal. Used by the workload controller and by the
// mutating admission webhook, so it does no I/O and returns new objects (inputs are not mutated).
import {
  ANN_LAST_APPLIED_BACKUP_INVOKER,
  ANN_LAST_APPLIED_BACKUP_INVOKER_HASH,
  ANN_LAST_APPLIED_BACKUP_INVOKER_KIND,
  ANN_LAST_APPLIED_RESTORE_INVOKER,
  ANN_LAST_APPLIED_RESTORE_INVOKER_HASH,
  ANN_LAST_APPLIED_RESTORE_INVOKER_KIND,
  INIT_CONTAINER,
  SIDECAR_CONTAINER,
  TMP_MOUNT_PATH,
  TMP_VOLUME,
  fnv64a,
  sortKeys,
  stableJson,
} from "./names.ts";
import { memberView, type TargetInfo } from "./invoker-targets.ts";

export interface InjectOptions {
  /** The restash runner image (its entrypoint is `restic-runner/main.ts`). */
  image: string;
  imagePullPolicy?: string;
  /** Pushgateway the sidecar pushes host and repository metrics to; empty: metrics disabled. */
  pushgatewayUrl?: string;
}

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  spec?: { containers?: any[]; initContainers?: any[]; volumes?: any[]; [k: string]: unknown };
}

interface InvokerLike {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: unknown[];
  };
  spec?: any;
}

interface RepositoryLike {
  spec?: { backend?: Record<string, any> };
}

const clone = <T>(v: T): T => (v === undefined ? v : structuredClone(v));

/** The `maxConnections` of whichever provider the Repository uses (0 when unset). */
export function maxConnections(repo: RepositoryLike | undefined): number {
  const backend = repo?.spec?.backend ?? {};
  for (const p of ["gcs", "azure", "b2", "s3", "swift", "rest", "local"]) {
    const n = backend[p]?.maxConnections;
    if (typeof n === "number") return n;
  }
  return 0;
}

/** The invoker's spec that matters for the sidecar: `paused` is ignored so pausing does not restart pods. */
export function backupInvokerHash(bc: InvokerLike): string {
  const { paused: _paused, ...spec } = bc.spec ?? {};
  return fnv64a(stableJson(spec));
}

export function restoreInvokerHash(rs: InvokerLike): string {
  return fnv64a(stableJson(rs.spec ?? {}));
}

/** What Stash stores in `last-applied-*-invoker`: metadata reduced, status dropped. */
export function lastAppliedInvoker(inv: InvokerLike): string {
  const m = inv.metadata;
  const meta: Record<string, unknown> = { name: m.name, namespace: m.namespace };
  if (m.uid) meta.uid = m.uid;
  if (m.generation !== undefined) meta.generation = m.generation;
  if (m.labels) meta.labels = m.labels;
  if (m.annotations)
    meta.annotations = Object.fromEntries(Object.entries(m.annotations).filter(([k]) => k !== "kubectl.kubernetes.io/last-applied-configuration"));
  if (m.ownerReferences) meta.ownerReferences = m.ownerReferences;
  return stableJson({ apiVersion: inv.apiVersion, kind: inv.kind, metadata: meta, spec: inv.spec ?? {} });
}

function tmpVolume(tempDir: any): any {
  const emptyDir: Record<string, unknown> = {};
  if (tempDir?.medium) emptyDir.medium = tempDir.medium;
  if (tempDir?.sizeLimit) emptyDir.sizeLimit = tempDir.sizeLimit;
  return { name: TMP_VOLUME, emptyDir };
}

function upsertByName(list: any[] | undefined, item: any, prepend = false): any[] {
  const out = (list ?? []).filter((x) => x?.name !== item.name);
  const i = (list ?? []).findIndex((x) => x?.name === item.name);
  if (i >= 0) out.splice(i, 0, item);
  else if (prepend) out.unshift(item);
  else out.push(item);
  return out;
}

const podEnv = () => [
  { name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
  { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
];

function mounts(target: any): any[] {
  const user = (target?.volumeMounts ?? []).map((m: any) => {
    const v: Record<string, unknown> = { name: m.name, mountPath: m.mountPath };
    if (m.subPath) v.subPath = m.subPath;
    if (m.readOnly !== undefined) v.readOnly = m.readOnly;
    return v;
  });
  return [{ name: TMP_VOLUME, mountPath: TMP_MOUNT_PATH }, ...user];
}

/** runtimeSettings.container fields Stash copies onto its containers. */
function withContainerSettings(c: Record<string, any>, settings: any): Record<string, any> {
  if (!settings) return c;
  const out = { ...c };
  for (const k of ["resources", "livenessProbe", "readinessProbe", "lifecycle", "securityContext"]) if (settings[k] !== undefined) out[k] = clone(settings[k]);
  if (settings.envFrom) out.envFrom = clone(settings.envFrom);
  if (settings.env) out.env = [...out.env, ...clone(settings.env)];
  return out;
}

function targetArgs(inv: InvokerLike, target: any): string[] {
  const ref = target?.ref ?? {};
  return [
    `--invoker-name=${inv.metadata.name}`,
    `--invoker-kind=${inv.kind}`,
    `--target-name=${ref.name ?? ""}`,
    `--target-namespace=${ref.namespace ?? inv.metadata.namespace ?? ""}`,
    `--target-kind=${ref.kind ?? ""}`,
  ];
}

function commonArgs(inv: InvokerLike, repo: RepositoryLike | undefined, opts: InjectOptions): string[] {
  return [
    `--enable-cache=${!inv.spec?.tempDir?.disableCaching}`,
    `--max-connections=${maxConnections(repo)}`,
    `--metrics-enabled=${opts.pushgatewayUrl ? "true" : "false"}`,
    `--pushgateway-url=${opts.pushgatewayUrl ?? ""}`,
  ];
}

/** The `stash` sidecar container for a BackupConfiguration, or for one member (`info`) of a BackupBatch. */
export function sidecarContainer(inv: InvokerLike, repo: RepositoryLike | undefined, opts: InjectOptions, info?: TargetInfo): Record<string, any> {
  const bc = memberView(inv, info);
  const c = {
    name: SIDECAR_CONTAINER,
    image: opts.image,
    imagePullPolicy: opts.imagePullPolicy ?? "IfNotPresent",
    args: ["run-backup", ...targetArgs(bc, bc.spec?.target), ...commonArgs(bc, repo, opts)],
    env: podEnv(),
    volumeMounts: mounts(bc.spec?.target),
  };
  return withContainerSettings(c, bc.spec?.runtimeSettings?.container);
}

/** The `stash-init` restore init-container for a RestoreSession, or one member (`info`) of a RestoreBatch (runs as root, as Stash does). */
export function initContainer(inv: InvokerLike, repo: RepositoryLike | undefined, opts: InjectOptions, info?: TargetInfo): Record<string, any> {
  const rs = memberView(inv, info);
  const c = withContainerSettings(
    {
      name: INIT_CONTAINER,
      image: opts.image,
      imagePullPolicy: opts.imagePullPolicy ?? "IfNotPresent",
      args: ["restore", ...targetArgs(rs, rs.spec?.target), ...commonArgs(rs, repo, opts)],
      env: podEnv(),
      volumeMounts: mounts(rs.spec?.target),
    },
    rs.spec?.runtimeSettings?.container,
  );
  c.securityContext = { runAsUser: 0, runAsGroup: 0, ...(c.securityContext ?? {}) };
  return c;
}

/** The pod template with the backup sidecar, the tmp volume and the invoker hash annotation. Idempotent. */
export function injectSidecar(
  podTemplate: PodTemplate,
  bc: InvokerLike,
  repo: RepositoryLike | undefined,
  opts: InjectOptions,
  info?: TargetInfo,
): PodTemplate {
  const t = clone(podTemplate) ?? {};
  const spec = { ...(t.spec ?? {}) };
  spec.containers = upsertByName(spec.containers, sidecarContainer(bc, repo, opts, info));
  spec.volumes = upsertByName(spec.volumes, tmpVolume(memberView(bc, info).spec?.tempDir));
  const annotations = sortKeys({ ...(t.metadata?.annotations ?? {}), [ANN_LAST_APPLIED_BACKUP_INVOKER_HASH]: backupInvokerHash(bc) });
  return { ...t, metadata: { ...(t.metadata ?? {}), annotations }, spec };
}

/** The pod template without the backup sidecar (the tmp volume stays while `stash-init` uses it). Idempotent. */
export function removeSidecar(podTemplate: PodTemplate): PodTemplate {
  const t = clone(podTemplate) ?? {};
  const spec = { ...(t.spec ?? {}) };
  spec.containers = (spec.containers ?? []).filter((c) => c?.name !== SIDECAR_CONTAINER);
  if (!(spec.initContainers ?? []).some((c) => c?.name === INIT_CONTAINER)) {
    spec.volumes = (spec.volumes ?? []).filter((v) => v?.name !== TMP_VOLUME);
    if (spec.volumes.length === 0) delete spec.volumes;
  }
  const annotations = { ...(t.metadata?.annotations ?? {}) };
  delete annotations[ANN_LAST_APPLIED_BACKUP_INVOKER_HASH];
  const metadata = { ...(t.metadata ?? {}), annotations };
  if (Object.keys(annotations).length === 0) delete (metadata as any).annotations;
  return { ...t, metadata, spec };
}

/** The pod template with `stash-init` prepended to initContainers, the tmp volume and the hash annotation. Idempotent. */
export function injectInitContainer(
  podTemplate: PodTemplate,
  rs: InvokerLike,
  repo: RepositoryLike | undefined,
  opts: InjectOptions,
  info?: TargetInfo,
): PodTemplate {
  const t = clone(podTemplate) ?? {};
  const spec = { ...(t.spec ?? {}) };
  spec.initContainers = upsertByName(spec.initContainers, initContainer(rs, repo, opts, info), true);
  spec.volumes = upsertByName(spec.volumes, tmpVolume(memberView(rs, info).spec?.tempDir));
  const annotations = sortKeys({ ...(t.metadata?.annotations ?? {}), [ANN_LAST_APPLIED_RESTORE_INVOKER_HASH]: restoreInvokerHash(rs) });
  return { ...t, metadata: { ...(t.metadata ?? {}), annotations }, spec };
}

export function removeInitContainer(podTemplate: PodTemplate): PodTemplate {
  const t = clone(podTemplate) ?? {};
  const spec = { ...(t.spec ?? {}) };
  spec.initContainers = (spec.initContainers ?? []).filter((c) => c?.name !== INIT_CONTAINER);
  if (spec.initContainers.length === 0) delete spec.initContainers;
  if (!(spec.containers ?? []).some((c) => c?.name === SIDECAR_CONTAINER)) {
    spec.volumes = (spec.volumes ?? []).filter((v) => v?.name !== TMP_VOLUME);
    if (spec.volumes.length === 0) delete spec.volumes;
  }
  const annotations = { ...(t.metadata?.annotations ?? {}) };
  delete annotations[ANN_LAST_APPLIED_RESTORE_INVOKER_HASH];
  const metadata = { ...(t.metadata ?? {}), annotations };
  if (Object.keys(annotations).length === 0) delete (metadata as any).annotations;
  return { ...t, metadata, spec };
}

/** Workload (not pod template) annotations recording which invoker was applied. */
export function backupInvokerAnnotations(bc: InvokerLike): Record<string, string> {
  return { [ANN_LAST_APPLIED_BACKUP_INVOKER]: lastAppliedInvoker(bc), [ANN_LAST_APPLIED_BACKUP_INVOKER_KIND]: bc.kind ?? "BackupConfiguration" };
}

export function restoreInvokerAnnotations(rs: InvokerLike): Record<string, string> {
  return { [ANN_LAST_APPLIED_RESTORE_INVOKER]: lastAppliedInvoker(rs), [ANN_LAST_APPLIED_RESTORE_INVOKER_KIND]: rs.kind ?? "RestoreSession" };
}
