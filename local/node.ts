// A real single-node cluster as plain processes: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, containerd (+ Debian's runc and CNI plugins), kubelet and kube-proxy, all on
// addresses made here (a port-less bridge holds the node address; pods live on their own bridge).
//
// No packet may leave the machine: before any component starts, blackhole routes cover the pod,
// Service and node ranges, an nftables table whose hooks run before everyone else's (priority
// -300, ahead of kube-proxy's ACCEPTs) drops what would be forwarded or sent from those ranges
// toward any other interface, and every registry resolves to a closed loopback port.
//
// Stopping leaves nothing behind (processes, mounts, links, routes, rules, cgroups, files, the
// sysctls kubelet and the bridge change); a run that was killed is cleaned by the next start.
//
//   startNode(opts?) -> RunningNode     stopNode(dir?)     nodeRunning(dir?)
//   importImage(node, tar, name)        restashImages() -> [archive, name][]     nodeImages(node) -> names
import { spawn, execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  openSync,
  closeSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
  rmdirSync,
  realpathSync,
  lstatSync,
  cpSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { Agent, request } from "node:https";
import { get as httpGet } from "node:http";
import { createCA, issueCertificate, createSigningKey, type CertificateAuthority } from "../lib/pki.ts";
import { kubeconfigYaml } from "./control-plane.ts";

const repoRoot = resolve(import.meta.dirname, "..");

/** Fixed names and ranges: a stale run must be found again by the next start, whoever started it. */
export const NODE = {
  name: "restash-node",
  /** Port-less bridge holding the node address (this kernel has no dummy interfaces). */
  hostLink: "restash-host",
  /** The pods' bridge (CNI bridge plugin). */
  podLink: "restash-cni0",
  nodeIP: "10.87.0.1",
  nodeRange: "10.87.0.0/16",
  podRange: "10.88.0.0/16",
  podGateway: "10.88.0.1",
  serviceRange: "10.96.0.0/16",
  kubernetesServiceIP: "10.96.0.1",
  apiPort: 6443,
  etcdPort: 12379,
  etcdPeerPort: 12380,
  nftTable: "restash_guard",
  cniNetwork: "restash",
} as const;

export const DEFAULT_NODE_DIR = "/var/lib/restash-node";
/** Ports the components listen on (any address): a taken one fails the start before anything runs. */
const PORTS: Record<number, string> = {
  [NODE.apiPort]: "kube-apiserver",
  [NODE.etcdPort]: "etcd",
  [NODE.etcdPeerPort]: "etcd (peer)",
  10248: "kubelet healthz",
  10249: "kube-proxy metrics",
  10250: "kubelet",
  10256: "kube-proxy healthz",
  10257: "kube-controller-manager",
  10259: "kube-scheduler",
};
/** Stop order: consumers first, so nothing restarts what is being taken down. */
const STOP_GROUPS = [["kube-proxy", "kubelet", "kube-scheduler", "kube-controller-manager"], ["kube-apiserver"], ["etcd"], ["containerd"]];
const STOP_ORDER = STOP_GROUPS.flat();
/** Host settings kubelet, kube-proxy or the CNI bridge change: recorded before the start, restored by stop. */
const SYSCTLS = [
  "vm/overcommit_memory",
  "kernel/panic",
  "kernel/panic_on_oops",
  "net/ipv4/ip_forward",
  "net/ipv4/conf/all/route_localnet",
  "net/netfilter/nf_conntrack_max",
  "net/bridge/bridge-nf-call-iptables",
  "net/bridge/bridge-nf-call-ip6tables",
];
/** Paths the components write whatever their flags say; removed by stop unless they were there before. */
const OUTSIDE_PATHS = [
  "/var/log/containers",
  "/var/log/pods",
  "/var/lib/kubelet",
  "/var/lib/cni",
  "/run/containerd",
  "/opt/containerd",
  "/var/run/nri",
  "/run/nri",
  "/run/mount",
];
const CGROUP_ROOT = "/sys/fs/cgroup";
const REGISTRIES = ["_default", "docker.io", "registry.k8s.io", "ghcr.io", "quay.io", "gcr.io", "mcr.microsoft.com", "public.ecr.aws"];

export interface NodeOptions {
  /** State directory (certificates, etcd data, containerd root, logs). Default /var/lib/restash-node. */
  dir?: string;
  /** Directory from scripts/build-node.sh. Default: built or reused by it. */
  binDir?: string;
  log?: (line: string) => void;
  /** OCI archives imported before kubelet starts: [tar, image name]. pause and busybox are always imported. */
  images?: Array<[string, string]>;
}

export interface NodeInfo {
  dir: string;
  binDir: string;
  server: string;
  kubeconfig: string;
  nodeName: string;
  nodeIP: string;
  containerdAddress: string;
  pids: Record<string, number>;
  caCert: string;
  startedAt: string;
}

export interface RunningNode extends NodeInfo {
  /** Environment for kubectl against this node (its own discovery cache, inside the state directory). */
  kubectlEnv: Record<string, string>;
  stop(): Promise<void>;
}

interface Baseline {
  sysctls: Record<string, string>;
  paths: string[];
  nftTables: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Alive and not a zombie: a component whose parent is gone is reaped by PID 1 whenever it gets to it. */
function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] !== "Z";
  } catch {
    return false;
  }
}

async function stopPids(pids: number[], timeoutMs: number) {
  const signal = (sig: NodeJS.Signals) => {
    for (const p of pids) {
      try {
        process.kill(p, sig);
      } catch {
        /* gone */
      }
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + timeoutMs;
  while (pids.some(running) && Date.now() < deadline) await sleep(25);
  if (pids.some(running)) signal("SIGKILL");
  while (pids.some(running)) await sleep(25);
}

function run(cmd: string, args: string[], opts: { allowFail?: boolean; input?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", input: opts.input, env: opts.env ?? process.env, timeout: 30_000 });
  if (r.error && !opts.allowFail) throw new Error(`${cmd} ${args.join(" ")}: ${r.error.message}`);
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${(r.stderr || r.stdout).trim()}`);
  return r.stdout ?? "";
}

/** Runs scripts/build-node.sh (cached after the first time) and returns the directory it prints. */
export function resolveNodeBinaries(log: (l: string) => void = () => {}): string {
  const out = execFileSync("bash", [join(repoRoot, "scripts/build-node.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const dir = out.trim().split("\n").pop() ?? "";
  if (!existsSync(join(dir, "kubelet"))) throw new Error(`no kubelet in ${dir}`);
  log(`node binaries: ${dir}`);
  return dir;
}

// ------------------------------------------------------------------------------------------ checks

class NodeStartError extends Error {}
const fail = (what: string, todo: string): never => {
  throw new NodeStartError(`cannot start the node: ${what}. ${todo}`);
};

function listeningPorts(): Set<number> {
  const ports = new Set<number>();
  for (const f of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    if (!existsSync(f)) continue;
    for (const line of readFileSync(f, "utf8").split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === "0A") ports.add(parseInt(cols[1]!.split(":")[1]!, 16));
    }
  }
  return ports;
}

/** What a start needs from the machine, checked before anything is changed on it. */
function preflight(binDir: string) {
  if (process.getuid?.() !== 0) fail("it needs root (network devices, routes, nftables, mounts, cgroups)", "Run it as root.");
  for (const b of [
    "kube-apiserver",
    "kubelet",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
    "etcd",
    "containerd",
    "containerd-shim-runc-v2",
    "ctr",
    "runc",
  ]) {
    if (!existsSync(join(binDir, b))) fail(`${b} is missing from ${binDir}`, "Run bash scripts/build-node.sh.");
  }
  for (const [tool, pkg] of [
    ["ip", "iproute2"],
    ["nft", "nftables"],
    ["iptables", "iptables"],
    ["umount", "mount"],
  ] as const) {
    if (!run("sh", ["-c", `command -v ${tool}`], { allowFail: true }).trim())
      fail(`${tool} is not installed`, `apt-get install ${pkg} (scripts/build-node.sh does).`);
  }
  if (!existsSync("/usr/lib/cni/bridge"))
    fail("the CNI plugins are not installed", "apt-get install containernetworking-plugins (scripts/build-node.sh does).");
  // kubelet creates its cgroups in every hierarchy: one must be writable.
  const probe = join(CGROUP_ROOT, existsSync(join(CGROUP_ROOT, "memory")) ? "memory" : "", "restash-probe");
  try {
    mkdirSync(probe);
    rmdirSync(probe);
  } catch (e) {
    fail(`cgroups are not writable here (${(e as Error).message})`, "Run it on a machine (or a privileged container) with a writable /sys/fs/cgroup.");
  }
  if (!readFileSync("/proc/filesystems", "utf8").includes("overlay")) fail("the kernel has no overlayfs", "containerd's overlayfs snapshotter needs it.");
  const taken = listeningPorts();
  for (const [port, who] of Object.entries(PORTS)) {
    if (taken.has(Number(port)))
      fail(
        `port ${port} (${who}) is already in use`,
        `Stop what listens there (ss -ltnp 'sport = :${port}'), or stop a node started elsewhere with npm run cluster:down.`,
      );
  }
  // Our ranges must be ours alone: a route into them that we did not make means another network there.
  for (const line of run("ip", ["-4", "route", "show", "table", "all"]).split("\n")) {
    if (/^(blackhole )?10\.(87|88|96)\./.test(line) && !line.includes("blackhole") && !line.includes(NODE.podLink) && !line.includes(NODE.hostLink)) {
      fail(`a route already covers restash's node ranges: ${line.trim()}`, "restash's node uses 10.87.0.0/16, 10.88.0.0/16 and 10.96.0.0/16; free them first.");
    }
  }
}

// --------------------------------------------------------------------------------------- baseline

function readSysctl(key: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/${key}`, "utf8").trim();
  } catch {
    return undefined;
  }
}

function nftTables(): string[] {
  return run("nft", ["list", "tables"], { allowFail: true })
    .split("\n")
    .map((l) => l.replace(/^table /, "").trim())
    .filter(Boolean);
}

function recordBaseline(dir: string): Baseline {
  const file = join(dir, "baseline.json");
  // A killed run's baseline is the machine before it: never overwrite it with the changed state.
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as Baseline;
  const sysctls: Record<string, string> = {};
  for (const k of SYSCTLS) {
    const v = readSysctl(k);
    if (v !== undefined) sysctls[k] = v;
  }
  const b: Baseline = { sysctls, paths: OUTSIDE_PATHS.filter((p) => existsSync(p)), nftTables: nftTables() };
  writeFileSync(file, JSON.stringify(b, null, 2));
  return b;
}

// ----------------------------------------------------------------------------------------- guards

/** Interfaces that lead off this machine: every one present now but loopback and ours. */
function uplinks(): string[] {
  return readdirSync("/sys/class/net").filter((n) => n !== "lo" && n !== NODE.hostLink && n !== NODE.podLink && !n.startsWith("veth"));
}

function installGuards(dir: string) {
  const ours = `{ "lo", "${NODE.podLink}", "${NODE.hostLink}" }`;
  const up = uplinks();
  const upSet = up.length ? `{ ${up.map((u) => `"${u}"`).join(", ")} }` : undefined;
  const ranges = `{ ${NODE.nodeRange}, ${NODE.podRange}, ${NODE.serviceRange} }`;
  // Priority -300 runs before kube-proxy's and iptables' filter chains, so no ACCEPT they add can pre-empt it.
  const rules = [
    `table inet ${NODE.nftTable} {`,
    `  chain guard_forward {`,
    `    type filter hook forward priority -300; policy accept;`,
    upSet ? `    oifname ${upSet} counter drop` : "",
    `    iifname "${NODE.podLink}" oifname != ${ours} counter drop`,
    `    ip saddr ${ranges} oifname != ${ours} counter drop`,
    `    ip daddr ${ranges} oifname != ${ours} counter drop`,
    `  }`,
    `  chain guard_output {`,
    `    type filter hook output priority -300; policy accept;`,
    `    ip saddr ${ranges} oifname != ${ours} counter drop`,
    `    ip daddr ${ranges} oifname != ${ours} counter drop`,
    `  }`,
    `}`,
  ].filter(Boolean);
  writeFileSync(join(dir, "guard.nft"), rules.join("\n") + "\n");
  run("nft", ["-f", join(dir, "guard.nft")]);
  // Blackholes: what nobody translated or delivered locally is dropped instead of routed to the default gateway.
  // The pod and node ranges get a high metric so the bridges' own connected routes win.
  run("ip", ["route", "replace", "blackhole", NODE.serviceRange]);
  run("ip", ["route", "replace", "blackhole", NODE.podRange, "metric", "4000"]);
  run("ip", ["route", "replace", "blackhole", NODE.nodeRange, "metric", "4000"]);
  // The node's address, on a bridge with no ports: local to this machine and nothing else.
  run("ip", ["link", "add", NODE.hostLink, "type", "bridge"]);
  run("ip", ["addr", "add", `${NODE.nodeIP}/32`, "dev", NODE.hostLink]);
  run("ip", ["link", "set", NODE.hostLink, "up"]);
  // Every registry resolves to a closed loopback port: an image that is not imported fails instead of being pulled.
  for (const r of REGISTRIES) {
    const d = join(dir, "containerd/certs.d", r);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "hosts.toml"), `server = "http://127.0.0.1:1"\n[host."http://127.0.0.1:1"]\n  capabilities = ["pull", "resolve"]\n`);
  }
}

// ---------------------------------------------------------------------------------------- configs

function containerdConfig(dir: string, binDir: string): string {
  const c = join(dir, "containerd");
  return `version = 3
root = "${c}/root"
state = "${c}/state"

[grpc]
  address = "${c}/containerd.sock"
[ttrpc]
  address = "${c}/containerd.sock.ttrpc"
[debug]
  address = "${c}/debug.sock"
  level = "info"
[metrics]
  address = ""

[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = "overlayfs"
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = "registry.k8s.io/pause:3.10.2"
    [plugins.'io.containerd.cri.v1.images'.registry]
      config_path = "${c}/certs.d"
  [plugins.'io.containerd.cri.v1.runtime']
    enable_selinux = false
    netns_mounts_under_state_dir = true
    # These VMs lack CAP_SYS_RESOURCE: runc cannot lower oom_score_adj (pause asks for -998).
    restrict_oom_score_adj = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = "runc"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          SystemdCgroup = false
          BinaryName = "${realpathSync(join(binDir, "runc"))}"
          Root = "${c}/runc"
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ["/usr/lib/cni"]
      conf_dir = "${dir}/cni/net.d"
      max_conf_num = 1
  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
  [plugins.'io.containerd.nri.v1.nri']
    # NRI would create /var/run/nri/nri.sock.
    disable = true
  [plugins.'io.containerd.transfer.v1.local']
    config_path = "${c}/certs.d"
  [plugins.'io.containerd.internal.v1.opt']
    # Default /opt/containerd.
    path = "${c}/opt"
`;
}

function cniConfig(dir: string): string {
  return JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: NODE.cniNetwork,
      plugins: [
        {
          type: "bridge",
          bridge: NODE.podLink,
          isGateway: true,
          // Nothing is NATed out: pods talk to each other, the node address and Services only.
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            dataDir: join(dir, "cni/ipam"),
            ranges: [[{ subnet: NODE.podRange, gateway: NODE.podGateway }]],
            routes: [{ dst: "0.0.0.0/0" }],
          },
        },
        { type: "portmap", capabilities: { portMappings: true } },
        { type: "loopback" },
      ],
    },
    null,
    2,
  );
}

function kubeletConfig(dir: string): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://${dir}/containerd/containerd.sock
imageServiceEndpoint: unix://${dir}/containerd/containerd.sock
cgroupDriver: cgroupfs
# Hybrid cgroups count as v1 for kubelet >= 1.35, which refuses v1 unless told otherwise.
failCgroupV1: false
failSwapOn: false
address: ${NODE.nodeIP}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${dir}/pki/ca.crt}
authorization:
  mode: Webhook
clusterDomain: cluster.local
resolvConf: ${dir}/conf/resolv.conf
podLogsDir: ${dir}/kubelet/pod-logs
volumePluginDir: ${dir}/kubelet/volume-plugins
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1%"
  nodefs.inodesFree: "1%"
  imagefs.available: "1%"
# Imported images cannot be pulled again: never garbage-collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
rotateCertificates: false
serverTLSBootstrap: false
protectKernelDefaults: false
`;
}

function kubeProxyConfig(dir: string): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: ${dir}/kc/kube-proxy.kubeconfig
mode: nftables
clusterCIDR: ${NODE.podRange}
hostnameOverride: ${NODE.name}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: ["${NODE.nodeIP}/32"]
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`;
}

async function writePki(dir: string, server: string): Promise<CertificateAuthority> {
  const p = join(dir, "pki");
  const kc = join(dir, "kc");
  mkdirSync(p, { recursive: true });
  mkdirSync(kc, { recursive: true });
  const ca = await createCA("restash-node-ca");
  const frontProxy = await createCA("restash-node-front-proxy-ca");
  const files: Record<string, string> = { "ca.crt": ca.certPem, "ca.key": ca.keyPem, "front-proxy-ca.crt": frontProxy.certPem };
  const serving = await issueCertificate(ca, {
    commonName: "kube-apiserver",
    dnsNames: ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"],
    ipAddresses: ["127.0.0.1", NODE.nodeIP, NODE.kubernetesServiceIP],
    usage: "server",
  });
  files["apiserver.crt"] = serving.certPem;
  files["apiserver.key"] = serving.keyPem;
  const kubeletClient = await issueCertificate(ca, { commonName: "kube-apiserver-kubelet-client", organizations: ["system:masters"], usage: "client" });
  files["apiserver-kubelet-client.crt"] = kubeletClient.certPem;
  files["apiserver-kubelet-client.key"] = kubeletClient.keyPem;
  const proxyClient = await issueCertificate(frontProxy, { commonName: "front-proxy-client", usage: "client" });
  files["front-proxy-client.crt"] = proxyClient.certPem;
  files["front-proxy-client.key"] = proxyClient.keyPem;
  const sa = await createSigningKey();
  files["sa.pub"] = sa.publicPem;
  files["sa.key"] = sa.keyPem;
  for (const [name, content] of Object.entries(files)) writeFileSync(join(p, name), content, { mode: 0o600 });
  const users: Array<[string, string, string[]]> = [
    ["admin", "admin", ["system:masters"]],
    ["kube-controller-manager", "system:kube-controller-manager", []],
    ["kube-scheduler", "system:kube-scheduler", []],
    ["kubelet", `system:node:${NODE.name}`, ["system:nodes"]],
    ["kube-proxy", "system:kube-proxy", []],
  ];
  for (const [file, cn, groups] of users) {
    const cert = await issueCertificate(ca, { commonName: cn, organizations: groups, usage: "client" });
    writeFileSync(join(kc, `${file}.kubeconfig`), kubeconfigYaml(server, ca.certPem, cn, cert), { mode: 0o600 });
  }
  return ca;
}

// ------------------------------------------------------------------------------------------ start

function stateFile(dir: string) {
  return join(dir, "node.json");
}

export function readNodeInfo(dir = DEFAULT_NODE_DIR): NodeInfo | null {
  try {
    return JSON.parse(readFileSync(stateFile(dir), "utf8")) as NodeInfo;
  } catch {
    return null;
  }
}

function launch(dir: string, pids: Record<string, number>, name: string, bin: string, args: string[], env?: NodeJS.ProcessEnv) {
  const logFile = join(dir, "logs", `${name}.log`);
  const fd = openSync(logFile, "a");
  // detached: a session of its own, so neither a terminal's signals nor `timeout` reach the component.
  const child = spawn(bin, args, { stdio: ["ignore", fd, fd], detached: true, env: env ?? { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" } });
  closeSync(fd);
  child.unref();
  pids[name] = child.pid!;
  // Written after every launch: a start killed half-way still tells the next one what to stop.
  writeFileSync(join(dir, "pids.json"), JSON.stringify(pids));
  return child.pid!;
}

function logTail(dir: string, name: string, lines = 12): string {
  const f = join(dir, "logs", `${name}.log`);
  return existsSync(f) ? readFileSync(f, "utf8").trimEnd().split("\n").slice(-lines).join("\n") : "";
}

async function waitFor(dir: string, name: string, pid: number | undefined, timeoutMs: number, probe: () => Promise<boolean> | boolean, todo: string) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (pid !== undefined && !running(pid))
      fail(`${name} exited during start-up:\n${logTail(dir, name)}\n`, `${todo} (log: ${join(dir, "logs", name + ".log")})`);
    if (await Promise.resolve(probe()).catch(() => false)) return;
    if (Date.now() > deadline)
      fail(`${name} was not ready within ${timeoutMs / 1000} s:\n${logTail(dir, name)}\n`, `${todo} (log: ${join(dir, "logs", name + ".log")})`);
    await sleep(100);
  }
}

function httpOk(url: string): Promise<boolean> {
  return new Promise((res) => {
    const req = httpGet(url, (r) => {
      r.resume();
      res(r.statusCode === 200);
    });
    req.on("error", () => res(false));
    req.setTimeout(2000, () => req.destroy());
  });
}

function apiGet(dir: string, path: string): Promise<{ status: number; body: string }> {
  const p = join(dir, "pki");
  return new Promise((res) => {
    // The admin identity is in the kubeconfig; the apiserver-kubelet-client cert is also system:masters.
    const agent = new Agent({
      ca: readFileSync(join(p, "ca.crt")),
      cert: readFileSync(join(p, "apiserver-kubelet-client.crt")),
      key: readFileSync(join(p, "apiserver-kubelet-client.key")),
    });
    const req = request(`https://${NODE.nodeIP}:${NODE.apiPort}${path}`, { agent }, (r) => {
      let body = "";
      r.on("data", (c) => (body += c));
      r.on("end", () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on("error", () => res({ status: 0, body: "" }));
    req.setTimeout(3000, () => req.destroy());
    req.end();
  });
}

function ctr(info: { binDir: string; containerdAddress: string }, args: string[], allowFail = false): string {
  return run(join(info.binDir, "ctr"), ["--address", info.containerdAddress, "-n", "k8s.io", ...args], { allowFail });
}

/** The image names containerd's k8s.io namespace holds (what kubelet can run). */
export function nodeImages(info: { binDir: string; containerdAddress: string }): Set<string> {
  return new Set(ctr(info, ["images", "ls", "-q"]).split("\n").filter(Boolean));
}

/** Imports an OCI archive into containerd's k8s.io namespace (the one kubelet sees) under `name`. */
export function importImage(info: { binDir: string; containerdAddress: string }, tar: string, name: string) {
  // The archive's manifest is tagged with `name`'s tag (umoci); --base-name puts the repository in
  // front, so the image is known by exactly `name` (no extra "import-<date>" image the CRI could pick).
  const at = name.lastIndexOf(":");
  ctr(info, ["images", "import", "--base-name", name.slice(0, at), tar]);
  if (!ctr(info, ["images", "ls", "-q"]).split("\n").includes(name))
    throw new Error(`importing ${tar} did not make image ${name} (is its tag ${name.slice(at + 1)}?)`);
}

function leftovers(dir: string): string[] {
  const found: string[] = [];
  if (existsSync(dir)) found.push(dir);
  for (const l of [NODE.hostLink, NODE.podLink]) if (existsSync(`/sys/class/net/${l}`)) found.push(`link ${l}`);
  if (nftTables().some((t) => t === `inet ${NODE.nftTable}` || t.endsWith(" kube-proxy"))) found.push("nftables tables");
  if (existsSync(join(CGROUP_ROOT, "memory", "kubepods")) || existsSync(join(CGROUP_ROOT, "pids", "kubepods"))) found.push("kubepods cgroups");
  return found;
}

export async function nodeRunning(dir = DEFAULT_NODE_DIR): Promise<NodeInfo | null> {
  const info = readNodeInfo(dir);
  if (!info) return null;
  if (!Object.values(info.pids).every(running)) return null;
  const r = await apiGet(dir, `/api/v1/nodes/${NODE.name}`);
  if (r.status !== 200) return null;
  return info;
}

function withEnv(info: NodeInfo): RunningNode {
  return {
    ...info,
    kubectlEnv: { KUBECONFIG: info.kubeconfig, KUBECACHEDIR: join(info.dir, "kubectl-cache") },
    stop: () => stopNode(info.dir),
  };
}

/** Starts the node (cleaning what a killed run left first) and resolves once it is Ready for pods. */
export async function startNode(opts: NodeOptions = {}): Promise<RunningNode> {
  const log = opts.log ?? (() => {});
  const dir = opts.dir ?? DEFAULT_NODE_DIR;
  if (process.getuid?.() !== 0) fail("it needs root (network devices, routes, nftables, mounts, cgroups)", "Run it as root.");
  const binDir = opts.binDir ?? resolveNodeBinaries(log);
  // First what a killed run left (it may hold the ports), then what this start needs.
  const stale = leftovers(dir);
  if (stale.length) {
    log(`cleaning up a previous node run (${stale.join(", ")})`);
    await stopNode(dir, () => {});
  }
  preflight(binDir);
  const t0 = Date.now();
  const at = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
  for (const d of ["logs", "conf", "cni/net.d", "containerd", "kubelet", "etcd"]) mkdirSync(join(dir, d), { recursive: true });
  recordBaseline(dir);
  installGuards(dir);
  log(`${at()} network guards installed (blackhole routes, nftables table ${NODE.nftTable}, registries -> 127.0.0.1:1)`);
  const pids: Record<string, number> = {};
  try {
    const server = `https://${NODE.nodeIP}:${NODE.apiPort}`;
    const containerdAddress = join(dir, "containerd/containerd.sock");
    writeFileSync(join(dir, "containerd/config.toml"), containerdConfig(dir, binDir));
    writeFileSync(join(dir, "cni/net.d/10-restash.conflist"), cniConfig(dir));
    // No cluster DNS: a pod's lookups go to its own loopback and fail there, never off the machine.
    writeFileSync(join(dir, "conf/resolv.conf"), "nameserver 127.0.0.1\n");
    writeFileSync(join(dir, "conf/kubelet.yaml"), kubeletConfig(dir));
    writeFileSync(join(dir, "conf/kube-proxy.yaml"), kubeProxyConfig(dir));
    const path = `${binDir}:/usr/sbin:/usr/bin:/sbin:/bin`;
    const env = { PATH: path, HOME: dir };

    const ctrdPid = launch(dir, pids, "containerd", join(binDir, "containerd"), ["--config", join(dir, "containerd/config.toml")], env);
    const etcdPid = launch(
      dir,
      pids,
      "etcd",
      join(binDir, "etcd"),
      [
        "--name=default",
        `--data-dir=${join(dir, "etcd")}`,
        `--listen-client-urls=http://127.0.0.1:${NODE.etcdPort}`,
        `--advertise-client-urls=http://127.0.0.1:${NODE.etcdPort}`,
        `--listen-peer-urls=http://127.0.0.1:${NODE.etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${NODE.etcdPeerPort}`,
        `--initial-cluster=default=http://127.0.0.1:${NODE.etcdPeerPort}`,
        "--listen-metrics-urls=",
        "--unsafe-no-fsync=true",
        "--log-level=warn",
      ],
      env,
    );
    const ca = await writePki(dir, server);
    const info = { binDir, containerdAddress };
    await waitFor(
      dir,
      "containerd",
      ctrdPid,
      15_000,
      () => existsSync(containerdAddress) && ctr(info, ["version"], true).includes("Server:"),
      "containerd did not come up",
    );
    const base = imageArchives(binDir, log);
    for (const [tar, name] of base) importImage(info, tar, name);
    log(`${at()} containerd up, ${base.map(([, n]) => n).join(", ")} imported`);
    await waitFor(dir, "etcd", etcdPid, 15_000, () => httpOk(`http://127.0.0.1:${NODE.etcdPort}/health`), "etcd did not come up");

    const P = join(dir, "pki");
    const apiPid = launch(
      dir,
      pids,
      "kube-apiserver",
      join(binDir, "kube-apiserver"),
      [
        `--etcd-servers=http://127.0.0.1:${NODE.etcdPort}`,
        `--bind-address=${NODE.nodeIP}`,
        `--advertise-address=${NODE.nodeIP}`,
        `--secure-port=${NODE.apiPort}`,
        `--cert-dir=${join(dir, "apiserver-certs")}`,
        `--service-cluster-ip-range=${NODE.serviceRange}`,
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${P}/sa.pub`,
        `--service-account-signing-key-file=${P}/sa.key`,
        `--client-ca-file=${P}/ca.crt`,
        `--tls-cert-file=${P}/apiserver.crt`,
        `--tls-private-key-file=${P}/apiserver.key`,
        `--kubelet-client-certificate=${P}/apiserver-kubelet-client.crt`,
        `--kubelet-client-key=${P}/apiserver-kubelet-client.key`,
        "--kubelet-preferred-address-types=InternalIP",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        // Webhooks and APIServices go to the endpoint (pod) IPs: the host cannot reach ClusterIPs (blackholed).
        "--enable-aggregator-routing=true",
        "--allow-privileged=true",
        `--requestheader-client-ca-file=${P}/front-proxy-ca.crt`,
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        `--proxy-client-cert-file=${P}/front-proxy-client.crt`,
        `--proxy-client-key-file=${P}/front-proxy-client.key`,
        "--profiling=false",
      ],
      env,
    );
    // The large images go in while kube-apiserver starts (kubelet starts after both).
    for (const [tar, name] of opts.images ?? []) importImage(info, tar, name);
    if (opts.images?.length) log(`${at()} ${opts.images.map(([, n]) => n).join(", ")} imported`);
    await waitFor(dir, "kube-apiserver", apiPid, 90_000, async () => (await apiGet(dir, "/readyz")).status === 200, "kube-apiserver did not become ready");
    log(`${at()} kube-apiserver ready at ${server}`);

    const kc = join(dir, "kc");
    const kcm = `${kc}/kube-controller-manager.kubeconfig`;
    launch(
      dir,
      pids,
      "kube-controller-manager",
      join(binDir, "kube-controller-manager"),
      [
        `--kubeconfig=${kcm}`,
        `--authentication-kubeconfig=${kcm}`,
        `--authorization-kubeconfig=${kcm}`,
        "--bind-address=127.0.0.1",
        "--secure-port=10257",
        "--leader-elect=false",
        "--controllers=*",
        "--use-service-account-credentials=true",
        `--service-account-private-key-file=${P}/sa.key`,
        `--root-ca-file=${P}/ca.crt`,
        `--cluster-signing-cert-file=${P}/ca.crt`,
        `--cluster-signing-key-file=${P}/ca.key`,
        `--service-cluster-ip-range=${NODE.serviceRange}`,
        `--cluster-cidr=${NODE.podRange}`,
        "--allocate-node-cidrs=false",
        `--flex-volume-plugin-dir=${join(dir, "kcm-flex")}`,
        "--profiling=false",
      ],
      env,
    );
    const sched = `${kc}/kube-scheduler.kubeconfig`;
    launch(
      dir,
      pids,
      "kube-scheduler",
      join(binDir, "kube-scheduler"),
      [
        `--kubeconfig=${sched}`,
        `--authentication-kubeconfig=${sched}`,
        `--authorization-kubeconfig=${sched}`,
        "--bind-address=127.0.0.1",
        "--secure-port=10259",
        "--leader-elect=false",
        "--profiling=false",
      ],
      env,
    );
    const kubeletPid = launch(
      dir,
      pids,
      "kubelet",
      join(binDir, "kubelet"),
      [
        `--config=${join(dir, "conf/kubelet.yaml")}`,
        `--kubeconfig=${kc}/kubelet.kubeconfig`,
        `--root-dir=${join(dir, "kubelet/root")}`,
        `--cert-dir=${join(dir, "kubelet/pki")}`,
        `--node-ip=${NODE.nodeIP}`,
        `--hostname-override=${NODE.name}`,
      ],
      env,
    );
    launch(dir, pids, "kube-proxy", join(binDir, "kube-proxy"), [`--config=${join(dir, "conf/kube-proxy.yaml")}`], env);

    await waitFor(
      dir,
      "kubelet",
      kubeletPid,
      60_000,
      async () => {
        const r = await apiGet(dir, `/api/v1/nodes/${NODE.name}`);
        if (r.status !== 200) return false;
        const node = JSON.parse(r.body) as { status?: { conditions?: Array<{ type: string; status: string }> } };
        return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
      },
      "the node did not turn Ready",
    );
    for (const [name, pid] of Object.entries(pids))
      if (!running(pid)) fail(`${name} exited during start-up:\n${logTail(dir, name)}\n`, `See ${join(dir, "logs", name + ".log")}`);
    log(`${at()} node ${NODE.name} Ready`);
    // Pods are refused until the namespace's default ServiceAccount exists.
    await waitFor(
      dir,
      "kube-controller-manager",
      pids["kube-controller-manager"],
      60_000,
      async () => (await apiGet(dir, "/api/v1/namespaces/default/serviceaccounts/default")).status === 200,
      "the default ServiceAccount was not created",
    );
    log(`${at()} default ServiceAccount present`);

    const admin = join(kc, "admin.kubeconfig");
    const nodeInfo: NodeInfo = {
      dir,
      binDir,
      server,
      kubeconfig: admin,
      nodeName: NODE.name,
      nodeIP: NODE.nodeIP,
      containerdAddress,
      pids,
      caCert: ca.certPem,
      startedAt: new Date(t0).toISOString(),
    };
    writeFileSync(stateFile(dir), JSON.stringify(nodeInfo, null, 2));
    return withEnv(nodeInfo);
  } catch (e) {
    // The logs outlive the cleanup: they say why.
    const kept = `/tmp/restash-node-logs-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    try {
      cpSync(join(dir, "logs"), kept, { recursive: true });
    } catch {
      /* nothing logged yet */
    }
    log(`start failed; cleaning up (component logs kept in ${kept})`);
    await stopNode(dir, () => {}).catch((c) => log(`cleanup after the failed start: ${(c as Error).message}`));
    if (e instanceof Error) e.message = e.message.replaceAll(join(dir, "logs"), kept);
    throw e;
  }
}

/** Images of the applications node tests back up (scripts/build-image.sh targets): PostgreSQL for the database Tasks. */
export const APP_IMAGE_TARGETS = ["postgres"];

/** The restash and pushgateway images (scripts/build-image.sh, cached by their inputs): what the
 *  deploy/overlays/local-node manifests run; and the applications' (APP_IMAGE_TARGETS). */
export function restashImages(log: (l: string) => void = () => {}, targets = ["restash", "pushgateway", ...APP_IMAGE_TARGETS]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const target of targets) {
    const t0 = Date.now();
    const out = execFileSync("bash", [join(repoRoot, "scripts/build-image.sh"), target], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    for (const line of out.trim().split("\n")) {
      const [tar, name] = line.split(" ");
      if (tar && name) pairs.push([tar, name]);
    }
    log(`image ${target}: ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }
  return pairs;
}

/** The pause and busybox archives (scripts/build-image.sh, cached by its inputs). */
function imageArchives(binDir: string, log: (l: string) => void): Array<[string, string]> {
  const out = execFileSync("bash", [join(repoRoot, "scripts/build-image.sh"), "base"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, RESTASH_NODE_BIN: binDir },
  });
  const pairs: Array<[string, string]> = [];
  for (const line of out.trim().split("\n")) {
    const [tar, name] = line.split(" ");
    if (tar && name && existsSync(tar)) pairs.push([tar, name]);
  }
  if (!pairs.some(([, n]) => n.startsWith("registry.k8s.io/pause:"))) throw new Error(`scripts/build-image.sh base printed no pause image:\n${out}`);
  log(`base images: ${pairs.map(([, n]) => n).join(", ")}`);
  return pairs;
}

// ------------------------------------------------------------------------------------------- stop

function mountsUnder(prefixes: string[]): string[] {
  const out: string[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const mp = line.split(" ")[4];
    if (!mp) continue;
    const p = mp.replace(/\\040/g, " ");
    if (prefixes.some((pre) => p === pre || p.startsWith(pre + "/"))) out.push(p);
  }
  // Deepest first.
  return [...new Set(out)].sort((a, b) => b.length - a.length);
}

/** Processes of ours that no PID file names: shims (by their containerd address) and container processes (by cgroup). */
function strayPids(dir: string): number[] {
  const found = new Set<number>();
  const address = join(dir, "containerd/containerd.sock");
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0");
      const cmd = argv.join(" ");
      const prog = argv[0]?.split("/").pop() ?? "";
      // Shims name our containerd's address; a component whose PID file was lost names the state directory.
      if (cmd.includes(address) || (STOP_ORDER.includes(prog) && cmd.includes(`${dir}/`))) found.add(pid);
    } catch {
      /* gone */
    }
  }
  for (const h of cgroupHierarchies()) {
    for (const cg of cgroupTree(join(h, "kubepods"))) {
      try {
        for (const p of readFileSync(join(cg, "cgroup.procs"), "utf8").split("\n")) if (p.trim()) found.add(Number(p));
      } catch {
        /* gone */
      }
    }
  }
  found.delete(process.pid);
  return [...found];
}

function cgroupHierarchies(): string[] {
  if (!existsSync(CGROUP_ROOT)) return [];
  const hs = readdirSync(CGROUP_ROOT)
    .map((n) => join(CGROUP_ROOT, n))
    .filter((p) => {
      try {
        return lstatSync(p).isDirectory();
      } catch {
        return false;
      }
    });
  // Pure cgroup v2: the root itself is the hierarchy.
  return existsSync(join(CGROUP_ROOT, "cgroup.procs")) ? [CGROUP_ROOT] : hs;
}

/** A cgroup and its descendants, deepest first. */
function cgroupTree(root: string): string[] {
  if (!existsSync(root)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
    out.push(d);
  };
  walk(root);
  return out;
}

function removeKubeletChains() {
  // kube-proxy (nftables mode) keeps its own tables; kubelet still adds KUBE-* chains through iptables.
  for (const ipt of ["iptables", "ip6tables"]) {
    for (const table of ["filter", "nat", "mangle"]) {
      const rules = run(ipt, ["-w", "-t", table, "-S"], { allowFail: true }).split("\n");
      const chains = rules.filter((r) => r.startsWith("-N KUBE-")).map((r) => r.slice(3).trim());
      if (!chains.length) continue;
      for (const r of rules) {
        if (r.startsWith("-A ") && chains.some((c) => r.includes(`-j ${c}`))) {
          run(
            ipt,
            [
              "-w",
              "-t",
              table,
              ...r
                .replace(/^-A /, "-D ")
                .match(/(?:[^\s"]+|"[^"]*")+/g)!
                .map((a) => a.replace(/^"|"$/g, "")),
            ],
            { allowFail: true },
          );
        }
      }
      for (const c of chains) run(ipt, ["-w", "-t", table, "-F", c], { allowFail: true });
      for (const c of chains) run(ipt, ["-w", "-t", table, "-X", c], { allowFail: true });
    }
  }
}

/** Stops a node (running, half-started or killed) and removes everything it made. */
export async function stopNode(dir = DEFAULT_NODE_DIR, log: (l: string) => void = () => {}): Promise<void> {
  const problems: string[] = [];
  let pids: Record<string, number> = {};
  try {
    pids = JSON.parse(readFileSync(join(dir, "pids.json"), "utf8")) as Record<string, number>;
  } catch {
    /* never started or already cleaned */
  }
  // 1. Components in order, each group waited for (a fast restart would find a port still bound):
  // the API server's clients together, then the API server, etcd, containerd.
  for (const group of STOP_GROUPS) {
    const live = group.filter((name) => pids[name] && running(pids[name]) && readProcCmd(pids[name]).includes(dir));
    if (!live.length) continue;
    const t = Date.now();
    await stopPids(
      live.map((n) => pids[n]!),
      8_000,
    );
    log(`${live.join(", ")} stopped in ${((Date.now() - t) / 1000).toFixed(1)}s`);
  }
  // 2. Containers and their shims: by cgroup and by our containerd's address. Twice: a shim may
  // respawn nothing, but a container may fork while we kill.
  for (let i = 0; i < 3; i++) {
    const stray = strayPids(dir);
    if (!stray.length) break;
    for (const p of stray) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    await sleep(300);
  }
  // 3. Mounts: network namespaces, overlay rootfs, volumes (all under the state directory with these configs).
  const prefixes = [dir, "/var/lib/kubelet", "/run/containerd", "/run/netns"].filter((p) => p === dir || !readBaseline(dir)?.paths.includes(p));
  for (const m of mountsUnder(prefixes)) {
    if (run("umount", [m], { allowFail: true }) === "" && mountsUnder([m]).includes(m)) run("umount", ["-l", m], { allowFail: true });
  }
  const stillMounted = mountsUnder(prefixes);
  if (stillMounted.length) problems.push(`still mounted: ${stillMounted.join(", ")}`);
  // 4. Network: our links (veths go with their namespaces), nftables, kubelet's iptables chains, routes, conntrack.
  for (const l of readdirSync("/sys/class/net")) {
    const master = existsSync(`/sys/class/net/${l}/master`) ? realpathSync(`/sys/class/net/${l}/master`).split("/").pop() : "";
    if (master === NODE.podLink) run("ip", ["link", "del", l], { allowFail: true });
  }
  for (const l of [NODE.podLink, NODE.hostLink]) if (existsSync(`/sys/class/net/${l}`)) run("ip", ["link", "del", l], { allowFail: true });
  const baseline = readBaseline(dir);
  for (const t of ["ip kube-proxy", "ip6 kube-proxy", `inet ${NODE.nftTable}`]) {
    if (nftTables().includes(t)) run("nft", ["delete", "table", ...t.split(" ")], { allowFail: true });
  }
  removeKubeletChains();
  // iptables-nft tables that only kubelet's chains brought: gone again if they hold nothing now.
  for (const t of nftTables()) {
    if (baseline && baseline.nftTables.includes(t)) continue;
    const [fam, name] = t.split(" ");
    if ((fam === "ip" || fam === "ip6") && ["filter", "nat", "mangle"].includes(name!)) {
      const body = run("nft", ["list", "table", fam, name!], { allowFail: true });
      const rules = body
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l && !/^(table |chain |type |policy |}$)/.test(l));
      if (rules.length === 0) run("nft", ["delete", "table", fam, name!], { allowFail: true });
    }
  }
  for (const [range, metric] of [
    [NODE.serviceRange, undefined],
    [NODE.podRange, "4000"],
    [NODE.nodeRange, "4000"],
  ] as const) {
    run("ip", ["route", "del", "blackhole", range, ...(metric ? ["metric", metric] : [])], { allowFail: true });
  }
  for (const range of [NODE.podRange, NODE.serviceRange, NODE.nodeRange]) {
    run("conntrack", ["-D", "-s", range], { allowFail: true });
    run("conntrack", ["-D", "-d", range], { allowFail: true });
  }
  // 5. Host settings back as they were.
  for (const [k, v] of Object.entries(baseline?.sysctls ?? {})) {
    if (readSysctl(k) !== v) {
      try {
        writeFileSync(`/proc/sys/${k}`, v);
      } catch (e) {
        problems.push(`sysctl ${k}: ${(e as Error).message}`);
      }
    }
  }
  // 6. cgroups kubelet made, in every hierarchy, deepest first.
  for (const h of cgroupHierarchies()) {
    for (const cg of cgroupTree(join(h, "kubepods"))) {
      try {
        rmdirSync(cg);
      } catch (e) {
        problems.push(`cgroup ${cg}: ${(e as Error).message}`);
      }
    }
  }
  // 7. Files outside the state directory, then the directory itself (only with nothing mounted in it).
  if (baseline) {
    for (const p of OUTSIDE_PATHS) {
      if (baseline.paths.includes(p)) continue;
      if (mountsUnder([p]).length) problems.push(`not removing ${p}: something is mounted there`);
      else rmSync(p, { recursive: true, force: true });
    }
  }
  // libcni's result cache for our network, wherever /var/lib/cni was before.
  const results = "/var/lib/cni/results";
  if (existsSync(results)) for (const f of readdirSync(results)) if (f.startsWith(`${NODE.cniNetwork}-`)) rmSync(join(results, f), { force: true });
  if (mountsUnder([dir]).length === 0) rmSync(dir, { recursive: true, force: true });
  else problems.push(`not removing ${dir}: something is mounted there`);
  if (problems.length) throw new Error(`the node was stopped, but some of it is left:\n  ${problems.join("\n  ")}`);
  log(`node stopped; nothing left`);
}

function readBaseline(dir: string): Baseline | null {
  try {
    return JSON.parse(readFileSync(join(dir, "baseline.json"), "utf8")) as Baseline;
  } catch {
    return null;
  }
}

function readProcCmd(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

export { NodeStartError };
