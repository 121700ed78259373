// The real storage and metrics services tests run against, each on a free 127.0.0.1 port with a
// temporary directory, torn down when the process exits:
//   MinIO (S3), restic's rest-server (with htpasswd auth, optional TLS), the Prometheus pushgateway.
// Binaries come from scripts/install-tools.sh ($RESTASH_TOOLS_DIR when the test runner set it).
// One shared instance of each per test process (like testing/cluster.ts); fresh buckets, prefixes
// and REST repository paths per test.
//
//   toolsDir() -> string
//   startMinio(opts?) / startRestServer(opts?) / startPushgateway(opts?)  -> a service of one's own
//   sharedMinio() / sharedRestServer() / sharedPushgateway()              -> the process-wide ones
//   freshName(prefix) -> "prefix-<6 hex>" (DNS- and bucket-safe)
//   minio.createBucket(name), minio.listObjects(bucket, prefix), restServer.repoUrl(name)
//   pushgateway.metrics() -> text of /metrics
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort, stopProcesses } from "../local/control-plane.ts";

const repoRoot = resolve(import.meta.dirname, "..");

/** Where restic, rest-server, pushgateway and minio live (builds them on first use). */
export function toolsDir(): string {
  const fromEnv = process.env.RESTASH_TOOLS_DIR;
  if (fromEnv && existsSync(join(fromEnv, "restic"))) return fromEnv;
  const out = execFileSync("bash", [join(repoRoot, "scripts/install-tools.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  return out.trim().split("\n").pop() ?? "";
}

export const freshName = (prefix: string) =>
  `${prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .slice(0, 40)}-${randomBytes(3).toString("hex")}`;

export interface Service {
  url: string;
  dir: string;
  pid: number;
  stop(): Promise<void>;
}

interface Started {
  child: ChildProcess;
  dir: string;
  logFile: string;
  stop(): Promise<void>;
}

async function launch(
  name: string,
  bin: string,
  args: (dir: string) => string[],
  env: Record<string, string>,
  ready: () => Promise<boolean>,
  dir?: string,
): Promise<Started> {
  const ownsDir = !dir;
  const root = dir ?? mkdtempSync(join(tmpdir(), `restash-${name}-`));
  mkdirSync(root, { recursive: true });
  const logFile = join(root, `${name}.log`);
  const fd = openSync(logFile, "a");
  const child = spawn(bin, args(root), { stdio: ["ignore", fd, fd], env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? root, ...env } });
  closeSync(fd);
  // Never what keeps a test process alive: the exit hook below kills it.
  child.unref();
  const onExit = () => {
    try {
      child.kill("SIGKILL");
    } catch {
      /* gone */
    }
    if (ownsDir) rmSync(root, { recursive: true, force: true });
  };
  process.on("exit", onExit);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.pid) await stopProcesses([child.pid], 3_000);
    process.off("exit", onExit);
    if (ownsDir) rmSync(root, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      const tail = existsSync(logFile) ? readFileSync(logFile, "utf8").split("\n").slice(-15).join("\n") : "";
      await stop();
      throw new Error(`${name} exited with code ${child.exitCode} before it was ready\n${tail}`);
    }
    if (await ready().catch(() => false)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} was not ready within 30 s (log: ${logFile})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, dir: root, logFile, stop };
}

interface HttpResult {
  status: number;
  body: string;
}

function http(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer; ca?: string } = {}): Promise<HttpResult> {
  return new Promise((res, rej) => {
    const u = new URL(url);
    const req = (u.protocol === "https:" ? httpsRequest : httpRequest)(u, { method: init.method ?? "GET", headers: init.headers, ca: init.ca }, (r) => {
      let body = "";
      r.setEncoding("utf8");
      r.on("data", (c: string) => (body += c));
      r.on("end", () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on("error", rej);
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout: ${init.method ?? "GET"} ${url}`)));
    req.end(init.body);
  });
}

// ---------------------------------------------------------------- MinIO (S3)

export interface Minio extends Service {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
  createBucket(name: string): Promise<void>;
  /** Object keys under a prefix (ListObjectsV2, first 1000). */
  listObjects(bucket: string, prefix?: string): Promise<string[]>;
}

/** AWS Signature V4 over an S3 request (enough for bucket create and list in tests). */
function signS3(method: string, url: URL, body: string, creds: { accessKey: string; secretKey: string; region: string }): Record<string, string> {
  const now = new Date();
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
  const day = amzDate.slice(0, 8);
  const payloadHash = createHash("sha256").update(body).digest("hex");
  const query = [...url.searchParams.entries()]
    .map(([k, v]) => [encodeURIComponent(k), encodeURIComponent(v)])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const headers: Record<string, string> = { host: url.host, "x-amz-content-sha256": payloadHash, "x-amz-date": amzDate };
  const signed = Object.keys(headers).sort();
  const canonicalHeaders = signed.map((h) => `${h}:${headers[h]}\n`).join("");
  const canonical = `${method}\n${url.pathname}\n${query}\n${canonicalHeaders}\n${signed.join(";")}\n${payloadHash}`;
  const scope = `${day}/${creds.region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, createHash("sha256").update(canonical).digest("hex")].join("\n");
  const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data).digest();
  const kSigning = hmac(hmac(hmac(hmac(`AWS4${creds.secretKey}`, day), creds.region), "s3"), "aws4_request");
  const signature = createHmac("sha256", kSigning).update(toSign).digest("hex");
  return {
    ...headers,
    authorization: `AWS4-HMAC-SHA256 Credential=${creds.accessKey}/${scope}, SignedHeaders=${signed.join(";")}, Signature=${signature}`,
  };
}

export async function startMinio(opts: { dir?: string } = {}): Promise<Minio> {
  const bin = join(toolsDir(), "minio");
  const [port, consolePort] = [await freePort(), await freePort()];
  const endpoint = `http://127.0.0.1:${port}`;
  const accessKey = "restash-test";
  const secretKey = randomBytes(12).toString("hex");
  const region = "us-east-1";
  const creds = { accessKey, secretKey, region };
  const s = await launch(
    "minio",
    bin,
    (dir) => ["server", join(dir, "data"), "--address", `127.0.0.1:${port}`, "--console-address", `127.0.0.1:${consolePort}`, "--quiet"],
    { MINIO_ROOT_USER: accessKey, MINIO_ROOT_PASSWORD: secretKey, MINIO_BROWSER: "off", MINIO_UPDATE: "off", MINIO_REGION: region },
    // /minio/health/ready answers before S3 calls work ("XMinioServerNotInitialized"): probe a signed ListBuckets.
    async () => {
      const url = new URL("/", endpoint);
      return (await http(url.href, { headers: signS3("GET", url, "", creds) })).status === 200;
    },
    opts.dir,
  );
  const s3 = async (method: string, path: string) => {
    const url = new URL(path, endpoint);
    const res = await http(url.href, { method, headers: signS3(method, url, "", creds) });
    if (res.status >= 300) throw new Error(`S3 ${method} ${url.pathname}${url.search}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
    return res.body;
  };
  return {
    url: endpoint,
    endpoint,
    dir: s.dir,
    pid: s.child.pid!,
    accessKey,
    secretKey,
    region,
    stop: s.stop,
    createBucket: async (name) => {
      await s3("PUT", `/${name}`);
    },
    listObjects: async (bucket, prefix = "") => {
      const body = await s3("GET", `/${bucket}?list-type=2&max-keys=1000${prefix ? `&prefix=${encodeURIComponent(prefix)}` : ""}`);
      return [...body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]);
    },
  };
}

// ---------------------------------------------------------------- rest-server

export interface RestServer extends Service {
  /** Base URL without credentials, e.g. http://127.0.0.1:1234 */
  url: string;
  username?: string;
  password?: string;
  /** PEM of the CA that signed the server certificate (TLS only). */
  caPem?: string;
  /** URL of a repository path on this server (no credentials). */
  repoUrl(name: string): string;
}

export interface RestServerOptions {
  dir?: string;
  /** Require this user (htpasswd, {SHA} hash). Default: a random password for user "restash". false: --no-auth. */
  auth?: { username: string; password: string } | false;
  /** Serve HTTPS with this certificate (from lib/pki.ts). */
  tls?: { certPem: string; keyPem: string; caPem: string };
}

export async function startRestServer(opts: RestServerOptions = {}): Promise<RestServer> {
  const bin = join(toolsDir(), "rest-server");
  const port = await freePort();
  const auth = opts.auth === false ? undefined : (opts.auth ?? { username: "restash", password: randomBytes(9).toString("base64url") });
  const scheme = opts.tls ? "https" : "http";
  const url = `${scheme}://127.0.0.1:${port}`;
  const s = await launch(
    "rest-server",
    bin,
    (dir) => {
      const data = join(dir, "data");
      mkdirSync(data, { recursive: true });
      const args = ["--path", data, "--listen", `127.0.0.1:${port}`];
      if (auth) {
        const htpasswd = join(dir, "htpasswd");
        writeFileSync(htpasswd, `${auth.username}:{SHA}${createHash("sha1").update(auth.password).digest("base64")}\n`, { mode: 0o600 });
        args.push("--htpasswd-file", htpasswd);
      } else args.push("--no-auth");
      if (opts.tls) {
        writeFileSync(join(dir, "tls.crt"), opts.tls.certPem);
        writeFileSync(join(dir, "tls.key"), opts.tls.keyPem, { mode: 0o600 });
        args.push("--tls", "--tls-cert", join(dir, "tls.crt"), "--tls-key", join(dir, "tls.key"));
      }
      return args;
    },
    {},
    async () => {
      const r = await http(`${url}/`, { ca: opts.tls?.caPem });
      return r.status > 0;
    },
    opts.dir,
  );
  return {
    url,
    dir: s.dir,
    pid: s.child.pid!,
    username: auth?.username,
    password: auth?.password,
    caPem: opts.tls?.caPem,
    stop: s.stop,
    repoUrl: (name) => `${url}/${name}/`,
  };
}

// ---------------------------------------------------------------- pushgateway

export interface Pushgateway extends Service {
  /** The exposition text of /metrics. */
  metrics(): Promise<string>;
}

export async function startPushgateway(opts: { dir?: string } = {}): Promise<Pushgateway> {
  const bin = join(toolsDir(), "pushgateway");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const s = await launch(
    "pushgateway",
    bin,
    () => [`--web.listen-address=127.0.0.1:${port}`],
    {},
    async () => (await http(`${url}/-/ready`)).status === 200,
    opts.dir,
  );
  return {
    url,
    dir: s.dir,
    pid: s.child.pid!,
    stop: s.stop,
    metrics: async () => {
      const r = await http(`${url}/metrics`);
      if (r.status !== 200) throw new Error(`pushgateway /metrics: HTTP ${r.status}`);
      return r.body;
    },
  };
}

// ---------------------------------------------------------------- shared per process

let minio: Promise<Minio> | undefined;
let rest: Promise<RestServer> | undefined;
let pushgateway: Promise<Pushgateway> | undefined;

/** The process-wide MinIO, started on first use. */
export function sharedMinio(): Promise<Minio> {
  minio ??= startMinio();
  return minio;
}

/** The process-wide rest-server (htpasswd auth, plain HTTP), started on first use. */
export function sharedRestServer(): Promise<RestServer> {
  rest ??= startRestServer();
  return rest;
}

/** The process-wide pushgateway, started on first use. */
export function sharedPushgateway(): Promise<Pushgateway> {
  pushgateway ??= startPushgateway();
  return pushgateway;
}

/** A new bucket on the shared MinIO for one test. */
export async function freshBucket(prefix = "t"): Promise<{ minio: Minio; bucket: string }> {
  const m = await sharedMinio();
  const bucket = freshName(prefix);
  await m.createBucket(bucket);
  return { minio: m, bucket };
}

/** Stops every shared service (the exit hooks also do it, as a last resort). */
export async function stopSharedServices(): Promise<void> {
  const all = [minio, rest, pushgateway];
  minio = rest = pushgateway = undefined;
  await Promise.all(all.map(async (p) => (await p?.catch(() => undefined))?.stop()));
}
