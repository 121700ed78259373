// `run-backup`: the sidecar (or, with --backupsession, the backup Job). Watches its invoker's
// BackupSessions; for each one the operator has initiated for this target and this host has not
// reported yet: initialise the repository, back up every target path (one snapshot each), apply
// retention, verify integrity, then write the host stats, session conditions and Repository
// statistics, and push host and repository metrics. A missing, empty or unreadable path, a wrong
// password or a deleted Repository fail the host with a message naming what went wrong.
// For a BackupBatch the runner backs up its own member's target (the one its flags name): a
// member that does not initialise the repository waits until the first member has; the member
// that applies retention waits until every other member is done (Stash's post-backup actions).
import { errorMessage, redact } from "../../lib/errors.ts";
import type { V1Secret } from "@kubernetes/client-node";
import type {
  BackupSession,
  BackupSessionStatus,
  Condition,
  BackupTargetStatus,
  HostBackupProgress,
  Repository,
  RestoreSessionStatus,
  RetentionPolicy,
  SessionTargetRef,
} from "../../schema/types.generated.ts";
import { getCondition, isFalse, isTrue, setCondition } from "../../lib/conditions.ts";
import { WorkQueue, realClock } from "../../lib/workqueue.ts";
import { backupTargetPhase, goDuration } from "../../stash/phases.ts";
import { isBatch, memberView, targetFor, type BackupInvoker, type BackupView, type RestoreView } from "../../stash/invoker-targets.ts";
import { readFileSync } from "node:fs";
import { isFinalSessionPhase } from "../../stash/phases.ts";
import { C } from "../../stash/conditions.ts";
import { LABEL_INVOKER_NAME, LABEL_INVOKER_TYPE, V1ALPHA1, V1BETA1, hostName } from "../../stash/names.ts";
import { updateStatus } from "../../lib/status.ts";
import { collectionPath, startInformer } from "../../lib/kube/informer.ts";
import { resticBackend, writeBackendFiles } from "../../restic/backend.ts";
import { secretDataOf } from "../../lib/kube/secret-data.ts";
import type { ResticContext } from "../../restic/run.ts";
import { backup, checkBackupSource, type BackupProgress } from "../../restic/backup.ts";
import { openRepositoryClearingLocks, postBackupActions } from "../tasks/post-backup.ts";
import type { OutputCondition, StepOutput } from "../tasks/step-output.ts";
import { backupStatusWith, repositoryStatusWith } from "../tasks/update-status.ts";
import type { RunnerDeps } from "./runner-deps.ts";
import type { SnapshotNumbers } from "../../stash/metrics.ts";
import { LEASE_SECONDS, acquireLease, backupLeaseName } from "./backup-lease.ts";
import { hostname as osHostname } from "node:os";
import { runPostBackupHook, runPreBackupHook, writeTargetConditions } from "./backup-hooks.ts";
import { pickBaseEnv } from "../../lib/child-env.ts";

export interface TargetFlags {
  invokerName: string;
  invokerKind: string;
  targetName: string;
  targetNamespace: string;
  targetKind: string;
  enableCache: boolean;
  pushgatewayUrl?: string;
}

/** The restore invoker as one executor sees it (restore-invoker.ts): a RestoreBatch's status is its member's, RestoreSession-shaped. */
export type RestoreExecutorView = Omit<RestoreView, "status"> & { status?: RestoreSessionStatus };

/** Pushes what the executor reports: host metrics and, from the last host, repository metrics. */
export interface RunnerMetrics {
  pushBackupHost(session: BackupSession, invoker: BackupView, repo: Repository, out: StepOutput, numbers?: SnapshotNumbers[]): Promise<void>;
  pushRepository(invoker: BackupView, repo: Repository, stats: NonNullable<StepOutput["repository"]>): Promise<void>;
  pushRestoreHost(session: RestoreExecutorView, repo: Repository, out: StepOutput): Promise<void>;
}

/** "waiting": not this host's turn yet (the repository is being initialised by the first target); try again shortly. */
export type HostResult = "skipped" | "locked" | "waiting" | "Succeeded" | "Failed";

/** How often a waiting host looks again (Stash: 5 s). */
export const WAIT_MS = 5_000;

const sameTarget = (ref: SessionTargetRef | undefined, f: TargetFlags) =>
  ref?.kind === f.targetKind && ref?.name === f.targetName && (ref?.namespace || f.targetNamespace) === f.targetNamespace;

/** Whether this host should run the session now, and if not, why. */
export function shouldRun(session: Pick<BackupSession, "status">, f: TargetFlags, host: string): { run: boolean; why: string } {
  const st: BackupSessionStatus = session.status ?? {};
  if (isFinalSessionPhase(st.phase)) return { run: false, why: `session is ${st.phase}` };
  const target = (st.targets ?? []).find((t) => sameTarget(t.ref, f));
  if (!target || target.totalHosts === undefined || getCondition(target.conditions, C.BackupExecutorEnsured)?.status !== "True")
    return { run: false, why: "target not initiated by the operator yet" };
  if ((target.stats ?? []).some((s) => s.hostname === host)) return { run: false, why: "host already reported" };
  if (isFalse(st.conditions, C.GlobalPreBackupHookSucceeded)) return { run: false, why: "the global preBackup hook failed" };
  return { run: true, why: "" };
}

/** Stash: a target that does not initialise the repository waits until the one that does has (BackendRepositoryInitialized). */
export function waitsForRepository(session: Pick<BackupSession, "status">, f: TargetFlags): boolean {
  const target = (session.status?.targets ?? []).find((t) => sameTarget(t.ref, f));
  return !(target?.preBackupActions ?? []).includes("InitializeBackendRepository") && !isTrue(session.status?.conditions, C.BackendRepositoryInitialized);
}

/** Whether every other target of the session is done (Succeeded or Failed): the last target's post-backup actions wait for that. */
export function otherTargetsDone(session: Pick<BackupSession, "status">, f: TargetFlags): boolean {
  return (session.status?.targets ?? []).every((t) => sameTarget(t.ref, f) || ["Succeeded", "Failed"].includes(backupTargetPhase(t)));
}

export function retentionArgs(policy: RetentionPolicy | undefined): Record<string, string> {
  const a: Record<string, string> = {};
  const put = (k: string, v: unknown) => {
    if (v !== undefined && v !== null && v !== "" && v !== 0) a[k] = Array.isArray(v) ? v.join(",") : String(v);
  };
  put("retention-keep-last", policy?.keepLast);
  put("retention-keep-hourly", policy?.keepHourly);
  put("retention-keep-daily", policy?.keepDaily);
  put("retention-keep-weekly", policy?.keepWeekly);
  put("retention-keep-monthly", policy?.keepMonthly);
  put("retention-keep-yearly", policy?.keepYearly);
  put("retention-keep-tags", policy?.keepTags);
  if (policy?.prune) a["retention-prune"] = "true";
  if (policy?.dryRun) a["retention-dry-run"] = "true";
  return a;
}

/** Opens the invoker's Repository with its Secret; the error names what is missing. */
export async function openRepo(
  deps: RunnerDeps,
  invoker: BackupView | RestoreExecutorView,
  enableCache: boolean,
  secrets: string[],
): Promise<{ repo: Repository; restic: ResticContext }> {
  const name = invoker.spec?.repository?.name;
  const ns = invoker.spec?.repository?.namespace || invoker.metadata.namespace!;
  const repo = name ? await deps.kube.getOrNull<Repository>(V1ALPHA1, "Repository", name, ns) : null;
  if (!repo)
    throw new Error(`Repository ${ns}/${name} not found (${invoker.kind} ${invoker.metadata.namespace}/${invoker.metadata.name}, field spec.repository)`);
  if (repo.metadata.deletionTimestamp) throw new Error(`Repository ${ns}/${name} is being deleted`);
  const secretName = repo.spec?.backend?.storageSecretName;
  const secret = secretName ? await deps.kube.getOrNull<V1Secret>("v1", "Secret", secretName, ns) : null;
  if (!secret) throw new Error(`Repository ${ns}/${name}: storage Secret ${ns}/${secretName ?? "(spec.backend.storageSecretName is empty)"} not found`);
  const backend = resticBackend(repo, secretDataOf(secret), {
    scratchDir: deps.scratchDir,
    enableCache,
    localPath: (local) => deps.mapPath(local.subPath ? `${local.mountPath.replace(/\/$/, "")}/${local.subPath}` : local.mountPath),
  });
  secrets.push(...backend.secrets);
  deps.log.addSecrets(backend.secrets);
  await writeBackendFiles(backend);
  return { repo, restic: { backend, bin: deps.resticBin, baseEnv: pickBaseEnv(deps.env), logger: deps.log } };
}

/** Progress of one host as restash records it in status.targets[].progress (one entry per host). */
export function progressEntry(hostname: string, path: string, p: BackupProgress, now: Date): HostBackupProgress {
  return {
    hostname,
    path,
    percentDone: Math.round(p.percentDone * 1000) / 10,
    filesDone: p.filesDone,
    totalFiles: p.totalFiles,
    bytesDone: p.bytesDone,
    totalBytes: p.totalBytes,
    secondsElapsed: Math.round(p.secondsElapsed),
    ...(p.secondsRemaining !== undefined ? { secondsRemaining: Math.round(p.secondsRemaining) } : {}),
    updatedAt: now.toISOString().replace(/\.\d{3}Z$/, "Z"),
  };
}

/**
 * Writes restic's progress into the session at most once per interval (restic is asked for one
 * report per interval); a write in flight is never doubled up, and the entry is removed at the end.
 */
function progressWriter(deps: RunnerDeps, f: TargetFlags, sessionName: string, hostname: string) {
  let inflight: Promise<unknown> = Promise.resolve();
  let busy = false;
  const ref = { apiVersion: V1BETA1, kind: "BackupSession", name: sessionName, namespace: f.targetNamespace };
  const put = (entry: HostBackupProgress | null) =>
    updateStatus<BackupSession>(deps.kube, ref, (status) => {
      const t = (status.targets ?? []).find((x) => sameTarget(x.ref, f));
      if (!t) return undefined;
      const rest = (t.progress ?? []).filter((x) => x.hostname !== hostname);
      if (!entry && rest.length === (t.progress ?? []).length) return undefined;
      t.progress = entry ? [...rest, entry] : rest;
      if (t.progress.length === 0) delete t.progress;
      return status;
    });
  // Reports that arrive while a write is in flight are coalesced: the newest one is written next,
  // so the last report (100%, from restic's summary) is never the one dropped.
  let pending: { path: string; p: BackupProgress } | undefined;
  const flush = () => {
    if (busy || !pending) return;
    const { path, p } = pending;
    pending = undefined;
    busy = true;
    inflight = put(progressEntry(hostname, path, p, new Date(deps.now())))
      .catch((e) => deps.log.debug("progress not written", { err: e as Error }))
      .finally(() => {
        busy = false;
        flush();
      });
  };
  return {
    report(path: string, p: BackupProgress) {
      pending = { path, p };
      flush();
    },
    async done() {
      while (busy || pending) await inflight;
      await put(null).catch(() => {});
    },
  };
}

/**
 * Runs one BackupSession for this host, as a backup Job does: waits while it is not this host's
 * turn yet. Never throws for backup failures: they go to status.
 */
export async function backupForSession(deps: RunnerDeps, f: TargetFlags, sessionName: string, metrics?: RunnerMetrics): Promise<HostResult> {
  for (;;) {
    const r = await backupOnce(deps, f, sessionName, metrics);
    if (r !== "waiting") return r;
    await new Promise((res) => setTimeout(res, WAIT_MS));
  }
}

/** The invoker as this runner's target sees it (a BackupBatch: its member for the flags' target); null when it has none. */
async function invokerFor(deps: RunnerDeps, f: TargetFlags): Promise<BackupView | null> {
  const invoker = await deps.kube.getOrNull<BackupInvoker>(V1BETA1, f.invokerKind, f.invokerName, f.targetNamespace);
  if (!invoker || !isBatch(invoker.kind)) return invoker;
  const info = targetFor(invoker, { kind: f.targetKind, name: f.targetName, namespace: f.targetNamespace });
  if (!info) {
    deps.log.warn("the invoker has no member for this target", {
      invoker: `${f.invokerKind} ${f.targetNamespace}/${f.invokerName}`,
      target: `${f.targetKind} ${f.targetNamespace}/${f.targetName}`,
    });
    return null;
  }
  return memberView(invoker, info);
}

/** One attempt at a BackupSession for this host. */
async function backupOnce(deps: RunnerDeps, f: TargetFlags, sessionName: string, metrics?: RunnerMetrics): Promise<HostResult> {
  const ns = f.targetNamespace;
  const host = hostName(f.targetKind, undefined, deps.env.POD_NAME, deps.env.NODE_NAME);
  const session = await deps.kube.getOrNull<BackupSession>(V1BETA1, "BackupSession", sessionName, ns);
  if (!session) return "skipped";
  const invoker = await invokerFor(deps, f);
  const alias = invoker?.spec?.target?.alias;
  const hostname = alias ? hostName(f.targetKind, alias, deps.env.POD_NAME, deps.env.NODE_NAME) : host;
  const gate = shouldRun(session, f, hostname);
  if (!gate.run) {
    deps.log.debug("not running session", { session: sessionName, why: gate.why });
    return "skipped";
  }
  if (waitsForRepository(session, f)) {
    deps.log.info("waiting for the backend repository to be initialised by the first target", { session: sessionName });
    return "waiting";
  }
  const log = deps.log.child({ session: `${ns}/${sessionName}`, host: hostname });
  // One pod of the workload at a time (Stash's backup Lease); the others retry after it expires.
  const lease = await acquireLease(deps.kube, ns, backupLeaseName(f.targetKind, f.targetName), deps.env.POD_NAME || osHostname(), deps.now);
  if (!lease) {
    log.info("another pod holds the backup lease; waiting", { lease: backupLeaseName(f.targetKind, f.targetName) });
    return "locked";
  }
  try {
    return await runHost(deps, f, sessionName, session, invoker, target0(session, f), hostname, log, metrics);
  } finally {
    await lease.release();
  }
}

const target0 = (session: BackupSession, f: TargetFlags) => (session.status?.targets ?? []).find((t) => sameTarget(t.ref, f));

async function runHost(
  deps: RunnerDeps,
  f: TargetFlags,
  sessionName: string,
  session: BackupSession,
  invoker: BackupView | null,
  target: BackupTargetStatus | undefined,
  hostname: string,
  log: RunnerDeps["log"],
  metrics?: RunnerMetrics,
): Promise<HostResult> {
  const ns = f.targetNamespace;
  // Re-read under the lease: another pod may have finished this session meanwhile.
  const fresh = await deps.kube.getOrNull<BackupSession>(V1BETA1, "BackupSession", sessionName, ns);
  if (!fresh || !shouldRun(fresh, f, hostname).run) return "skipped";
  const started = deps.now();
  const secrets: string[] = [];
  const conditions: OutputCondition[] = [];
  const snapshots: NonNullable<StepOutput["snapshots"]> = [];
  const numbers: SnapshotNumbers[] = [];
  let repository: StepOutput["repository"];
  let repo: Repository | undefined;
  let out: StepOutput;
  const progress = progressWriter(deps, f, sessionName, hostname);
  const hookTarget = { kind: f.targetKind, name: f.targetName, namespace: ns };
  const hookConditions: OutputCondition[] = [];
  let preHookFailed = false;
  try {
    if (!invoker) throw new Error(`${f.invokerKind} ${ns}/${f.invokerName} not found`);
    const pre = await runPreBackupHook(deps, session, invoker, hookTarget, secrets);
    if (pre) {
      hookConditions.push(pre);
      if (pre.status === "False") {
        preHookFailed = true;
        throw new Error(pre.message);
      }
    }
    const paths: string[] = invoker.spec?.target?.paths ?? [];
    if (paths.length === 0) throw new Error(`${invoker.kind} ${ns}/${invoker.metadata.name}, field spec.target.paths: no path to back up`);
    // Refuse before touching the repository: an empty or missing path is never a success.
    for (const p of paths) await checkBackupSource(p);
    const opened = await openRepo(deps, invoker, f.enableCache, secrets);
    repo = opened.repo;
    const init = (target?.preBackupActions ?? []).includes("InitializeBackendRepository");
    // One restic call opens the repository (creating it for InitializeBackendRepository) and lists
    // its locks. The runner runs one restic at a time per host, so a lock under this host's name is
    // a killed predecessor's (restart, SIGKILL, OOM); other hosts' locks are left to restic's rules.
    await openRepositoryClearingLocks(opened.restic, {
      init,
      conditions,
      secrets,
      isHolderAlive: (lock) => lock.hostname !== osHostname() || resticRunning(lock.pid),
    });
    // Other targets wait for this condition: record it now, not with this host's result.
    if (init)
      await writeSessionConditions(
        deps,
        sessionName,
        ns,
        conditions.filter((c) => c.type === C.BackendRepositoryInitialized),
      );
    for (const p of paths) {
      log.info("backing up", { path: p });
      const r = await backup(opened.restic, {
        path: p,
        host: hostname,
        exclude: invoker.spec?.target?.exclude,
        args: invoker.spec?.target?.args,
        progressIntervalMs: deps.progressIntervalMs ?? 10_000,
        onProgress: (pr) => progress.report(p, pr),
      });
      snapshots.push(r.snapshot);
      numbers.push({ totalBytes: r.totalBytes, uploadedBytes: r.uploadedBytes, processingSeconds: r.processingSeconds, fileStats: r.snapshot.fileStats });
    }
    const postActions = target?.postBackupActions ?? [];
    if (postActions.length) {
      // Retention and the check see the whole batch's snapshots: the other targets finish first.
      await waitForOtherTargets(deps, f, sessionName, log);
      repository = await postBackupActions(opened.restic, retentionArgs(invoker.spec?.retentionPolicy), conditions, secrets, postActions);
      if (metrics && postActions.includes("SendRepositoryMetrics")) {
        try {
          await metrics.pushRepository(invoker, repo, repository ?? {});
          conditions.push({
            type: C.RepositoryMetricsPushed,
            status: "True",
            reason: "SuccessfullyPushedRepositoryMetrics",
            message: "Successfully pushed repository metrics.",
          });
        } catch (e) {
          conditions.push({
            type: C.RepositoryMetricsPushed,
            status: "False",
            reason: "FailedToPushRepositoryMetrics",
            message: `Failed to push repository metrics. Reason: ${redact(errorMessage(e), secrets)}`,
          });
        }
      }
    }
    out = {
      kind: "backup",
      command: "run-backup",
      hostname,
      phase: "Succeeded",
      duration: goDuration(deps.now() - started),
      snapshots,
      conditions,
      ...(repository ? { repository } : {}),
    };
  } catch (e) {
    const error = redact(errorMessage(e), secrets);
    log.error("backup failed", { error });
    out = {
      kind: "backup",
      command: "run-backup",
      hostname,
      phase: "Failed",
      duration: goDuration(deps.now() - started),
      error,
      ...(conditions.length ? { conditions } : {}),
    };
  }
  await progress.done();
  // postBackup runs after the backup, whatever its result (by executionPolicy), unless preBackup failed.
  if (invoker && !preHookFailed) {
    const post = await runPostBackupHook(deps, session, invoker, hookTarget, out.phase, out.error, secrets);
    // A failed postBackup leaves the host's snapshot as it is (it was made) and fails the target
    // through its condition, as Stash does. Written before the host's stats, so the operator never
    // judges the session before the hook's outcome is in.
    if (post) hookConditions.push(post);
  }
  await writeTargetConditions(deps, sessionName, hookTarget, hookConditions);
  // Metrics first: once the host result is in status the operator may finish the session at once.
  if (metrics && invoker && repo) {
    try {
      await metrics.pushBackupHost(session, invoker, repo, out, numbers);
    } catch (e) {
      log.warn("could not push host metrics", { error: redact(errorMessage(e), secrets) });
    }
  }
  const now = new Date(deps.now());
  // The Repository first: once the host's result is in the session, the operator may finish it,
  // and whoever sees a finished session must find the Repository's statistics already there.
  if (out.phase === "Succeeded" && repo) {
    const created = session.metadata.creationTimestamp ? String(session.metadata.creationTimestamp) : now.toISOString();
    const r = await updateStatus<Repository>(
      deps.kube,
      { apiVersion: V1ALPHA1, kind: "Repository", name: repo.metadata.name!, namespace: repo.metadata.namespace! },
      (status) => repositoryStatusWith(status, out, created),
    );
    if (!r)
      log.warn("Repository was deleted while the backup ran; its statistics were not recorded", {
        repository: `${repo.metadata.namespace}/${repo.metadata.name}`,
      });
  }
  const written = await updateStatus<BackupSession>(
    deps.kube,
    { apiVersion: V1BETA1, kind: "BackupSession", name: sessionName, namespace: ns },
    (status, obj) => backupStatusWith(status, out, { kind: f.targetKind, name: f.targetName, namespace: ns }, now, obj.metadata.generation),
  );
  if (!written) log.warn("BackupSession disappeared before its result could be written");
  return out.phase;
}

/** Sets session-level conditions (read-modify-write, as the operator may write the session too). */
async function writeSessionConditions(deps: RunnerDeps, sessionName: string, namespace: string, conditions: OutputCondition[]): Promise<void> {
  if (conditions.length === 0) return;
  const now = new Date(deps.now());
  await updateStatus<BackupSession>(deps.kube, { apiVersion: V1BETA1, kind: "BackupSession", name: sessionName, namespace }, (status, obj) => {
    let cs = status.conditions ?? [];
    // setCondition always stamps lastTransitionTime, which the generated Condition requires.
    for (const c of conditions) cs = setCondition(cs, c, now, obj.metadata.generation) as Condition[];
    return { ...status, conditions: cs };
  });
}

/** Waits (Stash: polls every 5 s, up to 30 min) until every other target of the session is done; throws when the session ends or the time is up. */
async function waitForOtherTargets(deps: RunnerDeps, f: TargetFlags, sessionName: string, log: RunnerDeps["log"], limitMs = 30 * 60_000): Promise<void> {
  const until = deps.now() + limitMs;
  for (let logged = false; ; logged = true) {
    const s = await deps.kube.getOrNull<BackupSession>(V1BETA1, "BackupSession", sessionName, f.targetNamespace);
    if (!s) throw new Error(`BackupSession ${f.targetNamespace}/${sessionName} was deleted while waiting for the other targets`);
    if (otherTargetsDone(s, f)) return;
    if (isFinalSessionPhase(s.status?.phase) || isTrue(s.status?.conditions, C.DeadlineExceeded))
      throw new Error(`the session ended (${s.status?.phase ?? "deadline exceeded"}) before the other targets completed their backup`);
    if (deps.now() > until) throw new Error(`the other targets did not complete their backup within ${limitMs / 60_000} minutes`);
    if (!logged) log.info("waiting for all other targets to complete their backup before the post-backup actions");
    // Shorter than Stash's 5 s: the status read is cheap and the host's result waits on it.
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * Whether `pid` is a restic running on this machine. One runner per pod runs one restic at a
 * time, so a lock under this host's name is normally a killed predecessor's; but where several
 * runners share a host name (processes outside pods) a live restic's lock must stay.
 */
function resticRunning(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8")
      .split("\0")
      .some((a) => /(^|\/)restic$/.test(a));
  } catch {
    return false;
  }
}

/**
 * The sidecar loop: an informer on this invoker's BackupSessions feeds a work queue that runs
 * one session at a time. Resolves when `signal` aborts.
 */
export async function runBackupSidecar(deps: RunnerDeps, f: TargetFlags, signal: AbortSignal, metrics?: RunnerMetrics): Promise<void> {
  const queue = new WorkQueue({
    clock: realClock,
    concurrency: 1,
    baseDelayMs: 1000,
    maxDelayMs: 60_000,
    handler: async (name) => {
      const r = await backupOnce(deps, f, name, metrics);
      return r === "locked" ? { requeueAfterMs: LEASE_SECONDS * 1000 } : r === "waiting" ? { requeueAfterMs: WAIT_MS } : undefined;
    },
    onError: (name, e) => deps.log.error("session handling failed", { session: name, err: e as Error }),
  });
  const inf = startInformer(
    deps.kube,
    {
      path: collectionPath("stash.appscode.com", "v1beta1", "backupsessions", f.targetNamespace),
      labelSelector: `${LABEL_INVOKER_TYPE}=${f.invokerKind},${LABEL_INVOKER_NAME}=${f.invokerName}`,
      onEvent: (bs) => {
        if (!bs.metadata?.deletionTimestamp) queue.add(bs.metadata.name!);
      },
    },
    deps.log,
    realClock,
  );
  await inf.synced;
  deps.log.info("watching BackupSessions", { invoker: `${f.invokerKind}/${f.invokerName}`, target: `${f.targetKind} ${f.targetNamespace}/${f.targetName}` });
  await new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
  queue.stop();
  await inf.stop();
  await queue.idle();
}
