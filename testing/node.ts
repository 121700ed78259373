// One real node per test process (local/node.ts), with restash deployed on it as users deploy it
// (`kubectl apply --server-side -k .`, the images imported under the names deploy/operator.yaml uses); a fresh namespace per test.
// A node already started by `npm run cluster:up -- --node` is used as it is and left running.
//
//   nodeCluster() -> NodeCluster         the process-wide node, restash Ready on it
//   nodeNamespace(prefix) -> { ..., namespace }
//   kubectl(args, opts?) -> stdout       kubectl against the node (its own discovery cache)
//   reachableFromPods(url) -> url        a 127.0.0.1 service (MinIO, ...) relayed on the node address
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer, connect, type Server } from "node:net";
import { join, resolve } from "node:path";
import { after } from "node:test";
import { promisify } from "node:util";
import { Kube } from "../lib/kube/client.ts";
import { APP_IMAGE_TARGETS, NODE, importImage, nodeImages, nodeRunning, restashImages, startNode, stopNode, type NodeInfo } from "../local/node.ts";
import { eventually } from "./eventually.ts";

const repoRoot = resolve(import.meta.dirname, "..");
const run = promisify(execFile);

export interface NodeCluster {
  node: NodeInfo;
  kube: Kube;
  /** Seconds each step took: node start, images, deploy, operator Ready. */
  timings: Record<string, number>;
}

let shared: Promise<NodeCluster> | undefined;
let ownsNode = false;
const relays: Server[] = [];

after(() => stopNodeCluster());

const verbose = (l: string) => {
  if (process.env.RESTASH_TEST_VERBOSE) console.error(`[node] ${l}`);
};

export async function kubectl(node: NodeInfo, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const p = run(join(node.binDir, "kubectl"), args, {
    env: { PATH: process.env.PATH ?? "", KUBECONFIG: node.kubeconfig, KUBECACHEDIR: join(node.dir, "kubectl-cache") },
    timeout: opts.timeoutMs ?? 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (opts.input !== undefined) {
    p.child.stdin?.end(opts.input);
  }
  try {
    return (await p).stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string; stdout?: string };
    throw new Error(`kubectl ${args.join(" ")}: ${err.stderr?.trim() || err.message}`, { cause: e });
  }
}

/** The process-wide node with restash deployed and Ready on it. */
export function nodeCluster(): Promise<NodeCluster> {
  shared ??= (async () => {
    const timings: Record<string, number> = {};
    let t = Date.now();
    const lap = (k: string) => {
      timings[k] = (Date.now() - t) / 1000;
      t = Date.now();
    };
    let node = await nodeRunning();
    // RESTASH_NODE_KEEP_IMAGES=1: a running node's images are used as they are (e.g. an image built by hand).
    const keep = node && process.env.RESTASH_NODE_KEEP_IMAGES === "1";
    // Kept or not, an application image the node lacks (a node started before it existed) is imported.
    const images = keep ? restashImages(verbose, APP_IMAGE_TARGETS).filter(([, n]) => !nodeImages(node!).has(n)) : restashImages(verbose);
    lap("images");
    if (node) {
      verbose(`using the running node at ${node.server}`);
      // A node from cluster:up has the images of its time: import the current ones.
      for (const [tar, name] of images) importImage(node, tar, name);
    } else {
      node = await startNode({ log: verbose, images });
      ownsNode = true;
    }
    lap("node");
    const kube = Kube.fromFile(node.kubeconfig);
    await deployRestash(node);
    // A pod keeps the image it started with: one re-imported under the same name needs a new pod.
    if (!ownsNode && images.some(([, n]) => n.startsWith("ghcr.io/restash/"))) {
      await kubectl(node, ["-n", "restash", "rollout", "restart", "deployment/restash-operator"]);
      await kubectl(node, ["-n", "restash", "rollout", "status", "deployment/restash-operator", "--timeout=180s"], { timeoutMs: 200_000 });
    }
    lap("deploy");
    await eventually(
      "the Snapshot APIService Available",
      async () => {
        const a = await kube.request<any>("/apis/apiregistration.k8s.io/v1/apiservices/v1alpha1.repositories.stash.appscode.com");
        return a.status?.conditions?.some((c: any) => c.type === "Available" && c.status === "True");
      },
      120_000,
      250,
    );
    lap("operatorReady");
    verbose(`restash Ready on the node: ${JSON.stringify(timings)}`);
    return { node, kube, timings };
  })();
  return shared;
}

/**
 * `kubectl apply --server-side -k .`, once, as users deploy restash: it must succeed the first time
 * (the catalog's Functions and Tasks are not in it; the operator installs them once it serves).
 */
async function deployRestash(node: NodeInfo) {
  await kubectl(node, ["apply", "--server-side", "--force-conflicts", "-k", repoRoot], { timeoutMs: 120_000 });
  await kubectl(node, ["-n", "restash", "rollout", "status", "deployment/restash-operator", "--timeout=180s"], { timeoutMs: 200_000 });
  const kube = Kube.fromFile(node.kubeconfig);
  await eventually(
    "restash's Functions and Tasks installed by the operator",
    async () => (await kube.list("stash.appscode.com/v1beta1", "Task")).items.length >= 4,
    120_000,
    500,
  );
}

/** Stops the node if this process started it (after the last test of the process). */
export async function stopNodeCluster(): Promise<void> {
  for (const r of relays.splice(0)) r.close();
  if (!shared) return;
  const c = await shared.catch(() => undefined);
  shared = undefined;
  if (c && ownsNode) await stopNode(c.node.dir);
}

export interface NodeNamespace extends NodeCluster {
  namespace: string;
}

/** A namespace of its own for one test, on the shared node, with its default ServiceAccount in place. */
export async function nodeNamespace(prefix = "t"): Promise<NodeNamespace> {
  const c = await nodeCluster();
  const namespace = `${prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .slice(0, 40)}-${randomBytes(3).toString("hex")}`;
  await c.kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
  // Pods are refused until the namespace's default ServiceAccount exists.
  await eventually(`ServiceAccount ${namespace}/default`, () => c.kube.getOrNull("v1", "ServiceAccount", "default", namespace), 30_000, 100);
  return { ...c, namespace };
}

/**
 * `url` (a service on 127.0.0.1) as pods reach it: a TCP relay on the node address, which is local
 * to this machine. Bytes pass unchanged (a signed S3 request names the relay's host and still verifies).
 */
export async function reachableFromPods(url: string): Promise<string> {
  const target = new URL(url);
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close);
    upstream.on("error", close);
  });
  server.unref();
  await new Promise<void>((res, rej) => {
    server.once("error", rej);
    server.listen(0, NODE.nodeIP, () => res());
  });
  relays.push(server);
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return `${target.protocol}//${NODE.nodeIP}:${port}`;
}

/** The first BackupSession of the namespace to end (Succeeded or Failed), however it was made: on
 *  the node the real CronJob's Job creates it, at the next minute. */
export function endedBackupSession(w: NodeNamespace, timeoutMs = 180_000): Promise<any> {
  return eventually(
    "a BackupSession that ended",
    async () => {
      const list = (await w.kube.list<any>("stash.appscode.com/v1beta1", "BackupSession", w.namespace)).items;
      return list.find((s) => ["Succeeded", "Failed"].includes(s.status?.phase));
    },
    timeoutMs,
    500,
  );
}
