// npm run demo — restash end to end on this machine, and cleaned up afterwards.
//
// On a real node (scripts/demo-node.ts) when the machine can run containers: the operator as a pod from
// `kubectl apply --server-side -k .`, the policy sync, the real CronJob and the injected sidecar, the
// Snapshot API and a restore by the init-container. A node already running is used and left running;
// otherwise one is started and stopped at the end.
//
// In-process (`npm run demo -- --local`, and where no node can run, said in one line): a local control
// plane, the operator (controllers, policy sync, webhooks, Snapshot API), MinIO and a pushgateway; a
// policy Git repository made from fixtures/demo; the sync applies it; a real backup runs as the
// injected sidecar would run it; `kubectl get snapshots`; a restore into another workload, checked
// byte for byte; and the git note the sync wrote on the commit.
import { grantStash } from "../testing/gitops-fixture.ts";
import { execFile, execFileSync, spawn } from "node:child_process";
import { promisify } from "node:util";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startControlPlane, type ControlPlane } from "../local/control-plane.ts";
import { installCRDs } from "../schema/install.ts";
import { Kube } from "../lib/kube/client.ts";
import { createLogger } from "../lib/logger.ts";
import { startOperatorProcess, type RunningOperator } from "../bin/operator.ts";
import { startMinio, startPushgateway, toolsDir, type Minio, type Pushgateway } from "../testing/services.ts";
import { generateFixtureTree } from "../fixtures/data/generate.ts";
import { treeHash } from "../testing/tree-hash.ts";
import { nodeUnavailable, runNodeDemo } from "./demo-node.ts";

const root = resolve(import.meta.dirname, "..");
const NS = "demo";
const t0 = Date.now();
const say = (msg: string) => console.log(`\n[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ▶ ${msg}`);
const show = (text: string) => console.log(text.replace(/\s+$/, "").replace(/^/gm, "    "));

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "Platform Team",
      GIT_AUTHOR_EMAIL: "platform@example.com",
      GIT_COMMITTER_NAME: "Platform Team",
      GIT_COMMITTER_EMAIL: "platform@example.com",
    },
  });
}

/** Runs a container's command line as the pod would, here: the restash image's entrypoint is bin/restash.ts. */
function runContainer(name: string, container: any, env: Record<string, string>, signal?: AbortSignal): Promise<number> {
  const args = [join(root, "bin/restash.ts"), ...(container.args ?? [])];
  console.log(`    $ restash ${(container.args ?? []).join(" ")}`);
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], signal });
    const prefix = (b: Buffer) =>
      b
        .toString()
        .split("\n")
        .filter(Boolean)
        .forEach((l) => console.log(`    [${name}] ${l.length > 200 ? l.slice(0, 200) + "…" : l}`));
    child.stdout.on("data", prefix);
    child.stderr.on("data", prefix);
    child.on("error", (e) => ((e as any).name === "AbortError" ? res(0) : rej(e)));
    child.on("exit", (code) => res(code ?? 0));
  });
}

async function localDemo() {
  // restic, MinIO and the pushgateway come from the project's tool cache (scripts/install-tools.sh).
  process.env.PATH = `${toolsDir()}:${process.env.PATH}`;
  const work = mkdtempSync(join(tmpdir(), "restash-demo-"));
  const cleanups: (() => Promise<unknown> | unknown)[] = [() => rmSync(work, { recursive: true, force: true })];
  let cp: ControlPlane | undefined;
  try {
    say("Starting a local control plane (kube-apiserver + etcd built from their Go modules)");
    cp = await startControlPlane({ log: (l) => show(l) });
    cleanups.unshift(() => cp!.stop());
    const kube = Kube.fromFile(cp.kubeconfig);
    // Async: the operator's HTTPS server runs in this process, and the API server calls it back
    // while kubectl waits (webhooks, the Snapshot API); a synchronous child would deadlock it.
    const kubectl = async (...args: string[]) =>
      (await promisify(execFile)(join(cp!.binDir, "kubectl"), ["--kubeconfig", cp!.kubeconfig, ...args], { encoding: "utf8" })).stdout;
    const crds = await installCRDs(kube);
    show(`${crds.length} CRDs installed: ${crds.map((c) => c.split(".")[0]).join(", ")}`);

    say("Starting MinIO (S3) and a Prometheus pushgateway");
    const minio: Minio = await startMinio({ dir: join(work, "minio") });
    const pushgateway: Pushgateway = await startPushgateway({ dir: join(work, "pushgateway") });
    cleanups.unshift(
      () => minio.stop(),
      () => pushgateway.stop(),
    );
    await minio.createBucket("backups");
    show(`S3 ${minio.endpoint}, pushgateway ${pushgateway.url}`);

    say("Starting the restash operator: controllers, policy sync, admission webhooks, Snapshot API");
    const operator: RunningOperator = await startOperatorProcess({
      kube,
      log: createLogger({ level: "warn", fields: { component: "operator" } }),
      image: "ghcr.io/restash/restash:0.1.0",
      pushgatewayUrl: pushgateway.url,
      securePort: 0,
      secureHost: "127.0.0.1",
      metricsPort: 0,
      metricsHost: "127.0.0.1",
      workDir: join(work, "clones"),
      register: "local",
    });
    cleanups.unshift(() => operator.stop());
    show(`webhooks and Snapshot API on https://127.0.0.1:${operator.server.port}; metrics on http://127.0.0.1:${operator.httpPort}/metrics`);

    say(`Namespace ${NS}, the backend Secret (created outside Git), and the service account the policy sync acts as`);
    await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
    await kube.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "s3-credentials", namespace: NS },
      stringData: { RESTIC_PASSWORD: "demo-only-password", AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: minio.secretKey },
    });
    // The policy sync acts as this service account: it may manage the Stash kinds the policies render.
    await grantStash(kube, NS, "policy-sync", ["repositories", "backupconfigurations", "restoresessions"]);

    say("Creating the policy Git repository from fixtures/demo/policies and pushing it");
    const remote = join(work, "policies.git");
    const clone = join(work, "policies");
    git(work, "init", "-q", "--bare", "-b", "main", remote);
    execFileSync("git", ["clone", "-q", remote, clone], { stdio: "ignore" });
    cpSync(join(root, "fixtures/demo/policies"), clone, { recursive: true });
    // No kubelet here: the app's data volume is a directory on this machine, so the policy names it.
    const dataDir = join(work, "app-data");
    for (const f of ["defaults.yaml", "demo-app.yaml"]) {
      const path = join(clone, f);
      writeFileSync(path, readFileSync(path, "utf8").replaceAll("${S3_ENDPOINT}", minio.endpoint).replaceAll("${DATA_DIR}", dataDir));
    }
    git(clone, "add", "-A");
    git(clone, "commit", "-q", "-m", "Back up demo-app nightly to S3");
    git(clone, "push", "-q", "origin", "main");
    show(git(clone, "log", "--oneline", "-1") + git(clone, "ls-files"));

    say("Creating a PolicySource: restash fetches the repository and applies it as policy-sync");
    await kube.apply({
      apiVersion: "restash.dev/v1alpha1",
      kind: "PolicySource",
      metadata: { name: "backup-policies", namespace: NS },
      spec: { url: `file://${remote}`, branch: "main", interval: "1m", serviceAccountName: "policy-sync", prune: true },
    });
    const source = await until("the PolicySource to be Ready", async () => {
      const s = await kube.get("restash.dev/v1alpha1", "PolicySource", "backup-policies", NS);
      return (s.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True") ? s : undefined;
    });
    show(`applied ${source.status.lastAppliedRevision}`);
    show(await kubectl("get", "policysources,repositories,backupconfigurations", "-n", NS));

    say("Creating Deployment demo-app: the mutating webhook injects the backup sidecar");
    mkdirSync(dataDir, { recursive: true });
    const fixture = await generateFixtureTree(dataDir, { largeFileBytes: 8 * 1024 * 1024, smallFiles: 20 });
    show(`fixture data: ${fixture.files} files, ${(fixture.bytes / 1048576).toFixed(1)} MiB (text, binary, empty, unicode names, symlinks, modes)`);
    const deployment = (name: string, labels: Record<string, string>) => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name, namespace: NS },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [{ name: "app", image: "busybox", command: ["sleep", "infinity"], volumeMounts: [{ name: "data", mountPath: "/data" }] }],
            volumes: [{ name: "data", emptyDir: {} }],
          },
        },
      },
    });
    await kube.apply(deployment("demo-app", { app: "demo-app" }));
    const app = await until("the sidecar", async () => {
      const d = await kube.get("apps/v1", "Deployment", "demo-app", NS);
      return d.spec.template.spec.containers.some((c: any) => c.name === "stash") ? d : undefined;
    });
    show(
      await kubectl("get", "deployment", "demo-app", "-n", NS, "-o", 'jsonpath={range .spec.template.spec.containers[*]}{.name}{"\\t"}{.image}{"\\n"}{end}'),
    );
    await until("the trigger CronJob", async () => (await kube.list("batch/v1", "CronJob", NS)).items.length > 0);
    show(await kubectl("get", "cronjobs", "-n", NS));

    say("Triggering a backup as the CronJob would (create-backupsession), and running the sidecar");
    const bc = await kube.get("stash.appscode.com/v1beta1", "BackupConfiguration", "demo-app", NS);
    const cron = await kube.get("batch/v1", "CronJob", (await kube.list("batch/v1", "CronJob", NS)).items[0].metadata!.name!, NS);
    const trigger = cron.spec.jobTemplate.spec.template.spec.containers[0];
    const podEnv = (pod: string, pathMap: string) => ({
      KUBECONFIG: cp!.kubeconfig,
      POD_NAME: pod,
      POD_NAMESPACE: NS,
      RESTASH_PATH_MAP: pathMap,
      RESTASH_SCRATCH_DIR: join(work, `scratch-${pod}`),
      PATH: `${toolsDir()}:${process.env.PATH}`,
      RESTASH_LOG_LEVEL: "warn",
    });
    if ((await runContainer("stash-trigger", trigger, podEnv("stash-trigger", ""))) !== 0) throw new Error("create-backupsession failed");
    const sidecar = app.spec.template.spec.containers.find((c: any) => c.name === "stash");
    const stopSidecar = new AbortController();
    const sidecarDone = runContainer("stash", sidecar, podEnv("demo-app-7d9c5-abcde", ""), stopSidecar.signal);
    cleanups.unshift(() => stopSidecar.abort());
    const session = await until(
      "the BackupSession to finish",
      async () => {
        const list = await kube.list("stash.appscode.com/v1beta1", "BackupSession", NS);
        const s = list.items.find((x) => x.spec?.invoker?.name === bc.metadata.name);
        return s && ["Succeeded", "Failed", "Skipped"].includes(s.status?.phase) ? s : undefined;
      },
      300_000,
    );
    stopSidecar.abort();
    await sidecarDone;
    show(await kubectl("get", "backupsessions", "-n", NS));
    if (session.status.phase !== "Succeeded")
      throw new Error(
        `backup ${session.metadata.name} ended ${session.status.phase}: ${JSON.stringify(session.status.targets?.[0]?.stats ?? session.status.conditions)}`,
      );
    const stats = session.status.targets[0].stats[0];
    show(
      `host ${stats.hostname}: snapshot ${stats.snapshots[0].name} of ${stats.snapshots[0].path}, ${stats.snapshots[0].totalSize}, ${stats.snapshots[0].fileStats.totalFiles} files`,
    );
    await until(
      "Repository status",
      async () => ((await kube.get("stash.appscode.com/v1alpha1", "Repository", "demo-app-repo", NS)).status?.snapshotCount ?? 0) > 0,
    );
    show(await kubectl("get", "repository", "-n", NS));

    say("kubectl get snapshots (the aggregated Snapshot API)");
    operator.server.invalidate(NS, "demo-app-repo");
    const snaps = await until("snapshots", async () => {
      const out = await kubectl("get", "snapshots", "-n", NS);
      return out.includes("demo-app-repo") ? out : undefined;
    });
    show(snaps);

    say("Restoring into another Deployment: the RestoreSession gets the init-container injected");
    await kube.apply({
      apiVersion: "stash.appscode.com/v1beta1",
      kind: "RestoreSession",
      metadata: { name: "demo-restore", namespace: NS },
      spec: {
        repository: { name: "demo-app-repo" },
        target: {
          ref: { apiVersion: "apps/v1", kind: "Deployment", name: "demo-restore" },
          rules: [{ sourceHost: stats.hostname, paths: [dataDir] }],
        },
      },
    });
    await kube.apply(deployment("demo-restore", { app: "demo-restore" }));
    const restoreTarget = await until("the init-container", async () => {
      const d = await kube.get("apps/v1", "Deployment", "demo-restore", NS);
      return (d.spec.template.spec.initContainers ?? []).some((c: any) => c.name === "stash-init") ? d : undefined;
    });
    const restoreDir = join(work, "restored-data");
    mkdirSync(restoreDir, { recursive: true });
    const init = restoreTarget.spec.template.spec.initContainers.find((c: any) => c.name === "stash-init");
    const rc = await runContainer("stash-init", init, podEnv("demo-restore-5f6b7-fghij", `${dataDir}=${restoreDir}`));
    const restore = await until("the RestoreSession to finish", async () => {
      const r = await kube.get("stash.appscode.com/v1beta1", "RestoreSession", "demo-restore", NS);
      return ["Succeeded", "Failed"].includes(r.status?.phase) ? r : undefined;
    });
    show(await kubectl("get", "restoresessions", "-n", NS));
    if (rc !== 0 || restore.status.phase !== "Succeeded") throw new Error(`restore ended ${restore.status.phase}`);
    const [a, b] = [await treeHash(dataDir), await treeHash(restoreDir)];
    show(`source   tree ${a.hash.slice(0, 16)}… ${a.files} files, ${a.symlinks} symlinks, ${a.bytes} bytes`);
    show(`restored tree ${b.hash.slice(0, 16)}… ${b.files} files, ${b.symlinks} symlinks, ${b.bytes} bytes`);
    if (a.hash !== b.hash) throw new Error("the restored tree differs from the source");
    show("byte-identical: content, names, modes and symlink targets");

    say("Metrics pushed to the pushgateway (Stash's names)");
    const pushed = (await pushgateway.metrics())
      .split("\n")
      .filter(
        (l) => /^stash_backup_(session_success|host_backup_success|host_files_total)\{/.test(l) || l.startsWith("restash_backupconfiguration_last_success"),
      );
    show(pushed.slice(0, 6).join("\n"));

    say("The git note restash wrote on the synced commit (git log --notes=restash)");
    await (await operator.controllers()).policies.idle();
    git(clone, "fetch", "-q", "origin", "refs/notes/*:refs/notes/*");
    show(git(clone, "log", "--notes=restash", "-1"));

    say(`Done in ${((Date.now() - t0) / 1000).toFixed(1)} s; cleaning up`);
  } finally {
    for (const c of cleanups)
      await Promise.resolve()
        .then(c)
        .catch(() => {});
  }
}

async function main() {
  if (!process.argv.includes("--local")) {
    say("Checking that this machine can run a real node");
    const why = await nodeUnavailable((l) => show(l));
    if (!why) {
      await runNodeDemo({ say, show });
      say(`Done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return;
    }
    console.log(`\nno real node on this machine: ${why}; running the in-process demo instead`);
  } else say("In-process demo (--local)");
  await localDemo();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`\ndemo failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
