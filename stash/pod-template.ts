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
import type {
  V1Container,
  V1EmptyDirVolumeSource,
  V1EnvVar,
  V1ObjectMeta,
  V1PodSpec,
  V1PodTemplateSpec,
  V1Volume,
  V1VolumeMount,
} from "@kubernetes/client-node";
import type { Backend, BackupTarget, ContainerRuntimeSettings, EmptyDirSettings, RestoreTarget } from "../schema/types.generated.ts";
import {
  memberView,
  type BackupInvoker,
  type BackupView,
  type Invoker,
  type InvokerView,
  type RestoreInvoker,
  type RestoreView,
  type TargetInfo,
} from "./invoker-targets.ts";

export interface InjectOptions {
  /** The restash runner image (its entrypoint is `restic-runner/main.ts`). */
  image: string;
  imagePullPolicy?: string;
  /** Pushgateway the sidecar pushes host and repository metrics to; empty: metrics disabled. */
  pushgatewayUrl?: string;
}

/** A workload's pod template (spec.template of a Deployment, StatefulSet, DaemonSet or ReplicaSet). */
export type PodTemplate = V1PodTemplateSpec;

/** What the injection reads of a Repository: its backend (for maxConnections). */
export interface RepositoryLike {
  spec?: { backend?: Partial<Backend> };
}

const clone = <T>(v: T): T => (v === undefined ? v : structuredClone(v));

/** The `maxConnections` of whichever provider the Repository uses (0 when unset). */
export function maxConnections(repo: RepositoryLike | undefined): number {
  const backend = repo?.spec?.backend ?? {};
  for (const p of ["gcs", "azure", "b2", "s3", "swift", "rest", "local"] as const) {
    const provider: Record<string, unknown> | undefined = backend[p];
    const n = provider?.maxConnections;
    if (typeof n === "number") return n;
  }
  return 0;
}

/** The invoker's spec that matters for the sidecar: `paused` is ignored so pausing does not restart pods. */
export function backupInvokerHash(bc: BackupInvoker | BackupView): string {
  const { paused: _paused, ...spec } = bc.spec ?? {};
  return fnv64a(stableJson(spec));
}

export function restoreInvokerHash(rs: RestoreInvoker | RestoreView): string {
  return fnv64a(stableJson(rs.spec ?? {}));
}

/** What Stash stores in `last-applied-*-invoker`: metadata reduced, status dropped. */
export function lastAppliedInvoker(inv: Invoker | InvokerView): string {
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

function tmpVolume(tempDir: EmptyDirSettings | undefined): V1Volume {
  // sizeLimit is a Quantity: the number a user wrote is kept as it is (client-node types it as a string).
  const emptyDir: { medium?: string; sizeLimit?: string | number } = {};
  if (tempDir?.medium) emptyDir.medium = tempDir.medium;
  if (tempDir?.sizeLimit) emptyDir.sizeLimit = tempDir.sizeLimit;
  return { name: TMP_VOLUME, emptyDir: emptyDir as V1EmptyDirVolumeSource };
}

function upsertByName<T extends { name?: string }>(list: T[] | undefined, item: T, prepend = false): T[] {
  const out = (list ?? []).filter((x) => x?.name !== item.name);
  const i = (list ?? []).findIndex((x) => x?.name === item.name);
  if (i >= 0) out.splice(i, 0, item);
  else if (prepend) out.unshift(item);
  else out.push(item);
  return out;
}

const podEnv = (): V1EnvVar[] => [
  { name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
  { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
];

function mounts(target: BackupTarget | RestoreTarget | undefined): V1VolumeMount[] {
  const user = (target?.volumeMounts ?? []).map((m) => {
    const v: V1VolumeMount = { name: m.name, mountPath: m.mountPath };
    if (m.subPath) v.subPath = m.subPath;
    if (m.readOnly !== undefined) v.readOnly = m.readOnly;
    return v;
  });
  return [{ name: TMP_VOLUME, mountPath: TMP_MOUNT_PATH }, ...user];
}

/** runtimeSettings.container fields Stash copies onto its containers. */
function withContainerSettings<C extends V1Container>(c: C, settings: ContainerRuntimeSettings | undefined): C {
  if (!settings) return c;
  const out = { ...c };
  if (settings.resources !== undefined) out.resources = clone(settings.resources);
  if (settings.livenessProbe !== undefined) out.livenessProbe = clone(settings.livenessProbe);
  if (settings.readinessProbe !== undefined) out.readinessProbe = clone(settings.readinessProbe);
  if (settings.lifecycle !== undefined) out.lifecycle = clone(settings.lifecycle);
  if (settings.securityContext !== undefined) out.securityContext = clone(settings.securityContext);
  if (settings.envFrom) out.envFrom = clone(settings.envFrom);
  if (settings.env) out.env = [...(out.env ?? []), ...clone(settings.env)];
  return out;
}

function targetArgs(inv: InvokerView, target: BackupTarget | RestoreTarget | undefined): string[] {
  const ref: Partial<NonNullable<BackupTarget["ref"]>> = target?.ref ?? {};
  return [
    `--invoker-name=${inv.metadata.name}`,
    `--invoker-kind=${inv.kind}`,
    `--target-name=${ref.name ?? ""}`,
    `--target-namespace=${ref.namespace ?? inv.metadata.namespace ?? ""}`,
    `--target-kind=${ref.kind ?? ""}`,
  ];
}

function commonArgs(inv: InvokerView, repo: RepositoryLike | undefined, opts: InjectOptions): string[] {
  return [
    `--enable-cache=${!inv.spec?.tempDir?.disableCaching}`,
    `--max-connections=${maxConnections(repo)}`,
    `--metrics-enabled=${opts.pushgatewayUrl ? "true" : "false"}`,
    `--pushgateway-url=${opts.pushgatewayUrl ?? ""}`,
  ];
}

/** The `stash` sidecar container for a BackupConfiguration, or for one member (`info`) of a BackupBatch. */
/** One of the containers restash adds: its arguments are always set. */
export type ExecutorContainer = V1Container & { args: string[] };

export function sidecarContainer(inv: BackupInvoker | BackupView, repo: RepositoryLike | undefined, opts: InjectOptions, info?: TargetInfo): ExecutorContainer {
  const bc = memberView(inv, info);
  const c: ExecutorContainer = {
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
export function initContainer(inv: RestoreInvoker | RestoreView, repo: RepositoryLike | undefined, opts: InjectOptions, info?: TargetInfo): ExecutorContainer {
  const rs = memberView(inv, info);
  const c = withContainerSettings<ExecutorContainer>(
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
  bc: BackupInvoker | BackupView,
  repo: RepositoryLike | undefined,
  opts: InjectOptions,
  info?: TargetInfo,
): PodTemplate {
  const t = clone(podTemplate) ?? {};
  const spec: V1PodSpec = { ...(t.spec ?? { containers: [] }) };
  spec.containers = upsertByName(spec.containers, sidecarContainer(bc, repo, opts, info));
  spec.volumes = upsertByName(spec.volumes, tmpVolume(memberView(bc, info).spec?.tempDir));
  const annotations = sortKeys({ ...(t.metadata?.annotations ?? {}), [ANN_LAST_APPLIED_BACKUP_INVOKER_HASH]: backupInvokerHash(bc) });
  return { ...t, metadata: { ...(t.metadata ?? {}), annotations }, spec };
}

/** The pod template without the backup sidecar (the tmp volume stays while `stash-init` uses it). Idempotent. */
export function removeSidecar(podTemplate: PodTemplate): PodTemplate {
  const t = clone(podTemplate) ?? {};
  const spec: V1PodSpec = { ...(t.spec ?? { containers: [] }) };
  spec.containers = (spec.containers ?? []).filter((c) => c?.name !== SIDECAR_CONTAINER);
  if (!(spec.initContainers ?? []).some((c) => c?.name === INIT_CONTAINER)) {
    spec.volumes = (spec.volumes ?? []).filter((v) => v?.name !== TMP_VOLUME);
    if (spec.volumes.length === 0) delete spec.volumes;
  }
  const annotations = { ...(t.metadata?.annotations ?? {}) };
  delete annotations[ANN_LAST_APPLIED_BACKUP_INVOKER_HASH];
  const metadata: V1ObjectMeta = { ...(t.metadata ?? {}), annotations };
  if (Object.keys(annotations).length === 0) delete metadata.annotations;
  return { ...t, metadata, spec };
}

/** The pod template with `stash-init` prepended to initContainers, the tmp volume and the hash annotation. Idempotent. */
export function injectInitContainer(
  podTemplate: PodTemplate,
  rs: RestoreInvoker | RestoreView,
  repo: RepositoryLike | undefined,
  opts: InjectOptions,
  info?: TargetInfo,
): PodTemplate {
  const t = clone(podTemplate) ?? {};
  const spec: V1PodSpec = { ...(t.spec ?? { containers: [] }) };
  spec.initContainers = upsertByName(spec.initContainers, initContainer(rs, repo, opts, info), true);
  spec.volumes = upsertByName(spec.volumes, tmpVolume(memberView(rs, info).spec?.tempDir));
  const annotations = sortKeys({ ...(t.metadata?.annotations ?? {}), [ANN_LAST_APPLIED_RESTORE_INVOKER_HASH]: restoreInvokerHash(rs) });
  return { ...t, metadata: { ...(t.metadata ?? {}), annotations }, spec };
}

export function removeInitContainer(podTemplate: PodTemplate): PodTemplate {
  const t = clone(podTemplate) ?? {};
  const spec: V1PodSpec = { ...(t.spec ?? { containers: [] }) };
  spec.initContainers = (spec.initContainers ?? []).filter((c) => c?.name !== INIT_CONTAINER);
  if (spec.initContainers.length === 0) delete spec.initContainers;
  if (!(spec.containers ?? []).some((c) => c?.name === SIDECAR_CONTAINER)) {
    spec.volumes = (spec.volumes ?? []).filter((v) => v?.name !== TMP_VOLUME);
    if (spec.volumes.length === 0) delete spec.volumes;
  }
  const annotations = { ...(t.metadata?.annotations ?? {}) };
  delete annotations[ANN_LAST_APPLIED_RESTORE_INVOKER_HASH];
  const metadata: V1ObjectMeta = { ...(t.metadata ?? {}), annotations };
  if (Object.keys(annotations).length === 0) delete metadata.annotations;
  return { ...t, metadata, spec };
}

/** Workload (not pod template) annotations recording which invoker was applied. */
export function backupInvokerAnnotations(bc: BackupInvoker | BackupView): Record<string, string> {
  return { [ANN_LAST_APPLIED_BACKUP_INVOKER]: lastAppliedInvoker(bc), [ANN_LAST_APPLIED_BACKUP_INVOKER_KIND]: bc.kind ?? "BackupConfiguration" };
}

export function restoreInvokerAnnotations(rs: RestoreInvoker | RestoreView): Record<string, string> {
  return { [ANN_LAST_APPLIED_RESTORE_INVOKER]: lastAppliedInvoker(rs), [ANN_LAST_APPLIED_RESTORE_INVOKER_KIND]: rs.kind ?? "RestoreSession" };
}
