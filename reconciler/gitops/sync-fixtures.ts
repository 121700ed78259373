// Test helper: a namespace with a service account that may (or may not) manage Stash objects, a
// PolicySource pointing at a remote, and a controller scoped to that namespace.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Kube, KubeObject } from "../../lib/kube/client.ts";
import { createLogger, silentLogger } from "../../lib/logger.ts";
import { startPolicySourceController, type PolicySourceController } from "./controller.ts";
import { POLICY_SOURCE_API, type PolicySource, type PolicySourceSpec } from "./policy-source.ts";

export async function grantStash(kube: Kube, namespace: string, sa: string, resources = ["repositories", "backupconfigurations", "backupblueprints", "tasks", "functions"]): Promise<void> {
  await kube.apply({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: sa, namespace } });
  await kube.apply({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: `${sa}-stash`, namespace },
    rules: [{ apiGroups: ["stash.appscode.com"], resources, verbs: ["get", "list", "watch", "create", "update", "patch", "delete"] }],
  } as any);
  await kube.apply({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: `${sa}-stash`, namespace },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: `${sa}-stash` },
    subjects: [{ kind: "ServiceAccount", name: sa, namespace }],
  } as any);
}

export async function applySource(kube: Kube, namespace: string, name: string, spec: Partial<PolicySourceSpec>, annotations?: Record<string, string>): Promise<void> {
  await kube.apply({
    apiVersion: POLICY_SOURCE_API,
    kind: "PolicySource",
    metadata: { name, namespace, ...(annotations ? { annotations } : {}) },
    spec: { serviceAccountName: "policy-sync", interval: "1h", ...spec },
  } as KubeObject);
}

export async function getSource(kube: Kube, namespace: string, name: string): Promise<PolicySource> {
  return kube.get<any>(POLICY_SOURCE_API, "PolicySource", name, namespace);
}

export async function startController(kube: Kube, namespace: string): Promise<PolicySourceController> {
  const workDir = await mkdtemp(join(tmpdir(), "restash-sync-"));
  const log = process.env.RESTASH_TEST_VERBOSE ? createLogger({ level: "debug" }) : silentLogger();
  return startPolicySourceController({ kube, log, workDir, namespace });
}

/** Queues the source and waits until the queue has drained. */
export async function syncNow(c: PolicySourceController, namespace: string, name: string): Promise<void> {
  await c.idle();
  c.trigger(namespace, name);
  await new Promise((r) => setImmediate(r));
  await c.idle();
}

export function readyCondition(s: PolicySource) {
  return s.status?.conditions?.find((c) => c.type === "Ready");
}

export const policyYaml = (name: string, extra = "") => `apiVersion: restash.dev/v1alpha1
kind: BackupPolicy
metadata:
  name: ${name}
spec:
  target: { kind: Deployment, name: ${name} }
  paths: [/data]
${extra}`;

export const defaultsYaml = (secret = "backend-creds") => `apiVersion: restash.dev/v1alpha1
kind: BackupPolicyDefaults
metadata:
  name: defaults
spec:
  schedule: "*/30 * * * *"
  backend:
    storageSecretName: ${secret}
    s3: { endpoint: "http://127.0.0.1:9000", bucket: backups, prefix: team }
  retention: { keepLast: 3, keepDaily: 7 }
`;
