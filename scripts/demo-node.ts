// `npm run demo` on a real node: restash deployed as users deploy it (`kubectl apply --server-side -k .`,
// the operator as a pod), a policy Git repository from fixtures/demo served by `git daemon` on the node
// address, the sync, the backup taken by the real CronJob and the injected sidecar into MinIO,
// `kubectl get snapshots` through the operator pod's APIService, a restore by the init-container
// checked byte for byte, and the git note the operator pushed back.
//
// A node already running (`npm run cluster:up -- --node`) is used and left running; otherwise one is
// started with local/node.ts (as scripts/cluster.ts and testing/node.ts do) and stopped at the end.
//
//   nodeUnavailable() -> reason | undefined    openNode(step) -> DemoNode    deployRestash(n, step)
//   runNodeDemo(step)
import { grantStash } from "../testing/gitops-fixture.ts";
import { execFile, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { Kube } from "../lib/kube/client.ts";
import { NODE, NodeStartError, importImage, nodeRunning, resolveNodeBinaries, restashImages, startNode, stopNode, type NodeInfo } from "../local/node.ts";
import { startMinio, toolsDir } from "../testing/services.ts";

const root = resolve(import.meta.dirname, "..");
const run = promisify(execFile);

/** Prints one step line (with the seconds since the start) and indented detail lines. */
export interface Steps {
  say(msg: string): void;
  show(text: string): void;
}

export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 120_000, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const v = await probe().catch((e) => void (last = e));
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (${(last as Error).message})` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Why this machine cannot run the node (one line), or undefined when it can: a running node, or root,
 * writable cgroups, overlayfs and the node binaries (scripts/build-node.sh builds them when Go is there).
 */
export async function nodeUnavailable(log: (l: string) => void = () => {}): Promise<string | undefined> {
  if (await nodeRunning()) return undefined;
  if (process.getuid?.() !== 0) return "starting a node needs root (network devices, routes, nftables, mounts, cgroups)";
  const cg = "/sys/fs/cgroup";
  const probe = join(cg, existsSync(join(cg, "memory")) ? "memory" : "", `restash-demo-probe-${process.pid}`);
  try {
    mkdirSync(probe);
    rmdirSync(probe);
  } catch (e) {
    return `cgroups are not writable here (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}), so kubelet cannot start containers`;
  }
  if (!readFileSync("/proc/filesystems", "utf8").includes("overlay")) return "the kernel has no overlayfs for containerd's snapshotter";
  try {
    resolveNodeBinaries(log);
  } catch (e) {
    return `the node binaries (kubelet, containerd, runc) are missing and scripts/build-node.sh could not build them: ${firstLine(e)}`;
  }
  return undefined;
}

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).trim().split("\n")[0];

export interface DemoNode {
  node: NodeInfo;
  /** This process started the node (and stops it in close()). */
  owned: boolean;
  /** The archives imported into it: [tar, image name] (none with RESTASH_NODE_KEEP_IMAGES=1). */
  images: Array<[string, string]>;
  kube: Kube;
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** `url` (a 127.0.0.1 service) as pods reach it: a TCP relay on the node address. */
  reachableFromPods(url: string): Promise<string>;
  close(): Promise<void>;
}

/** The running node, or one started here, with the current restash and pushgateway images imported. */
export async function openNode(steps: Steps): Promise<DemoNode> {
  let node: NodeInfo | null = await nodeRunning();
  // RESTASH_NODE_KEEP_IMAGES=1, as for the node tests: a running node's images are used as they are.
  const keep = node && process.env.RESTASH_NODE_KEEP_IMAGES === "1";
  steps.say(
    keep ? "Using the node's images as they are (RESTASH_NODE_KEEP_IMAGES=1)" : "Building the restash and pushgateway images (scripts/build-image.sh, cached)",
  );
  let images = keep ? [] : restashImages((l) => steps.show(l));
  let owned = false;
  if (node) {
    steps.say(`Using the running node ${node.nodeName} at ${node.server} (left running)`);
    for (let attempt = 1; ; attempt++) {
      try {
        for (const [tar, name] of images) importImage(node, tar, name);
        break;
      } catch (e) {
        // A build for newer inputs (another checkout's change, made meanwhile) replaces the archive: build again.
        if (attempt === 3 || !/no such file/.test((e as Error).message)) throw e;
        images = restashImages((l) => steps.show(l));
      }
    }
    if (images.length) steps.show(`imported ${images.map(([, n]) => n).join(", ")}`);
  } else {
    steps.say("Starting a node: etcd, kube-apiserver, controller-manager, scheduler, containerd, kubelet, kube-proxy (stopped at the end)");
    node = await startNode({ log: (l) => steps.show(l), images });
    owned = true;
  }
  const info = node;
  const relays: Server[] = [];
  return {
    node: info,
    owned,
    images,
    kube: Kube.fromFile(info.kubeconfig),
    async kubectl(args, opts = {}) {
      const p = run(join(info.binDir, "kubectl"), args, {
        env: { PATH: process.env.PATH ?? "", KUBECONFIG: info.kubeconfig, KUBECACHEDIR: join(info.dir, "kubectl-cache") },
        timeout: opts.timeoutMs ?? 60_000,
        maxBuffer: 64 * 1024 * 1024,
      });
      if (opts.input !== undefined) p.child.stdin?.end(opts.input);
      try {
        return (await p).stdout;
      } catch (e) {
        const err = e as Error & { stderr?: string };
        throw new Error(`kubectl ${args.join(" ")}: ${err.stderr?.trim() || err.message}`, { cause: e });
      }
    },
    async reachableFromPods(url) {
      const target = new URL(url);
      const server = createServer((client) => {
        const upstream = connect(Number(target.port), target.hostname);
        client.pipe(upstream).pipe(client);
        const close = () => (client.destroy(), upstream.destroy());
        client.on("error", close);
        upstream.on("error", close);
      });
      await new Promise<void>((res, rej) => server.once("error", rej).listen(0, NODE.nodeIP, () => res()));
      relays.push(server);
      const addr = server.address();
      return `${target.protocol}//${NODE.nodeIP}:${typeof addr === "object" && addr ? addr.port : 0}`;
    },
    async close() {
      for (const r of relays.splice(0)) r.close();
      if (owned) {
        steps.say("Stopping the node this demo started");
        await stopNode(info.dir);
      }
    },
  };
}

/** The image ID (config digest) of an OCI archive from scripts/build-image.sh: what a pod's imageID reports. */
function archiveImageId(tar: string): string {
  const blob = (digest: string) => JSON.parse(execFileSync("tar", ["-xOf", tar, `./blobs/sha256/${digest.replace(/^sha256:/, "")}`], { encoding: "utf8" }));
  const index = JSON.parse(execFileSync("tar", ["-xOf", tar, "./index.json"], { encoding: "utf8" }));
  return blob(index.manifests[0].digest).config.digest;
}

/**
 * `kubectl apply --server-side -k .`, once, as the README tells users; the operator pod restarted when it
 * runs an older image than the one just imported; then Ready: the Snapshot APIService Available and
 * the catalog (Functions and Tasks) installed by the operator.
 */
export async function deployRestash(n: DemoNode, steps: Steps): Promise<void> {
  steps.say("Deploying restash: kubectl apply --server-side -k .");
  const out = await n.kubectl(["apply", "--server-side", "--force-conflicts", "-k", root], { timeoutMs: 120_000 });
  steps.show(`${out.trim().split("\n").length} objects applied`);
  const pods = async () =>
    (await n.kube.list<any>("v1", "Pod", "restash", "app.kubernetes.io/component=operator")).items.filter((p) => !p.metadata.deletionTimestamp);
  const tar = n.images.find(([, name]) => name.startsWith("ghcr.io/restash/restash:"))?.[0];
  if (tar) {
    const want = archiveImageId(tar);
    const stale = (await pods()).some((p) => (p.status?.containerStatuses ?? []).some((c: any) => c.name === "operator" && c.imageID !== want));
    if (stale) {
      steps.say("Restarting the operator pod onto the image just imported");
      await n.kubectl(["-n", "restash", "rollout", "restart", "deployment/restash-operator"]);
    }
  }
  await n.kubectl(["-n", "restash", "rollout", "status", "deployment/restash-operator", "--timeout=180s"], { timeoutMs: 200_000 });
  steps.say("Waiting for the operator: Snapshot APIService Available, Functions and Tasks installed");
  await until(
    "the Snapshot APIService Available",
    async () => {
      const a = await n.kube.request<any>("/apis/apiregistration.k8s.io/v1/apiservices/v1alpha1.repositories.stash.appscode.com");
      return a.status?.conditions?.some((c: any) => c.type === "Available" && c.status === "True");
    },
    180_000,
  );
  await until("the catalog's Tasks", async () => (await n.kube.list("stash.appscode.com/v1beta1", "Task")).items.length >= 4, 120_000);
  steps.show(await n.kubectl(["-n", "restash", "get", "pods"]));
  steps.show(await n.kubectl(["get", "tasks"]));
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

/** Files of several kinds the app container writes into its volume: text, random binary, empty, nested, a symlink. */
const FILL = [
  "mkdir -p /data/docs/deep/er /data/media",
  'for i in $(seq 1 40); do echo "line $i: the demo app keeps its state here" > /data/docs/note-$i.txt; done',
  "for i in 1 2 3; do head -c $((i*1500000)) /dev/urandom > /data/media/blob-$i.bin; done",
  "head -c 20000 /dev/urandom > /data/docs/deep/er/small.bin && : > /data/docs/empty",
  "ln -s docs/note-1.txt /data/latest-note",
  "touch /tmp/filled",
].join(" && ");

const deployment = (namespace: string, name: string, fill: boolean) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, namespace, labels: { app: name } },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: {
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: "app",
            image: "docker.io/library/busybox:1.35",
            command: ["sh", "-c", `${fill ? FILL + " && " : ""}exec sleep 36000`],
            volumeMounts: [{ name: "data", mountPath: "/data" }],
          },
        ],
        volumes: [{ name: "data", emptyDir: {} }],
      },
    },
  },
});

/** The Running, ready pod of a Deployment whose spec has `container` among `kind`. */
export function runningPod(kube: Kube, namespace: string, app: string, container: string, kind: "containers" | "initContainers" = "containers"): Promise<any> {
  return until(
    `a Running pod of ${app} with ${container}`,
    async () =>
      (await kube.list<any>("v1", "Pod", namespace, `app=${app}`)).items.find(
        (p) =>
          !p.metadata.deletionTimestamp &&
          p.status?.phase === "Running" &&
          p.spec[kind]?.some((c: any) => c.name === container) &&
          p.status.containerStatuses?.every((c: any) => c.ready),
      ),
    180_000,
    250,
  );
}

export async function runNodeDemo(steps: Steps): Promise<void> {
  const { say, show } = steps;
  process.env.PATH = `${toolsDir()}:${process.env.PATH}`;
  const work = mkdtempSync(join(tmpdir(), "restash-demo-node-"));
  const cleanups: (() => Promise<unknown> | unknown)[] = [() => rmSync(work, { recursive: true, force: true })];
  try {
    const n = await openNode(steps);
    cleanups.unshift(() => n.close());
    await deployRestash(n, steps);
    const { kube, kubectl } = n;
    const NS = `demo-${randomBytes(3).toString("hex")}`;

    say("Starting MinIO (S3) on this machine, reached from pods through the node address");
    const minio = await startMinio({ dir: join(work, "minio") });
    cleanups.unshift(() => minio.stop());
    await minio.createBucket("backups");
    const s3 = await n.reachableFromPods(minio.endpoint);
    show(`S3 ${minio.endpoint}, from pods ${s3}`);

    say(`Namespace ${NS}, the backend Secret (created outside Git), and the service account the policy sync acts as`);
    cleanups.unshift(() => kubectl(["delete", "namespace", NS, "--wait=false"]).catch(() => {}));
    await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
    await until(`ServiceAccount ${NS}/default`, () => kube.getOrNull("v1", "ServiceAccount", "default", NS), 30_000, 100);
    await kube.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "s3-credentials", namespace: NS },
      stringData: { RESTIC_PASSWORD: randomBytes(12).toString("hex"), AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: minio.secretKey },
    });
    // The policy sync acts as this service account: it may manage the Stash kinds the policies render.
    await grantStash(kube, NS, "policy-sync", ["repositories", "backupconfigurations", "restoresessions"]);

    say("Creating the policy Git repository from fixtures/demo/policies, served by git daemon on the node address");
    const bare = join(work, "git", "policies.git");
    const clone = join(work, "policies");
    mkdirSync(join(work, "git"));
    git(work, "init", "-q", "--bare", "-b", "main", bare);
    git(bare, "config", "daemon.receivepack", "true");
    execFileSync("git", ["clone", "-q", bare, clone], { stdio: "ignore" });
    cpSync(join(root, "fixtures/demo/policies"), clone, { recursive: true });
    // The demo's edits to the fixture: its namespace, the S3 endpoint pods reach, a schedule the real
    // CronJob fires within a minute, and the app's data volume (mounted into the sidecar).
    const edit = (f: string, pairs: [string | RegExp, string][]) => {
      let text = readFileSync(join(clone, f), "utf8");
      for (const [a, b] of pairs) text = text.replace(a, b);
      writeFileSync(join(clone, f), text);
    };
    edit("defaults.yaml", [
      [/^ {2}namespace: demo$/m, `  namespace: ${NS}`],
      [/^ {2}schedule: .*$/m, '  schedule: "*/1 * * * *"'],
      ["${S3_ENDPOINT}", s3],
    ]);
    edit("demo-app.yaml", [[/^ {2}paths: .*$/m, "  volumeMounts: [{ name: data, mountPath: /data }]\n  paths: [/data]"]]);
    git(clone, "add", "-A");
    git(clone, "commit", "-q", "-m", "Back up demo-app every minute to S3");
    git(clone, "push", "-q", "origin", "main");
    show(git(clone, "log", "--oneline", "-1") + git(clone, "ls-files"));
    const port = await new Promise<number>((res, rej) => {
      const s = createServer().once("error", rej);
      s.listen(0, NODE.nodeIP, () => {
        const a = s.address();
        s.close(() => res(typeof a === "object" && a ? a.port : 0));
      });
    });
    const daemon = spawn(
      "git",
      ["daemon", "--reuseaddr", "--export-all", "--enable=receive-pack", `--base-path=${join(work, "git")}`, `--listen=${NODE.nodeIP}`, `--port=${port}`],
      { stdio: "ignore" },
    );
    cleanups.unshift(() => daemon.kill());
    await until(
      "git daemon",
      () =>
        new Promise<boolean>((r) =>
          connect(port, NODE.nodeIP)
            .once("connect", function (this: any) {
              this.end();
              r(true);
            })
            .once("error", () => r(false)),
        ),
      30_000,
      100,
    );
    const url = `git://${NODE.nodeIP}:${port}/policies.git`;
    show(url);

    say("Creating a PolicySource: the operator pod fetches the repository and applies it as policy-sync");
    await kube.apply({
      apiVersion: "restash.dev/v1alpha1",
      kind: "PolicySource",
      metadata: { name: "backup-policies", namespace: NS },
      spec: { url, branch: "main", interval: "1m", serviceAccountName: "policy-sync", prune: true },
    });
    let seen: any;
    const source = await until("the PolicySource to be Ready", async () => {
      seen = await kube.get<any>("restash.dev/v1alpha1", "PolicySource", "backup-policies", NS);
      return (seen.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True") ? seen : undefined;
    }).catch((e) => {
      throw new Error(`${e.message}: ${JSON.stringify(seen?.status?.conditions ?? seen?.status)}`);
    });
    show(`applied ${source.status.lastAppliedRevision}`);
    show(await kubectl(["get", "policysources,repositories,backupconfigurations", "-n", NS]));

    say("Creating Deployment demo-app: the mutating webhook injects the backup sidecar into its pod");
    await kube.apply(deployment(NS, "demo-app", true));
    const pod = await runningPod(kube, NS, "demo-app", "stash");
    show(await kubectl(["get", "pod", pod.metadata.name, "-n", NS, "-o", 'jsonpath={range .spec.containers[*]}{.name}{"\\t"}{.image}{"\\n"}{end}']));
    const checksums = (p: string) =>
      kubectl(["-n", NS, "exec", p, "-c", "app", "--", "sh", "-c", "cd /data && find . -type f | sort | xargs sha256sum && find . -type l | sort"]);
    // Ready as soon as it starts: the files are all there once the app has written its marker.
    await until(
      "the app's data written",
      () => kubectl(["-n", NS, "exec", pod.metadata.name, "-c", "app", "--", "test", "-f", "/tmp/filled"]).then(() => true),
      120_000,
    );
    const sums = await checksums(pod.metadata.name);
    show(`app data: ${sums.trim().split("\n").length - 1} files and a symlink in the pod's emptyDir`);
    await until("the trigger CronJob", async () => (await kube.list("batch/v1", "CronJob", NS)).items.length > 0);
    show(await kubectl(["get", "cronjobs", "-n", NS]));

    say("Waiting for the real CronJob to fire (at the next minute): its Job creates a BackupSession, the sidecar backs up");
    // The first one to end: a later minute's session is Skipped while that one still runs (Stash's rule).
    const session = await until(
      "a BackupSession that ended",
      async () =>
        (await kube.list<any>("stash.appscode.com/v1beta1", "BackupSession", NS)).items.find((s) => ["Succeeded", "Failed"].includes(s.status?.phase)),
      300_000,
    );
    show(await kubectl(["get", "jobs,backupsessions", "-n", NS]));
    if (session.status.phase !== "Succeeded")
      throw new Error(`backup ${session.metadata.name} ended ${session.status.phase}: ${JSON.stringify(session.status)}`);
    const stats = session.status.targets[0].stats[0];
    show(
      `host ${stats.hostname}: snapshot ${stats.snapshots[0].name} of ${stats.snapshots[0].path}, ${stats.snapshots[0].totalSize}, ${stats.snapshots[0].fileStats.totalFiles} files`,
    );

    say("kubectl get snapshots (the Snapshot API, served by the operator pod behind its APIService)");
    const snaps = await until("snapshots", async () => {
      const out = await kubectl(["get", "snapshots", "-n", NS]);
      return out.includes("demo-app-repo") ? out : undefined;
    });
    show(snaps);

    say("Restoring into Deployment demo-restore: the RestoreSession's init-container restores before the app starts");
    await kube.apply({
      apiVersion: "stash.appscode.com/v1beta1",
      kind: "RestoreSession",
      metadata: { name: "demo-restore", namespace: NS },
      spec: {
        repository: { name: "demo-app-repo" },
        target: {
          ref: { apiVersion: "apps/v1", kind: "Deployment", name: "demo-restore" },
          volumeMounts: [{ name: "data", mountPath: "/data" }],
          rules: [{ sourceHost: stats.hostname, paths: ["/data"] }],
        },
      },
    });
    await kube.apply(deployment(NS, "demo-restore", false));
    const restore = await until(
      "the RestoreSession to finish",
      async () => {
        const r = await kube.get<any>("stash.appscode.com/v1beta1", "RestoreSession", "demo-restore", NS);
        return ["Succeeded", "Failed"].includes(r.status?.phase) ? r : undefined;
      },
      180_000,
    );
    show(await kubectl(["get", "restoresessions", "-n", NS]));
    if (restore.status.phase !== "Succeeded") throw new Error(`restore ended ${restore.status.phase}: ${JSON.stringify(restore.status)}`);
    const restored = await runningPod(kube, NS, "demo-restore", "stash-init", "initContainers");
    if ((await checksums(restored.metadata.name)) !== sums) throw new Error("the restored files differ from the source");
    show("byte-identical: the restored pod's app container reads the same sha256 of every file, and the symlink");

    say("The git note the operator pushed onto the synced commit (git log --notes=restash)");
    const note = await until(
      "the backup result in the git note",
      async () => {
        const log = git(bare, "log", "--notes=restash", "-1", "main");
        return log.includes('"kind":"backup"') ? log : undefined;
      },
      90_000,
      1000,
    );
    show(note);
    say(`Cleaning up (namespace ${NS}, MinIO, git daemon${n.owned ? ", the node" : ""})`);
  } finally {
    for (const c of cleanups)
      await Promise.resolve()
        .then(c)
        .catch(() => {});
  }
}

export { NodeStartError };
