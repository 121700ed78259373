// A real kube-apiserver and etcd as plain processes (no kubelet, no controller-manager), the way
// controller-runtime's envtest runs them, plus the aggregation-layer flags the Snapshot API needs.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, openSync, closeSync, existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Agent, request } from "node:https";
import { get as httpGet } from "node:http";
import { createCA, issueCertificate, createSigningKey, type CertificateAuthority, type KeyPair } from "../lib/pki.ts";

const repoRoot = resolve(import.meta.dirname, "..");

export interface ControlPlaneOptions {
  /** Directory with kube-apiserver, etcd and kubectl. Default: built or reused by scripts/build-control-plane.sh. */
  binDir?: string;
  /** Where certificates, etcd data, logs and the kubeconfig go. Default: a fresh temporary directory. */
  dir?: string;
  /** Detached processes outlive this Node process (npm run cluster:up). */
  detached?: boolean;
  /** Called with progress lines. */
  log?: (line: string) => void;
  startTimeoutMs?: number;
}

export interface ControlPlaneInfo {
  dir: string;
  binDir: string;
  server: string;
  kubeconfig: string;
  etcdPid: number;
  apiserverPid: number;
  /** PEM of the CA that signs client certificates the API server accepts. */
  clientCaCert: string;
  clientCaKey: string;
  /** The aggregation layer's front-proxy CA: extension API servers verify the proxy's client certificate with it. */
  frontProxyCaCert: string;
  /** The CA that signed the API server's serving certificate. */
  servingCaCert: string;
}

export interface ControlPlane extends ControlPlaneInfo {
  /** A kubeconfig file for another user (client certificate, CN = user, O = groups). */
  kubeconfigFor(user: string, groups?: string[]): Promise<string>;
  stop(): Promise<void>;
}

export function resolveBinaries(log: (l: string) => void = () => {}): string {
  const out = execFileSync("bash", [join(repoRoot, "scripts/build-control-plane.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const dir = out.trim().split("\n").pop() ?? "";
  if (!existsSync(join(dir, "kube-apiserver"))) throw new Error(`no kube-apiserver in ${dir}`);
  log(`control-plane binaries: ${dir}`);
  return dir;
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, timeoutMs: number, probe: () => Promise<boolean>, proc?: ChildProcess, logFile?: string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc && proc.exitCode !== null) {
      const tail = logFile && existsSync(logFile) ? readFileSync(logFile, "utf8").split("\n").slice(-15).join("\n") : "";
      throw new Error(`${what} exited with code ${proc.exitCode} before it was ready\n${tail}`);
    }
    if (await probe().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what} was not ready within ${timeoutMs} ms`);
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

function httpsStatus(url: string, ca: string, cert?: KeyPair): Promise<number> {
  return new Promise((res) => {
    const agent = new Agent({ ca, cert: cert?.certPem, key: cert?.keyPem });
    const req = request(url, { agent }, (r) => {
      r.resume();
      res(r.statusCode ?? 0);
    });
    req.on("error", () => res(0));
    req.setTimeout(2000, () => req.destroy());
    req.end();
  });
}

export function kubeconfigYaml(server: string, caPem: string, user: string, client: KeyPair): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: restash-local",
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(caPem)}`,
    "users:",
    `- name: ${user}`,
    "  user:",
    `    client-certificate-data: ${b64(client.certPem)}`,
    `    client-key-data: ${b64(client.keyPem)}`,
    "contexts:",
    "- name: restash-local",
    "  context:",
    "    cluster: restash-local",
    `    user: ${user}`,
    "current-context: restash-local",
    "",
  ].join("\n");
}

function startProcess(bin: string, args: string[], logFile: string, detached: boolean): ChildProcess {
  const fd = openSync(logFile, "a");
  const child = spawn(bin, args, { stdio: ["ignore", fd, fd], detached });
  closeSync(fd);
  if (detached) child.unref();
  return child;
}

function killTree(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function stopProcesses(pids: number[], timeoutMs = 4_000) {
  for (const pid of pids) killTree(pid, "SIGTERM");
  const deadline = Date.now() + timeoutMs;
  while (pids.some(alive) && Date.now() < deadline) await sleep(50);
  for (const pid of pids) if (alive(pid)) killTree(pid, "SIGKILL");
  while (pids.some(alive)) await sleep(20);
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = opts.log ?? (() => {});
  const timeout = opts.startTimeoutMs ?? 60_000;
  const binDir = opts.binDir ?? resolveBinaries(log);
  const ownsDir = !opts.dir;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "restash-cp-"));
  mkdirSync(dir, { recursive: true });
  const certDir = join(dir, "pki");
  mkdirSync(certDir, { recursive: true });
  const detached = opts.detached ?? false;
  const children: ChildProcess[] = [];

  // Whatever happens to this process, its control plane goes with it (unless detached on purpose).
  const onExit = () => {
    for (const c of children) if (c.pid) killTree(c.pid, "SIGKILL");
    if (ownsDir) rmSync(dir, { recursive: true, force: true });
  };
  if (!detached) process.on("exit", onExit);

  try {
    const [etcdPort, etcdPeerPort, apiPort] = [await freePort(), await freePort(), await freePort()];

    // --- etcd
    const etcdData = join(dir, "etcd");
    const etcdArgs = [
      `--data-dir=${etcdData}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
      "--unsafe-no-fsync=true",
      "--log-level=warn",
    ];
    log(`starting etcd on 127.0.0.1:${etcdPort}`);
    const etcdLog = join(dir, "etcd.log");
    const etcd = startProcess(join(binDir, "etcd"), etcdArgs, etcdLog, detached);
    children.push(etcd);

    // --- certificates (made while etcd starts)
    const servingCA = await createCA("restash-local-serving-ca");
    const clientCA = await createCA("restash-local-client-ca");
    const frontProxyCA = await createCA("restash-local-front-proxy-ca");
    const serving = await issueCertificate(servingCA, {
      commonName: "kube-apiserver",
      dnsNames: ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"],
      ipAddresses: ["127.0.0.1", "10.0.0.1"],
      usage: "server",
    });
    const admin = await issueCertificate(clientCA, { commonName: "admin", organizations: ["system:masters"], usage: "client" });
    const proxyClient = await issueCertificate(frontProxyCA, { commonName: "front-proxy-client", usage: "client" });
    const sa = await createSigningKey();
    const files: Record<string, string> = {
      "serving-ca.crt": servingCA.certPem,
      "apiserver.crt": serving.certPem,
      "apiserver.key": serving.keyPem,
      "client-ca.crt": clientCA.certPem,
      "client-ca.key": clientCA.keyPem,
      "front-proxy-ca.crt": frontProxyCA.certPem,
      "front-proxy-client.crt": proxyClient.certPem,
      "front-proxy-client.key": proxyClient.keyPem,
      "sa.pub": sa.publicPem,
      "sa.key": sa.keyPem,
    };
    for (const [name, content] of Object.entries(files)) writeFileSync(join(certDir, name), content, { mode: 0o600 });

    await waitFor("etcd", timeout, () => httpOk(`http://127.0.0.1:${etcdPort}/health`), etcd, etcdLog);

    // --- kube-apiserver
    const server = `https://127.0.0.1:${apiPort}`;
    const apiArgs = [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      `--etcd-prefix=/registry`,
      `--bind-address=127.0.0.1`,
      `--advertise-address=127.0.0.1`,
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${join(certDir, "apiserver.crt")}`,
      `--tls-private-key-file=${join(certDir, "apiserver.key")}`,
      `--cert-dir=${certDir}`,
      `--client-ca-file=${join(certDir, "client-ca.crt")}`,
      `--authorization-mode=RBAC`,
      `--service-cluster-ip-range=10.0.0.0/24`,
      `--allow-privileged=true`,
      `--disable-admission-plugins=ServiceAccount`,
      `--service-account-issuer=${server}/`,
      `--service-account-key-file=${join(certDir, "sa.pub")}`,
      `--service-account-signing-key-file=${join(certDir, "sa.key")}`,
      `--endpoint-reconciler-type=none`,
      // Aggregation layer (the Snapshot API is an APIService served by a local process).
      `--requestheader-client-ca-file=${join(certDir, "front-proxy-ca.crt")}`,
      `--requestheader-allowed-names=front-proxy-client`,
      `--requestheader-username-headers=X-Remote-User`,
      `--requestheader-group-headers=X-Remote-Group`,
      `--requestheader-extra-headers-prefix=X-Remote-Extra-`,
      `--proxy-client-cert-file=${join(certDir, "front-proxy-client.crt")}`,
      `--proxy-client-key-file=${join(certDir, "front-proxy-client.key")}`,
      `--enable-aggregator-routing=false`,
      `--v=0`,
    ];
    log(`starting kube-apiserver on ${server}`);
    const apiLog = join(dir, "kube-apiserver.log");
    const apiserver = startProcess(join(binDir, "kube-apiserver"), apiArgs, apiLog, detached);
    children.push(apiserver);
    await waitFor("kube-apiserver", timeout, async () => (await httpsStatus(`${server}/readyz`, servingCA.certPem, admin)) === 200, apiserver, apiLog);
    await waitFor("the default namespace", timeout, async () => (await httpsStatus(`${server}/api/v1/namespaces/default`, servingCA.certPem, admin)) === 200);

    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(kubeconfig, kubeconfigYaml(server, servingCA.certPem, "admin", admin), { mode: 0o600 });
    log(`control plane ready; kubeconfig ${kubeconfig}`);

    const info: ControlPlaneInfo = {
      dir,
      binDir,
      server,
      kubeconfig,
      etcdPid: etcd.pid!,
      apiserverPid: apiserver.pid!,
      clientCaCert: clientCA.certPem,
      clientCaKey: clientCA.keyPem,
      frontProxyCaCert: frontProxyCA.certPem,
      servingCaCert: servingCA.certPem,
    };
    let stopped = false;
    return {
      ...info,
      kubeconfigFor: (user, groups = []) => kubeconfigForUser(info, clientCA, user, groups),
      async stop() {
        if (stopped) return;
        stopped = true;
        await stopProcesses([apiserver.pid!, etcd.pid!]);
        process.off("exit", onExit);
        if (ownsDir) rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopProcesses(children.map((c) => c.pid!).filter(Boolean));
    process.off("exit", onExit);
    if (ownsDir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function kubeconfigForUser(info: ControlPlaneInfo, clientCA: CertificateAuthority, user: string, groups: string[]): Promise<string> {
  const cert = await issueCertificate(clientCA, { commonName: user, organizations: groups, usage: "client" });
  const safe = user.replace(/[^a-zA-Z0-9_.-]/g, "_");
  const path = join(info.dir, `kubeconfig-${safe}`);
  writeFileSync(path, kubeconfigYaml(info.server, info.servingCaCert, user, cert), { mode: 0o600 });
  return path;
}
