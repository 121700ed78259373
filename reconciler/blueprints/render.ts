// A BackupBlueprint + an annotated target → the Repository and BackupConfiguration Stash's
// auto-backup creates (stash-behaviour.md 1.7, 2.9): names `<lower-case kind>-<target>`
// (AppBinding → `app-<name>`), prefixed with the target namespace when the blueprint sends them
// to another backupNamespace, suffixed with the blueprint when several are named; `${TARGET_*}`
// variables filled in everywhere in the blueprint (others are left for the Task resolver).
// Pure: exact-equality tests.
import type { V1ObjectMeta } from "@kubernetes/client-node";
import type {
  BackupBlueprintSpec,
  BackupConfiguration,
  BackupConfigurationSpec,
  BackupTarget,
  Repository,
  RepositorySpec,
  TargetRef,
  TaskRef,
} from "../../schema/types.generated.ts";
import { substJson } from "../../stash/tasks/envsubst.ts";
import { LABEL_MANAGED_BY, LABEL_TARGET_KIND, LABEL_TARGET_NAME, LABEL_TARGET_NAMESPACE, MANAGED_BY, V1ALPHA1, V1BETA1, sortKeys } from "../../stash/names.ts";
import { KEY_BACKUP_BLUEPRINT, type AutoBackupRequest } from "./annotations.ts";

/** The label naming the blueprint an object was generated from (the annotation key, as a label). */
export const LABEL_BLUEPRINT = KEY_BACKUP_BLUEPRINT;

export interface AutoBackupTarget {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid?: string;
  /** AppBinding spec.type (`<group>/<resource>`) and spec.version. */
  appType?: string;
  appVersion?: string;
}

/** The objects a blueprint renders; an invalid blueprint renders objects their schemas reject (blueprintViolations names the field). */
export interface Rendered {
  repository: Repository;
  backupConfiguration: BackupConfiguration;
}

const RESOURCES: Record<string, string> = {
  Deployment: "deployments",
  StatefulSet: "statefulsets",
  DaemonSet: "daemonsets",
  ReplicaSet: "replicasets",
  PersistentVolumeClaim: "persistentvolumeclaims",
  AppBinding: "appbindings",
};

/** The blueprint variables of a target (stash-behaviour.md 1.7). */
export function targetVariables(t: AutoBackupTarget): Record<string, string> {
  const vars: Record<string, string> = {
    TARGET_API_VERSION: t.apiVersion,
    TARGET_KIND: t.kind.toLowerCase(),
    TARGET_NAMESPACE: t.namespace,
    TARGET_NAME: t.name,
    TARGET_RESOURCE: RESOURCES[t.kind] ?? `${t.kind.toLowerCase()}s`,
  };
  if (t.appType) {
    const [group, resource] = t.appType.includes("/") ? t.appType.split("/", 2) : ["", t.appType];
    vars.TARGET_APP_GROUP = group;
    vars.TARGET_APP_RESOURCE = resource;
    vars.TARGET_APP_TYPE = t.appType;
  }
  if (t.appVersion) vars.TARGET_APP_VERSION = t.appVersion;
  return vars;
}

/** `<lower-case kind>-<name>`, AppBinding → `app-<name>`; `<target ns>-` in front in another backup namespace; `-<blueprint>` when several. */
export function autoBackupName(t: AutoBackupTarget, backupNamespace: string, blueprint: string, several: boolean): string {
  let name = `${t.kind === "AppBinding" ? "app" : t.kind.toLowerCase()}-${t.name}`;
  if (backupNamespace !== t.namespace) name = `${t.namespace}-${name}`;
  if (several) name = `${name}-${blueprint}`;
  return name;
}

/** Labels that tie a generated object to its target and blueprint (also how stale ones are found). */
export function autoBackupLabels(t: AutoBackupTarget, blueprint: string): Record<string, string> {
  return sortKeys({
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_BLUEPRINT]: blueprint,
    [LABEL_TARGET_KIND]: t.kind,
    [LABEL_TARGET_NAME]: t.name,
    [LABEL_TARGET_NAMESPACE]: t.namespace,
  });
}

const BC_FIELDS = ["runtimeSettings", "tempDir", "interimVolumeTemplate", "hooks", "backupHistoryLimit", "timeOut", "retryConfig"] as const;

/** A BackupBlueprint as stored, or as submitted to the webhook (its spec not yet known to be valid). */
export interface BlueprintSource {
  metadata: { name?: string };
  spec?: unknown;
}

export function renderAutoBackup(blueprint: BlueprintSource, t: AutoBackupTarget, req: AutoBackupRequest): Rendered {
  const bpName = blueprint.metadata.name ?? "";
  // Read as a blueprint spec: substitution changes strings only, and what is copied is checked by the schemas of the rendered objects.
  const spec = substJson(blueprint.spec ?? {}, targetVariables(t), "spec", { lenient: true }).value as Partial<BackupBlueprintSpec>;
  const backupNamespace = spec.backupNamespace || t.namespace;
  const repoNamespace = spec.repoNamespace || backupNamespace;
  const name = autoBackupName(t, backupNamespace, bpName, req.blueprints.length > 1);
  const labels = autoBackupLabels(t, bpName);

  // Without a backend (or retentionPolicy) in the blueprint the objects miss it: the schemas say so.
  const repoSpec = { backend: spec.backend } as RepositorySpec;
  if (spec.wipeOut !== undefined) repoSpec.wipeOut = spec.wipeOut;
  if (spec.usagePolicy !== undefined) repoSpec.usagePolicy = spec.usagePolicy;
  const repository: Repository = { apiVersion: V1ALPHA1, kind: "Repository", metadata: { name, namespace: repoNamespace, labels }, spec: repoSpec };

  const ref: TargetRef = { apiVersion: t.apiVersion, kind: t.kind, name: t.name };
  if (t.namespace !== backupNamespace) ref.namespace = t.namespace;
  const target: BackupTarget = { ref };
  if (req.paths) target.paths = req.paths;
  if (req.volumeMounts) target.volumeMounts = req.volumeMounts;
  const bcSpec = {
    repository: repoNamespace === backupNamespace ? { name } : { name, namespace: repoNamespace },
    schedule: req.schedule ?? spec.schedule,
    target,
    retentionPolicy: spec.retentionPolicy,
  } as BackupConfigurationSpec;
  if (spec.task?.name || req.params.length || spec.task?.params?.length) {
    const byName = new Map<string, string>();
    for (const p of spec.task?.params ?? []) byName.set(p.name, p.value);
    for (const p of req.params) byName.set(p.name, p.value);
    const task: TaskRef = { name: spec.task?.name ?? "" };
    if (byName.size) task.params = [...byName].map(([n, value]) => ({ name: n, value }));
    bcSpec.task = task;
  }
  for (const f of BC_FIELDS) if (spec[f] !== undefined) Object.assign(bcSpec, { [f]: spec[f] });
  const metadata: V1ObjectMeta = { name, namespace: backupNamespace, labels };
  // The target owns its configuration where it can (same namespace): deleting it collects the BC.
  if (t.uid && backupNamespace === t.namespace) metadata.ownerReferences = [{ apiVersion: t.apiVersion, kind: t.kind, name: t.name, uid: t.uid }];
  return { repository, backupConfiguration: { apiVersion: V1BETA1, kind: "BackupConfiguration", metadata, spec: bcSpec } };
}
