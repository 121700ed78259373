// Test helper: a namespace with a service account that may (or may not) manage Stash objects, a
// PolicySource pointing at a remote, and a controller scoped to that namespace; `withGitops` puts
// them together for one test and takes them down after it.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Kube, KubeObject } from "../lib/kube/client.ts";
import { createLogger, silentLogger } from "../lib/logger.ts";
import { startPolicySourceController, type PolicySourceController } from "../reconciler/gitops/controller.ts";
import { createRemote, type GitRemote, type WorkClone } from "./git-fixture.ts";
import { gitAt } from "../reconciler/gitops/git-source.ts";
import { NOTES_REF } from "../reconciler/gitops/notes.ts";
import { POLICY_SOURCE_API, type PolicySource, type PolicySourceSpec } from "../policies/policy-source.ts";

export async function grantStash(
  kube: Kube,
  namespace: string,
  sa: string,
  resources = ["repositories", "backupconfigurations", "backupblueprints", "tasks", "functions"],
): Promise<void> {
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

export async function applySource(
  kube: Kube,
  namespace: string,
  name: string,
  spec: Partial<PolicySourceSpec>,
  annotations?: Record<string, string>,
): Promise<void> {
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

/**
 * A controller watching `namespace`, cloning under `workDir` (a new temporary directory if not given).
 * With `logs`, every debug line is collected there (to check what never reaches the logs).
 */
export async function startController(kube: Kube, namespace: string, opts: { workDir?: string; logs?: string[] } = {}): Promise<PolicySourceController> {
  const workDir = opts.workDir ?? (await mkdtemp(join(tmpdir(), "restash-sync-")));
  const logs = opts.logs;
  const log = logs
    ? createLogger({ level: "debug", write: (l) => logs.push(l) })
    : process.env.RESTASH_TEST_VERBOSE
      ? createLogger({ level: "debug" })
      : silentLogger();
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

/** The Events the API server holds about PolicySource `name`. */
export async function sourceEvents(kube: Kube, namespace: string, name: string): Promise<any[]> {
  const list = await kube.list<KubeObject>("v1", "Event", namespace);
  return list.items.filter((e: any) => e.involvedObject?.kind === "PolicySource" && e.involvedObject?.name === name);
}

/** The JSON lines of the note on `sha` in the bare repository `bare` (none when it has no note). */
export async function noteLines(bare: string, sha: string): Promise<any[]> {
  const text = await gitAt(bare)
    .raw(["notes", `--ref=${NOTES_REF}`, "show", sha])
    .catch(() => "");
  return text
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
}

export interface GitopsEnv {
  kube: Kube;
  namespace: string;
  /** An empty bare remote (file:// URL). */
  remote: GitRemote;
  ctl: PolicySourceController;
  /** The controller's clones, keys and known_hosts. */
  workDir: string;
  /** A fresh clone of the remote with `files` written, committed and pushed; the clone and the new head. */
  push(files: Record<string, string>, message?: string): Promise<{ work: WorkClone; head: string }>;
  /** Applies PolicySource `name` (url: the remote's unless `spec` names another source), syncs it and returns it as stored. */
  sync(name: string, spec?: Partial<PolicySourceSpec>, annotations?: Record<string, string>): Promise<PolicySource>;
  /** Syncs PolicySource `name` again as it stands and returns it. */
  resync(name: string): Promise<PolicySource>;
  /** Runs `fn` when the test is done, once the controller has stopped (last registered first). */
  defer(fn: () => unknown): void;
  /** A temporary directory removed when the test is done. */
  tempDir(prefix: string): Promise<string>;
}

/** The files most tests start from: the defaults and one BackupPolicy "web". */
export const webPolicy = (extra = "") => ({ "defaults.yaml": defaultsYaml(), "web.yaml": policyYaml("web", extra) });

/**
 * Runs `fn` in the test namespace `where` (testing/cluster.ts's testNamespace(), which is not
 * imported here: the benchmark imports this file and must not start node:test), whose service
 * account "policy-sync" may manage `resources` (all Stash kinds by default), with an empty remote
 * and a controller scoped to the namespace; afterwards stops the controller, runs the deferred
 * cleanups and removes the remote and the clones.
 */
export async function withGitops(
  where: { kube: Kube; namespace: string },
  fn: (env: GitopsEnv) => Promise<void>,
  opts: { resources?: string[]; logs?: string[] } = {},
): Promise<void> {
  const { kube, namespace } = where;
  const remote = await createRemote();
  const workDir = await mkdtemp(join(tmpdir(), "restash-sync-"));
  const cleanups: (() => unknown)[] = [];
  const tempDir = async (p: string) => {
    const d = await mkdtemp(join(tmpdir(), p));
    cleanups.push(() => rm(d, { recursive: true, force: true }));
    return d;
  };
  const ctl = await startController(kube, namespace, { workDir, logs: opts.logs });
  try {
    await grantStash(kube, namespace, "policy-sync", opts.resources);
    await fn({
      kube,
      namespace,
      remote,
      ctl,
      workDir,
      async push(files, message = "policies") {
        const work = await remote.clone();
        await work.write(files);
        return { work, head: await work.commitAndPush(message) };
      },
      async sync(name, spec = {}, annotations) {
        await applySource(kube, namespace, name, spec.localPath ? spec : { url: remote.url, ...spec }, annotations);
        await syncNow(ctl, namespace, name);
        return getSource(kube, namespace, name);
      },
      async resync(name) {
        await syncNow(ctl, namespace, name);
        return getSource(kube, namespace, name);
      },
      defer: (c) => void cleanups.push(c),
      tempDir,
    });
  } finally {
    try {
      await ctl.stop();
    } finally {
      // Best effort, so that the remote and the clones are removed whatever happens.
      for (const c of cleanups.reverse())
        await Promise.resolve()
          .then(c)
          .catch(() => {});
      await remote.cleanup();
      await rm(workDir, { recursive: true, force: true });
    }
  }
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
