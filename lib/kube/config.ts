// How to reach the API server without loading @kubernetes/client-node: that package pulls in its
// generated API (thousands of modules) and undici, ~80 MiB RSS before any work, and the operator,
// the sidecar and every Job would pay it only to read a kubeconfig. This module reads the forms
// restash meets (client certificates, bearer tokens and token files, basic auth, the in-cluster
// service account) the way client-node does; anything else (exec plugins, auth-providers, proxies,
// plain http, several merged KUBECONFIG files) returns null and the caller uses client-node.
import { accessSync, existsSync, readFileSync } from "node:fs";
import { Agent, type AgentOptions, type RequestOptions } from "node:https";
import { isIPv6 } from "node:net";
import { createSecureContext } from "node:tls";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import { createRequire } from "node:module";

/** What lib/kube/client.ts needs of a kubeconfig: client-node's KubeConfig has the same two members. */
export interface KubeAccess {
  getCurrentCluster(): { server: string } | null;
  /** Sets TLS options, auth headers and an https agent for those TLS options on one request's options. */
  applyToHTTPSOptions(opts: RequestOptions): Promise<void>;
}

/** Where an access came from, so that client-node can load the same configuration on demand. */
export type KubeSource = { file: string } | { default: true };

export interface LiteAccess extends KubeAccess {
  readonly source: KubeSource;
  /** The current context's namespace, else "default" (client-node's default for namespaced paths). */
  readonly namespace: string;
  /** The current context's namespace as written (undefined when it names none). */
  readonly contextNamespace: string | undefined;
}

const SA = "/var/run/secrets/kubernetes.io/serviceaccount";
/** client-go and client-node re-read a token file once a minute (projected tokens rotate). */
const TOKEN_FILE_TTL_MS = 60_000;

interface Parsed {
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  skipTLSVerify: boolean;
  tlsServerName?: string;
  token?: string;
  tokenFile?: string;
  username?: string;
  password?: string;
  impersonateUser?: string;
  namespace?: string;
}

class Lite implements LiteAccess {
  readonly source: KubeSource;
  readonly namespace: string;
  readonly contextNamespace: string | undefined;
  private readonly p: Parsed;
  private agent?: Agent;
  private tls?: AgentOptions;
  private fileToken?: { value: string; readAt: number };

  constructor(p: Parsed, source: KubeSource) {
    this.p = p;
    this.source = source;
    this.namespace = p.namespace || "default";
    this.contextNamespace = p.namespace;
  }

  getCurrentCluster() {
    return { server: this.p.server };
  }

  async applyToHTTPSOptions(opts: RequestOptions): Promise<void> {
    const p = this.p;
    // One TLS context for every connection (CA, client certificate and key parsed once). Given as
    // ca/cert/key instead, each connection builds its own and the agent keys its pool on the PEM
    // text, converting the buffers to strings on every request.
    this.tls ??= {
      secureContext: createSecureContext({ ca: p.ca, cert: p.cert, key: p.key }),
      ...(p.skipTLSVerify ? { rejectUnauthorized: false } : {}),
      ...(p.tlsServerName ? { servername: p.tlsServerName } : {}),
    };
    const tls = this.tls;
    Object.assign(opts, tls);
    const headers = (opts.headers ??= {}) as Record<string, string>;
    if (p.impersonateUser != null) headers["Impersonate-User"] = p.impersonateUser;
    const token = p.tokenFile ? this.readTokenFile(p.tokenFile) : p.token;
    if (token) headers.Authorization = `Bearer ${token}`;
    if (p.username) opts.auth = `${p.username}:${p.password}`;
    this.agent ??= new Agent(tls);
    opts.agent = this.agent;
  }

  private readTokenFile(file: string): string {
    const now = Date.now();
    if (!this.fileToken || now - this.fileToken.readAt > TOKEN_FILE_TTL_MS) this.fileToken = { value: readFileSync(file, "utf8"), readAt: now };
    return this.fileToken.value;
  }
}

/** A mapping of the kubeconfig's YAML: its fields are checked where they are read. */
type Yaml = Record<string, unknown>;
const isYaml = (v: unknown): v is Yaml => typeof v === "object" && v !== null;
/** A scalar of the kubeconfig as a string (client-node stringifies what it sends too). */
const str = (v: unknown): string | undefined => (v == null ? undefined : String(v));

const named = (list: unknown, name: unknown, key: string): Yaml | undefined => {
  if (!Array.isArray(list)) return undefined;
  const o: unknown = list.find((x: unknown) => isYaml(x) && x.name === name);
  if (!isYaml(o)) return undefined;
  const v = o[key] ?? o;
  return isYaml(v) ? v : undefined;
};

/** A kubeconfig's text, or null when it needs client-node (or is invalid: client-node then says why). */
export function parseKubeconfigText(text: string, dir: string, source: KubeSource): LiteAccess | null {
  let doc: unknown;
  try {
    // Loaded here: in a pod (the service account) no YAML is read, and the parser costs ~4 MiB.
    const { load } = createRequire(import.meta.url)("js-yaml") as typeof import("js-yaml");
    doc = load(text);
  } catch {
    return null;
  }
  if (!isYaml(doc)) return null;
  // client-node throws on these entries; let it, with its message.
  for (const [list, fields] of [
    ["clusters", ["name", "cluster"]],
    ["contexts", ["name", "context"]],
    ["users", ["name"]],
  ] as const) {
    if (doc[list] !== undefined && !Array.isArray(doc[list])) return null;
    for (const e of (doc[list] ?? []) as unknown[]) if (fields.some((f) => !(isYaml(e) && e[f]))) return null;
  }
  const context = named(doc.contexts, doc["current-context"], "context");
  if (!context?.cluster) return null;
  const cluster = named(doc.clusters, context.cluster, "cluster");
  const server = cluster?.server;
  if (!cluster || !server || typeof server !== "string" || !server.startsWith("https://") || cluster["proxy-url"]) return null;
  const user = context.user ? named(doc.users, context.user, "user") : undefined;
  // Without a user client-node applies no TLS options at all (not even the CA): rare, leave it to it.
  if (!user) return null;
  if (user.exec || user["auth-provider"]) return null;
  const abs = (f: string) => (isAbsolute(f) ? f : join(dir, f));
  const fileOrData = (file: unknown, data: unknown) => (file ? readFileSync(abs(String(file))) : data ? Buffer.from(String(data), "base64") : undefined);
  try {
    return new Lite(
      {
        server: server.replace(/\/$/, ""),
        ca: fileOrData(cluster["certificate-authority"], cluster["certificate-authority-data"]),
        cert: fileOrData(user["client-certificate"], user["client-certificate-data"]),
        key: fileOrData(user["client-key"], user["client-key-data"]),
        skipTLSVerify: cluster["insecure-skip-tls-verify"] === true,
        tlsServerName: str(cluster["tls-server-name"]),
        token: str(user.token) || (user["token-file"] ? readFileSync(String(user["token-file"])).toString() : undefined),
        username: str(user.username),
        password: str(user.password),
        impersonateUser: str(user.as),
        namespace: str(context.namespace) || undefined,
      },
      source,
    );
  } catch {
    return null;
  }
}

export function liteFromFile(file: string, source: KubeSource = { file }): LiteAccess | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return null;
  }
  return parseKubeconfigText(text, dirname(file), source);
}

/** The in-cluster service account, as client-node's loadFromCluster reads it. */
export function liteInCluster(env: NodeJS.ProcessEnv = process.env, root = SA): LiteAccess | null {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port || port === "80" || port === "8080" || port === "8001") return null;
  try {
    return new Lite(
      {
        server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
        ca: readFileSync(`${root}/ca.crt`),
        skipTLSVerify: false,
        tokenFile: `${root}/token`,
        namespace: existsSync(`${root}/namespace`) ? readFileSync(`${root}/namespace`, "utf8") : undefined,
      },
      { default: true },
    );
  } catch {
    return null;
  }
}

/** client-node's loadFromDefault order: $KUBECONFIG, ~/.kube/config, the service account. */
export function liteFromDefault(env: NodeJS.ProcessEnv = process.env): LiteAccess | null {
  if (process.platform === "win32") return null;
  if (env.KUBECONFIG) {
    const files = env.KUBECONFIG.split(delimiter).filter(Boolean);
    if (files.length !== 1) return null;
    return liteFromFile(files[0], { default: true });
  }
  const home = env.HOME;
  if (home) {
    let homeOk = false;
    try {
      accessSync(home);
      homeOk = true;
    } catch {
      /* client-node ignores an unreadable HOME */
    }
    const config = join(home, ".kube", "config");
    if (homeOk && existsSync(config)) return liteFromFile(config, { default: true });
  }
  if (existsSync(`${SA}/token`)) return liteInCluster(env);
  return null;
}
