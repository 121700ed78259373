// One reconcile of one PolicySource key: fetch -> load -> build -> check -> plan -> apply ->
// prune -> inventory -> note. Each step is a small function over a Run; status is written once,
// in the finally block, and a revision is all or nothing: any invalid file, failed dry-run or
// conflict leaves the last good revision in force and prunes nothing.
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { Kube, KubeObject } from "../../lib/kube/client.ts";
import type { BackupConfigurationSpec } from "../../schema/types.generated.ts";
import { isNotFound } from "../../lib/kube/client.ts";
import { setHealth, rfc3339, type HealthInput } from "../../lib/conditions.ts";
import { ReconcileError, errorMessage, redact, stalled, transient } from "../../lib/errors.ts";
import type { BuildResult, SourceError } from "../../policies/model.ts";
import { formatSourceError } from "../../policies/model.ts";
import { loadTree } from "../../policies/load-tree.ts";
import { buildRevision, checkRevision } from "../../policies/build.ts";
import { planApply, executePlan, planFailed, mayPassLater, type PlannedObject } from "../../policies/apply-plan.ts";
import { staleEntries, type InventoryEntry } from "../../policies/inventory.ts";
import { pruneStale, type PruneOutcome } from "./prune.ts";
import { openRepo, fetchBranch, isAncestor, checkout, shaOf, revisionString, displayUrl, type GitCredentials, type GitRepo } from "./git-source.ts";
import { writeNote, type NoteRecord } from "./notes.ts";
import { addFinalizer, finalizeSource, forgetSource } from "./finalize.ts";
import { sourceEvent } from "./source-events.ts";
import { writeSourceStatus } from "./status-write.ts";
import {
  ACCEPT_REWRITE_ANNOTATION,
  POLICY_SOURCE_API,
  POLICY_SOURCE_KIND,
  REQUESTED_AT_ANNOTATION,
  parseDuration,
  type PolicySource,
  type PolicySourceStatus,
  type SyncSummary,
} from "../../policies/policy-source.ts";
import { contentHash, type SourceKey } from "../../policies/tracking.ts";
import type { SyncDeps } from "./sync-deps.ts";

interface Run {
  source: PolicySource;
  key: SourceKey;
  actAs: Kube;
  status: PolicySourceStatus;
  summary: SyncSummary;
  health: HealthInput;
  revision?: string;
  sha?: string;
  repo?: GitRepo;
  dir?: string;
  files?: { path: string; content: string }[];
  built?: BuildResult;
  errors: SourceError[];
  plan?: PlannedObject[];
  pruned?: PruneOutcome[];
  drift: string[];
  secrets: string[];
  /** The status as written at the end of the run. */
  written?: PolicySourceStatus;
}

const keyString = (k: SourceKey) => `${k.namespace}/${k.name}`;
const TRANSIENT_RETRY_MS = 15_000;

export interface SyncResult {
  requeueAfterMs?: number;
  /** The directory to watch for saves (a local-directory source that is neither suspended nor deleted). */
  watchPath?: string;
}

export async function syncPolicySource(deps: SyncDeps, key: SourceKey): Promise<SyncResult> {
  let source: PolicySource;
  try {
    source = await deps.kube.get<PolicySource>(POLICY_SOURCE_API, POLICY_SOURCE_KIND, key.name, key.namespace);
  } catch (e) {
    if (isNotFound(e)) {
      await forgetSource(deps, key);
      return {};
    }
    throw e;
  }
  const actAs = () => serviceAccountClient(deps, key, source.spec.serviceAccountName);
  if (source.metadata.deletionTimestamp) return finalizeSource(deps, key, source, actAs);
  // Before anything is applied, so a deletion can never miss what this source applies.
  await addFinalizer(deps.kube, source);
  if (source.spec.suspend) return {};
  const interval = parseDuration(source.spec.interval);
  const run: Run = {
    source,
    key,
    actAs: actAs(),
    status: structuredClone(source.status ?? {}),
    summary: { applied: 0, unchanged: 0, pruned: 0, failed: 0, driftCorrected: 0 },
    health: { health: "Reconciling", reason: "Progressing", message: "reconciliation in progress" },
    errors: [],
    drift: [],
    secrets: [],
  };
  const log = deps.log.child({ policySource: keyString(key) });
  let requeueAfterMs = interval;
  const timings: Record<string, number> = {};
  const step = async (name: string, fn: () => unknown) => {
    const t0 = performance.now();
    try {
      await fn();
    } finally {
      timings[name] = Math.round(performance.now() - t0);
    }
  };
  try {
    await step("fetch", () => fetchStep(deps, run));
    await step("build", () => buildStep(deps, run));
    await step("check", () => checkStep(deps, run));
    await step("plan", () => planStep(deps, run));
    await step("apply", () => applyStep(deps, run));
    await step("prune", () => pruneStep(deps, run));
    recordInventory(run);
    run.health = {
      health: "Ready",
      reason: "ReconciliationSucceeded",
      message: `Applied revision: ${run.revision} (${run.summary.applied} changed, ${run.summary.unchanged} unchanged, ${run.summary.pruned} pruned${run.summary.driftCorrected ? `, ${run.summary.driftCorrected} drift corrected` : ""})`,
    };
  } catch (e) {
    const err = e instanceof ReconcileError ? e : transient("ReconciliationFailed", errorMessage(e));
    const message = redact(err.message, run.secrets);
    run.health = { health: err.kind === "Stalled" ? "Stalled" : "Reconciling", reason: err.reason, message };
    if (err.kind !== "Stalled") requeueAfterMs = Math.min(interval, TRANSIENT_RETRY_MS);
    run.summary.errors = [message, ...(run.summary.errors ?? [])].slice(0, 20);
    log.warn("sync failed", { reason: err.reason, error: message, revision: run.revision });
  } finally {
    await step("status", () => writeStatus(deps, run));
  }
  await step("events", () => eventStep(deps, run));
  await step("note", () => noteStep(deps, run).catch((e) => log.warn("writing the git note failed", { error: redact(errorMessage(e), run.secrets) })));
  log.debug("reconciled", { revision: run.revision, health: run.health.health, ms: timings });
  return { requeueAfterMs, watchPath: source.spec.localPath };
}

/** The source's service account, impersonated; the client (and its connections) is kept while the account stays the same. */
function serviceAccountClient(deps: SyncDeps, key: SourceKey, serviceAccountName: string): Kube {
  const user = `system:serviceaccount:${key.namespace}:${serviceAccountName}`;
  const k = keyString(key);
  const have = deps.memory.actAs.get(k);
  if (have?.user === user) return have.kube;
  have?.kube.close();
  // No Impersonate-Group: for a service account the API server adds its groups (system:serviceaccounts,
  // system:serviceaccounts:<ns>, system:authenticated) itself, and naming them would need impersonate on groups.
  const kube = deps.kube.impersonate(user);
  deps.memory.actAs.set(k, { user, kube });
  return kube;
}

async function readCredentials(deps: SyncDeps, run: Run): Promise<GitCredentials> {
  const ref = run.source.spec.secretRef?.name;
  if (!ref) return {};
  let secret: KubeObject | null;
  try {
    secret = await deps.kube.getOrNull<KubeObject>("v1", "Secret", ref, run.key.namespace);
  } catch (e) {
    throw transient("SecretUnreadable", `Secret ${run.key.namespace}/${ref} could not be read: ${errorMessage(e)}`);
  }
  if (!secret) throw stalled("SecretNotFound", `Secret ${run.key.namespace}/${ref} named in spec.secretRef does not exist`);
  const data = (secret.data ?? {}) as Record<string, string>;
  const get = (k: string) => (data[k] ? Buffer.from(data[k], "base64").toString("utf8") : undefined);
  const creds: GitCredentials = {
    username: get("username"),
    password: get("password"),
    bearerToken: get("bearerToken"),
    identity: get("identity"),
    knownHosts: get("known_hosts"),
    caCert: get("ca.crt"),
  };
  const { caCert: _ca, knownHosts: _kh, ...secretValues } = creds;
  run.secrets.push(...Object.values(secretValues).filter((v): v is string => !!v));
  return creds;
}

/** The source's clone: one per source, reopened only when the URL or the credentials change. Call under the repo lock. */
async function sourceRepo(deps: SyncDeps, key: SourceKey, url: string, creds: GitCredentials): Promise<GitRepo> {
  const memKey = keyString(key);
  const credKey = contentHash([url, creds]);
  let repo = deps.memory.repos.get(memKey);
  if (!repo || deps.memory.repoKeys.get(memKey) !== credKey) {
    repo = await openRepo(join(deps.workDir, key.namespace, key.name, "repo"), url, creds);
    deps.memory.repos.set(memKey, repo);
    deps.memory.repoKeys.set(memKey, credKey);
    deps.memory.checkedOut.delete(memKey);
  }
  return repo;
}

/**
 * Adds note lines to a commit of a source's remote (used for backup results). Opens the clone
 * if this process has not synced the source yet.
 */
export async function appendSourceNote(deps: SyncDeps, key: SourceKey, sha: string, records: NoteRecord[]): Promise<void> {
  const source = await deps.kube.get<PolicySource>(POLICY_SOURCE_API, POLICY_SOURCE_KIND, key.name, key.namespace);
  if (!source.spec.url) return; // a local directory has no remote to write to
  const run = { source, key, secrets: [] as string[] } as unknown as Run;
  const creds = await readCredentials(deps, run);
  await deps.withRepoLock(keyString(key), async () => {
    const repo = await sourceRepo(deps, key, source.spec.url!, creds);
    const clean = records.map((r) => JSON.parse(redact(JSON.stringify(r), run.secrets)) as NoteRecord);
    await writeNote(repo, sha, clean);
  });
}

async function fetchStep(deps: SyncDeps, run: Run): Promise<void> {
  const spec = run.source.spec;
  if (spec.localPath) {
    run.dir = spec.localPath;
    return; // the revision of a directory is the hash of its files, known after loading
  }
  if (!spec.url) throw stalled("InvalidSpec", "spec.url or spec.localPath is required");
  const branch = spec.branch ?? "main";
  const creds = await readCredentials(deps, run);
  const memKey = keyString(run.key);
  await deps.withRepoLock(memKey, async () => {
    const repo = await sourceRepo(deps, run.key, spec.url!, creds);
    run.repo = repo;
    const sha = await fetchBranch(repo, branch);
    run.sha = sha;
    run.revision = revisionString(branch, sha);
    run.status.lastAttemptedRevision = run.revision;
    // Only the same branch can be rewritten; switching spec.branch is a deliberate change.
    const last = run.status.lastAppliedRevision?.startsWith(`${branch}@sha1:`) ? shaOf(run.status.lastAppliedRevision) : undefined;
    if (last && last !== sha && !(await isAncestor(repo, last, sha)) && run.source.metadata.annotations?.[ACCEPT_REWRITE_ANNOTATION] !== sha)
      throw stalled(
        "HistoryRewritten",
        `branch "${branch}" of ${displayUrl(spec.url!)} was rewritten: ${sha.slice(0, 12)} does not descend from the applied ${last.slice(0, 12)}; nothing applied or pruned. To accept it, annotate the PolicySource ${ACCEPT_REWRITE_ANNOTATION}=${sha}`,
      );
    if (deps.memory.checkedOut.get(memKey) !== sha) {
      deps.memory.checkedOut.delete(memKey);
      await checkout(repo, sha);
      deps.memory.checkedOut.set(memKey, sha);
    }
    run.dir = repo.dir;
  });
}

async function buildStep(deps: SyncDeps, run: Run): Promise<void> {
  const spec = run.source.spec;
  const memKey = keyString(run.key);
  const fingerprintOf = (rev: string) => JSON.stringify([rev, spec.path ?? ".", spec.maxFileSize ?? 0, run.key.namespace]);
  if (run.revision) {
    const cached = deps.memory.builds.get(memKey);
    if (cached && cached.fingerprint === fingerprintOf(run.revision)) {
      run.built = cached.built;
      run.errors = [...cached.built.errors];
      return;
    }
  }
  const tree = await loadTree({ root: run.dir!, path: spec.path ?? ".", maxFileSize: spec.maxFileSize });
  if (!run.revision) {
    const h = createHash("sha256");
    for (const f of tree.files) h.update(f.path).update("\0").update(f.content).update("\0");
    run.revision = `dir@sha256:${h.digest("hex").slice(0, 40)}`;
    run.status.lastAttemptedRevision = run.revision;
  }
  let files = deps.memory.files.get(memKey);
  if (!files) deps.memory.files.set(memKey, (files = new Map()));
  const built = buildRevision(tree.files, { defaultNamespace: run.key.namespace }, files);
  built.errors = [...tree.errors, ...built.errors];
  deps.memory.builds.set(memKey, { fingerprint: fingerprintOf(run.revision), built });
  run.built = built;
  run.errors = [...built.errors];
}

/** Per built revision: what it references outside itself, and the last check's answer (a resync re-checks nothing it has checked). */
const checkMemo = new WeakMap<BuildResult, { repositories: string[]; tasks: string[]; last?: { found: string; errors: SourceError[] } }>();

function externalReferences(built: BuildResult): { repositories: string[]; tasks: string[] } {
  const inSet = new Set(built.objects.filter((o) => o.object.kind === "Repository").map((o) => `${o.object.metadata.namespace}/${o.object.metadata.name}`));
  const taskSet = new Set(built.objects.filter((o) => o.object.kind === "Task").map((o) => o.object.metadata.name!));
  const repositories = new Set<string>();
  const tasks = new Set<string>();
  for (const o of built.objects) {
    // Any kind's spec may name a Task (BackupConfiguration, BackupBlueprint, RestoreSession); read as theirs.
    const spec = (o.object.spec ?? {}) as Partial<Pick<BackupConfigurationSpec, "repository" | "task">>;
    if (o.object.kind === "BackupConfiguration" && spec.repository?.name) {
      const k = `${spec.repository.namespace ?? o.object.metadata.namespace}/${spec.repository.name}`;
      if (!inSet.has(k)) repositories.add(k);
    }
    const task = spec.task?.name;
    if (task && !taskSet.has(task)) tasks.add(task);
  }
  return { repositories: [...repositories], tasks: [...tasks] };
}

async function checkStep(deps: SyncDeps, run: Run): Promise<void> {
  const built = run.built!;
  let memo = checkMemo.get(built);
  if (!memo) checkMemo.set(built, (memo = externalReferences(built)));
  // Which of the references exist in the cluster is asked every time.
  const externalRepositories = new Set<string>();
  const externalTasks = new Set<string>();
  await Promise.all([
    ...memo.repositories.map((k) => {
      const [ns, name] = k.split("/");
      return deps.kube.getOrNull("stash.appscode.com/v1alpha1", "Repository", name, ns).then(
        (r) => void (r && externalRepositories.add(k)),
        () => undefined,
      );
    }),
    ...memo.tasks.map((t) =>
      deps.kube.getOrNull("stash.appscode.com/v1beta1", "Task", t).then(
        (r) => void (r && externalTasks.add(t)),
        () => undefined,
      ),
    ),
  ]);
  const found = JSON.stringify([[...externalRepositories].sort(), [...externalTasks].sort()]);
  if (memo.last?.found !== found) memo.last = { found, errors: checkRevision(built, { externalRepositories, externalTasks }) };
  run.errors = [...memo.last.errors];
  if (run.errors.length) {
    const shown = run.errors.slice(0, 5).map(formatSourceError);
    run.summary.errors = run.errors.slice(0, 20).map(formatSourceError);
    throw stalled(
      "ValidationFailed",
      `revision ${run.revision} has ${run.errors.length} error(s); nothing applied, ${run.status.lastAppliedRevision ? `${run.status.lastAppliedRevision} stays in force` : "nothing was applied before"}: ${shown.join("; ")}${run.errors.length > 5 ? "; …" : ""}`,
    );
  }
}

async function planStep(deps: SyncDeps, run: Run): Promise<void> {
  run.plan = await planApply(run.actAs, run.built!.objects, { source: run.key, revision: run.revision!, parallelism: deps.parallelism });
  const bad = planFailed(run.plan);
  run.summary.unchanged = run.plan.filter((p) => p.action === "unchanged").length;
  if (bad.length) {
    const conflicts = bad.filter((p) => p.action === "conflict");
    run.summary.conflicts = conflicts.map((p) => p.message!).slice(0, 20);
    run.summary.failed = bad.length;
    run.summary.errors = bad.map((p) => `${p.file}:${p.line}: ${p.message}`).slice(0, 20);
    const what = conflicts.length === bad.length ? "Conflict" : "ApplyFailed";
    // Refusals (RBAC, admission, invalid) need a change; server or network failures may pass.
    const passing = bad.some(mayPassLater);
    throw (passing ? transient : stalled)(
      what,
      `revision ${run.revision}: ${bad.length} object(s) cannot be applied as ${run.source.spec.serviceAccountName}; nothing applied: ${run.summary.errors.slice(0, 5).join("; ")}`,
    );
  }
}

async function applyStep(deps: SyncDeps, run: Run): Promise<void> {
  const failed = await executePlan(run.actAs, run.plan!, deps.parallelism);
  const plan = run.plan!;
  run.summary.applied = plan.filter((p) => p.action === "create" || p.action === "update" || p.action === "drift").length;
  run.drift = plan.filter((p) => p.action === "drift").map((p) => `${p.message}; restored`);
  run.summary.driftCorrected = run.drift.length;
  if (run.drift.length) {
    run.summary.drift = run.drift.slice(0, 20);
    run.status.lastDriftCorrection = { time: rfc3339(deps.now()), revision: run.revision!, objects: run.drift.slice(0, 20) };
  }
  if (failed.length) {
    // Whatever was applied is tracked, so a later revision can prune it (Flux #1664).
    const applied = plan.filter((p) => p.action !== "failed").map(toEntry);
    const ids = new Set(applied.map((e) => e.id));
    run.status.inventory = { entries: [...applied, ...(run.status.inventory?.entries ?? []).filter((e) => !ids.has(e.id))].sort(byId) };
    run.summary.failed = failed.length;
    throw transient(
      "ApplyFailed",
      `revision ${run.revision}: ${failed.length} apply(s) failed: ${failed
        .slice(0, 5)
        .map((p) => p.message)
        .join("; ")}`,
    );
  }
}

const toEntry = (p: PlannedObject): InventoryEntry => ({
  id: p.id,
  v: p.object.apiVersion.includes("/") ? p.object.apiVersion.split("/")[1] : p.object.apiVersion,
  file: p.file,
  ...(p.prunable ? {} : { prunable: false }),
});
const byId = (a: InventoryEntry, b: InventoryEntry) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

async function pruneStep(deps: SyncDeps, run: Run): Promise<void> {
  const next = run.plan!.map(toEntry);
  if (run.source.spec.prune === false) {
    run.pruned = [];
    return;
  }
  const previous = (run.status.inventory?.entries ?? []).map((e) => ({ ...e, prunable: e.prunable !== false }));
  run.pruned = await pruneStale(run.actAs, staleEntries(previous, next), run.key, { parallelism: deps.parallelism });
  run.summary.pruned = run.pruned.filter((p) => p.action === "deleted").length;
  const failed = run.pruned.filter((p) => p.action === "failed");
  if (failed.length) {
    // Keep the ones that could not be deleted in the inventory so the next run tries again.
    const keep = (run.status.inventory?.entries ?? []).filter((e) => failed.some((f) => f.id === e.id));
    run.status.inventory = { entries: [...next, ...keep].sort(byId) };
    throw transient("PruneFailed", `revision ${run.revision}: ${failed.map((f) => f.message).join("; ")}`);
  }
}

function recordInventory(run: Run): void {
  run.status.inventory = { entries: run.plan!.map(toEntry).sort(byId) };
  run.status.lastAppliedRevision = run.revision;
}

async function writeStatus(deps: SyncDeps, run: Run): Promise<void> {
  const now = deps.now();
  const gen = run.source.metadata.generation;
  const status: PolicySourceStatus = {
    ...run.status,
    observedGeneration: gen,
    conditions: setHealth(run.status.conditions, run.health, now, gen),
    lastSyncSummary: run.summary,
  };
  const requested = run.source.metadata.annotations?.[REQUESTED_AT_ANNOTATION];
  if (requested) status.lastHandledReconcileAt = requested;
  run.written = status;
  // Each part (inventory, the rest) is written only when it changed: a no-op resync of a large
  // inventory writes a small status or none.
  await writeSourceStatus(deps.kube, run.source, status);
}

/**
 * One Event per outcome worth telling, reason = the Ready condition's reason (as Flux does): a new
 * revision applied, objects changed or pruned, drift restored, a new failure, a recovery. A resync
 * that ends as the last one did (same revision, reason and message, nothing changed) stays quiet.
 */
async function eventStep(deps: SyncDeps, run: Run): Promise<void> {
  const ready = run.written?.conditions?.find((c) => c.type === "Ready");
  if (!ready) return;
  const before = run.source.status?.conditions?.find((c) => c.type === "Ready");
  const changedSomething =
    run.summary.applied > 0 ||
    run.summary.pruned > 0 ||
    run.summary.driftCorrected > 0 ||
    run.written?.lastAppliedRevision !== run.source.status?.lastAppliedRevision;
  const sameOutcome =
    before && before.status === ready.status && before.reason === ready.reason && (ready.status === "True" || before.message === ready.message);
  if (sameOutcome && !changedSomething) return;
  await sourceEvent(
    deps.kube,
    run.source,
    { type: ready.status === "True" ? "Normal" : "Warning", reason: ready.reason ?? run.health.reason, message: ready.message ?? "" },
    deps.now(),
  );
}

async function noteStep(deps: SyncDeps, run: Run): Promise<void> {
  if (!run.repo || !run.sha || !run.revision) return;
  const record: NoteRecord = {
    time: rfc3339(deps.now()),
    kind: "sync",
    source: keyString(run.key),
    revision: run.revision,
    result: run.health.health === "Ready" ? "Applied" : "Failed",
    reason: run.health.reason,
    applied: run.summary.applied,
    unchanged: run.summary.unchanged,
    pruned: (run.pruned ?? []).filter((p) => p.action === "deleted").map((p) => p.id),
    failed: (run.plan ?? [])
      .filter((p) => p.action === "failed" || p.action === "conflict")
      .map((p) => ({ object: p.ref, file: p.file, line: p.line, message: p.message })),
    ...(run.drift.length ? { drift: run.drift } : {}),
    errors: run.errors.slice(0, 50).map((e) => ({ file: e.file, line: e.line, ...(e.field ? { field: e.field } : {}), message: e.message })),
    ...(run.health.health !== "Ready" && !run.errors.length ? { message: run.health.message } : {}),
  };
  // A resync that changes nothing writes no new line: the note says what each revision did.
  // Fingerprint: what the revision's outcome is, not how much work this run did.
  const fingerprint = JSON.stringify([record.revision, record.result, record.reason, record.errors, record.failed]);
  const memKey = keyString(run.key);
  if (run.summary.applied === 0 && run.summary.pruned === 0 && deps.memory.notes.get(memKey) === fingerprint) return;
  const clean = JSON.parse(redact(JSON.stringify(record), run.secrets)) as NoteRecord;
  await deps.withRepoLock(memKey, () => writeNote(run.repo!, run.sha!, [clean]));
  deps.memory.notes.set(memKey, fingerprint);
}
