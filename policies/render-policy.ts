// BackupPolicy -> Stash Repository + BackupConfiguration. Pure and deterministic: the same
// policy and defaults always give the same objects, keys in a fixed order.
import type { V1ObjectMeta } from "@kubernetes/client-node";
import type {
  Backend,
  BackupConfiguration,
  BackupConfigurationSpec,
  BackupPolicySpec,
  BackupTarget,
  PolicyBackend,
  Repository,
  RepositorySpec,
  RetentionPolicy,
} from "../schema/types.generated.ts";
import { REPOSITORY_API, STASH_V1BETA1, type KubeObject } from "./model.ts";
import type { PolicyDefaultsSpec } from "./defaults.ts";

export type { BackupPolicySpec };

export interface PolicyProblem {
  field: string;
  message: string;
}

export interface RenderedPolicy {
  repository?: Repository;
  backupConfiguration?: BackupConfiguration;
  problems: PolicyProblem[];
}

/** Annotation that lets the sync prune a Repository once its policy leaves Git. */
export const PRUNABLE_ANNOTATION = "restash.dev/prunable";

const PROVIDERS = ["local", "s3", "gcs", "azure", "swift", "b2", "rest"] as const;
const RETENTION_KEYS = ["keepLast", "keepHourly", "keepDaily", "keepWeekly", "keepMonthly", "keepYearly", "keepTags"] as const;

const defaultTargetApiVersion = (kind: string) =>
  kind === "PersistentVolumeClaim" ? "v1" : kind === "AppBinding" ? "appcatalog.appscode.com/v1alpha1" : "apps/v1";

/**
 * A backend that came from a defaults file is shared by many policies, so each policy gets its
 * own place in it: `<prefix>/<namespace>/<policy>` (subPath for local, URL path for rest).
 */
export function backendForPolicy(backend: PolicyBackend, namespace: string, name: string): PolicyBackend {
  const out = structuredClone(backend);
  const suffix = `${namespace}/${name}`;
  const join = (a: unknown) => (typeof a === "string" && a ? `${a.replace(/\/+$/, "")}/${suffix}` : suffix);
  for (const p of PROVIDERS) {
    const cfg = out[p];
    if (!cfg || typeof cfg !== "object") continue;
    if (p === "local") cfg.subPath = join(cfg.subPath);
    else if (p === "rest") {
      if (typeof cfg.url === "string") cfg.url = `${cfg.url.replace(/\/+$/, "")}/${suffix}`;
    } else cfg.prefix = join(cfg.prefix);
  }
  return out;
}

export function renderBackupPolicy(policy: KubeObject, defaults: PolicyDefaultsSpec, fallbackNamespace: string): RenderedPolicy {
  const problems: PolicyProblem[] = [];
  // The document passed the BackupPolicy schema (an empty spec still renders its problems).
  const spec: Partial<BackupPolicySpec> = (policy.spec ?? {}) as BackupPolicySpec;
  const name = policy.metadata?.name;
  if (!name) problems.push({ field: "metadata.name", message: "is required" });
  const namespace = policy.metadata?.namespace ?? defaults.namespace ?? fallbackNamespace;

  const schedule = spec.schedule ?? defaults.schedule;
  if (!schedule) problems.push({ field: "spec.schedule", message: "is required (in the policy or a defaults.yaml above it)" });

  let backend: PolicyBackend | undefined;
  if (spec.backend) backend = structuredClone(spec.backend);
  else if (defaults.backend && name) backend = backendForPolicy(defaults.backend, namespace, name);
  if (!backend) problems.push({ field: "spec.backend", message: "is required (in the policy or a defaults.yaml above it)" });
  else {
    const providers = PROVIDERS.filter((p) => backend![p] !== undefined);
    if (providers.length !== 1)
      problems.push({
        field: "spec.backend",
        message: `needs exactly one provider of ${PROVIDERS.join(", ")}; found ${providers.length ? providers.join(", ") : "none"}`,
      });
    if (!backend.storageSecretName && !backend.local)
      problems.push({
        field: "spec.backend.storageSecretName",
        message: "is required: name the Secret that holds the restic password and backend credentials",
      });
  }

  const retention = spec.retention ?? defaults.retention;
  if (!retention) problems.push({ field: "spec.retention", message: "is required (in the policy or a defaults.yaml above it)" });

  const paths = spec.paths ?? defaults.paths;
  if (!spec.task && (!paths || paths.length === 0)) problems.push({ field: "spec.paths", message: "is required for a workload target without a task" });

  if (problems.length || !name) return { problems };

  const repoName = spec.repository?.name ?? `${name}-repo`;
  const repoMeta: V1ObjectMeta = { name: repoName, namespace };
  if (spec.repository?.prunable) repoMeta.annotations = { [PRUNABLE_ANNOTATION]: "true" };
  // The policy's provider blocks are open; the Repository schema checks them when the object is applied.
  const repoSpec: RepositorySpec = { backend: backend as Backend };
  if (spec.repository?.usagePolicy) repoSpec.usagePolicy = spec.repository.usagePolicy;
  const repository: Repository = { apiVersion: REPOSITORY_API, kind: "Repository", metadata: repoMeta, spec: repoSpec };

  const policyTarget = spec.target!;
  const target: BackupTarget = {
    ref: { apiVersion: policyTarget.apiVersion ?? defaultTargetApiVersion(policyTarget.kind), kind: policyTarget.kind, name: policyTarget.name },
  };
  if (spec.volumeMounts?.length) target.volumeMounts = spec.volumeMounts.map((m) => ({ ...m }));
  if (paths?.length) target.paths = [...paths];
  if (spec.exclude?.length) target.exclude = [...spec.exclude];

  // Key order is part of the output (name, keep*, prune), so the policy is built up in that order.
  const retentionPolicy = { name: "policy" } as RetentionPolicy;
  for (const k of RETENTION_KEYS) if (retention![k] !== undefined) Object.assign(retentionPolicy, { [k]: retention![k] });
  retentionPolicy.prune = retention!.prune ?? true;

  const bcSpec = { repository: { name: repoName } } as BackupConfigurationSpec;
  if (spec.task) bcSpec.task = { name: spec.task };
  bcSpec.schedule = schedule;
  bcSpec.target = target;
  bcSpec.retentionPolicy = retentionPolicy;
  if (spec.paused !== undefined) bcSpec.paused = spec.paused;
  if (spec.backupHistoryLimit !== undefined) bcSpec.backupHistoryLimit = spec.backupHistoryLimit;
  const backupConfiguration: BackupConfiguration = { apiVersion: STASH_V1BETA1, kind: "BackupConfiguration", metadata: { name, namespace }, spec: bcSpec };

  return { repository, backupConfiguration, problems };
}
