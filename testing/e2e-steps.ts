// Shared steps of the end-to-end tests: a namespace with a temp dir, the sidecar and trigger
// started from the objects the operator wrote, waiting for a final BackupSession, restic's view.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testNamespace } from "./cluster.ts";
import { backupConfiguration, deployment, eventually, repository, secret } from "./stash-objects.ts";
import type { Kube } from "../lib/kube/client.ts";
import { makeFixtureTree, runRunner, startRunner, type RunnerProcess } from "./runner.ts";

export const PASSWORD = "correct-horse-battery-staple-e2e";
export const cond = (list: any[] | undefined, type: string) => (list ?? []).find((c: any) => c.type === type);
export const V1B = "stash.appscode.com/v1beta1";

export interface World {
  kube: Kube;
  namespace: string;
  kubeconfig: string;
  dir: string;
  env: (extra?: Record<string, string>) => Record<string, string | undefined>;
}

export async function world(prefix: string, t: any): Promise<World> {
  const { kube, namespace, cp } = await testNamespace(prefix);
  const dir = mkdtempSync(join(tmpdir(), `restash-${prefix}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = (extra: Record<string, string> = {}) => ({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    KUBECONFIG: cp.kubeconfig,
    POD_NAMESPACE: namespace,
    RESTASH_SCRATCH_DIR: join(dir, "scratch"),
    RESTASH_LOG_LEVEL: "info",
    ...extra,
  });
  return { kube, namespace, kubeconfig: cp.kubeconfig, dir, env };
}

/** Starts the sidecar as the Deployment's pod would: args of the injected `stash` container. */
export async function startSidecar(w: World, deploymentName: string, extraEnv: Record<string, string> = {}): Promise<RunnerProcess> {
  const dep = await w.kube.get<any>("apps/v1", "Deployment", deploymentName, w.namespace);
  const c = dep.spec.template.spec.containers.find((x: any) => x.name === "stash");
  assert.ok(c, "sidecar injected");
  return startRunner(c.args, w.env({ POD_NAME: `${deploymentName}-6d4f8-abcde`, NODE_NAME: "node-1", ...extraEnv }));
}

/** Runs what the CronJob's pod runs, and returns the new BackupSession's name. */
export async function trigger(w: World, bcName: string): Promise<string> {
  const cj = await w.kube.get<any>("batch/v1", "CronJob", `stash-trigger-${bcName}`, w.namespace);
  const before = new Set((await w.kube.list(V1B, "BackupSession", w.namespace)).items.map((s) => s.metadata.name));
  const r = await runRunner(cj.spec.jobTemplate.spec.template.spec.containers[0].args, w.env());
  assert.equal(r.code, 0, r.output);
  const after = (await w.kube.list(V1B, "BackupSession", w.namespace)).items.map((s) => s.metadata.name!).filter((n) => !before.has(n));
  assert.equal(after.length, 1, `one new BackupSession (${after.join(",")})`);
  return after[0];
}

export async function finalSession(w: World, name: string, timeoutMs = 90_000): Promise<any> {
  return eventually(
    `BackupSession ${name} final`,
    async () => {
      const s = await w.kube.getOrNull<any>(V1B, "BackupSession", name, w.namespace);
      return ["Succeeded", "Failed", "Skipped"].includes(s?.status?.phase) && s;
    },
    timeoutMs,
    100,
  );
}

export function resticSnapshots(repoDir: string, password: string): any[] {
  const out = execFileSync("restic", ["snapshots", "--json", "--no-lock"], {
    env: { ...process.env, RESTIC_REPOSITORY: repoDir, RESTIC_PASSWORD: password },
    encoding: "utf8",
  });
  return JSON.parse(out);
}

export async function setupBackup(w: World, opts: { srcFill?: (src: string) => void; bcExtra?: Record<string, unknown>; password?: string } = {}) {
  const src = join(w.dir, "source-data");
  mkdirSync(src, { recursive: true });
  (opts.srcFill ?? ((s) => makeFixtureTree(s, 20)))(src);
  const repoDir = join(w.dir, "repo");
  await w.kube.apply(secret(w.namespace, "repo-secret", { RESTIC_PASSWORD: opts.password ?? PASSWORD }));
  await w.kube.apply(repository(w.namespace, "repo", { local: { mountPath: "/safe/repo", hostPath: { path: "/var/lib/backups" } } }));
  await w.kube.apply(deployment(w.namespace, "app", src));
  await applyBackupConfiguration(w, "app-backup", "app", "repo", src, opts.bcExtra);
  return { src, repoDir, pathMap: `/safe/repo=${repoDir}` };
}

/**
 * Applies BackupConfiguration `name` backing up `src` of Deployment `app` into Repository `repo`,
 * waits until it is Ready and the sidecar is injected, and returns the injected `stash` container.
 */
export async function applyBackupConfiguration(
  w: World,
  name: string,
  app: string,
  repo: string,
  src: string,
  extra: Record<string, unknown> = {},
): Promise<any> {
  const bc = backupConfiguration(w.namespace, name, { kind: "Deployment", name: app }, repo, extra);
  bc.spec.target.volumeMounts = [{ name: "source-data", mountPath: src }];
  bc.spec.target.paths = [src];
  await w.kube.apply(bc);
  await eventually(
    "BackupConfiguration Ready",
    async () => (await w.kube.getOrNull<any>(V1B, "BackupConfiguration", name, w.namespace))?.status?.phase === "Ready",
  );
  return injected(w, app, "stash");
}

/** Waits until the operator has injected its `stash` sidecar or `stash-init` init-container into Deployment `name`; returns the container. */
export async function injected(w: World, name: string, container: "stash" | "stash-init"): Promise<any> {
  return eventually(`${container} injected into ${name}`, async () => {
    const spec = (await w.kube.get<any>("apps/v1", "Deployment", name, w.namespace)).spec.template.spec;
    return ((container === "stash" ? spec.containers : spec.initContainers) ?? []).find((c: any) => c.name === container);
  });
}
