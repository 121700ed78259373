// npm run cluster:up   - start the local control plane in the background (idempotent), install
//                        restash's CRDs, write .restash/kubeconfig
// npm run cluster:up -- --node
//                      - start a real single-node cluster instead (local/node.ts: kubelet, containerd,
//                        controller-manager, scheduler, kube-proxy), with the restash, pushgateway,
//                        busybox and pause images imported; write .restash/kubeconfig
// npm run cluster:down - stop whichever is running and remove what it started
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { startControlPlane, stopProcesses, type ControlPlaneInfo } from "../local/control-plane.ts";
import { installCRDs } from "../schema/install.ts";
import { Kube } from "../lib/kube/client.ts";
import { startNode, stopNode, nodeRunning, readNodeInfo, restashImages, DEFAULT_NODE_DIR } from "../local/node.ts";

const root = resolve(import.meta.dirname, "..");
const stateDir = join(root, ".restash");
const stateFile = join(stateDir, "cluster.json");
const kubeconfigOut = join(stateDir, "kubeconfig");

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function readState(): ControlPlaneInfo | null {
  if (!existsSync(stateFile)) return null;
  try {
    return JSON.parse(readFileSync(stateFile, "utf8")) as ControlPlaneInfo;
  } catch {
    return null;
  }
}

async function healthy(state: ControlPlaneInfo): Promise<boolean> {
  if (!alive(state.etcdPid) || !alive(state.apiserverPid)) return false;
  try {
    await Kube.fromFile(state.kubeconfig).request("/readyz");
    return true;
  } catch {
    return false;
  }
}

export async function up(log: (l: string) => void = (l) => console.error(l)): Promise<ControlPlaneInfo> {
  mkdirSync(stateDir, { recursive: true });
  const existing = readState();
  if (existing && (await healthy(existing))) {
    log(`local control plane already running at ${existing.server}`);
  } else {
    if (existing) await down(() => {});
    const dir = join(stateDir, "cluster");
    rmSync(dir, { recursive: true, force: true });
    const cp = await startControlPlane({ dir, detached: true, log });
    const { kubeconfigFor: _k, stop: _s, ...info } = cp;
    writeFileSync(stateFile, JSON.stringify(info, null, 2));
  }
  const state = readState()!;
  copyFileSync(state.kubeconfig, kubeconfigOut);
  const crds = await installCRDs(Kube.fromFile(kubeconfigOut));
  log(`${crds.length} CRDs installed; kubeconfig: ${kubeconfigOut}`);
  log(`try: kubectl --kubeconfig ${kubeconfigOut} get crds`);
  return state;
}

export async function upNode(log: (l: string) => void = (l) => console.error(l)): Promise<void> {
  mkdirSync(stateDir, { recursive: true });
  let info = await nodeRunning();
  if (info) log(`node ${info.nodeName} already running at ${info.server}`);
  else {
    const t0 = Date.now();
    info = await startNode({ log, images: restashImages(log) });
    log(`node started in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }
  copyFileSync(info.kubeconfig, kubeconfigOut);
  log(`kubeconfig: ${kubeconfigOut}`);
  // The images are imported under the names deploy/operator.yaml uses: IfNotPresent never pulls them.
  log(`deploy restash: kubectl --kubeconfig ${kubeconfigOut} apply --server-side -k .`);
}

/** Stops the node, if one was started (or a killed one left its state directory). */
export async function downNode(log: (l: string) => void = (l) => console.error(l)): Promise<void> {
  if (!readNodeInfo() && !existsSync(DEFAULT_NODE_DIR)) return;
  await stopNode(DEFAULT_NODE_DIR, log);
  rmSync(kubeconfigOut, { force: true });
}

export async function down(log: (l: string) => void = (l) => console.error(l)): Promise<void> {
  const state = readState();
  if (state) {
    await stopProcesses([state.apiserverPid, state.etcdPid].filter(alive));
    rmSync(state.dir, { recursive: true, force: true });
    log(`stopped the local control plane at ${state.server}`);
  } else {
    log("no local control plane is running");
  }
  rmSync(stateFile, { force: true });
  rmSync(kubeconfigOut, { force: true });
}

if (import.meta.main) {
  const cmd = process.argv[2];
  try {
    if (cmd === "up" && process.argv.includes("--node")) await upNode();
    else if (cmd === "up") await up();
    else if (cmd === "down") {
      await downNode();
      await down();
    } else {
      console.error("usage: node scripts/cluster.ts up [--node] | down");
      process.exit(2);
    }
  } catch (e) {
    console.error(`cluster ${cmd}: ${(e as Error).message}`);
    process.exit(1);
  }
}
