// One thin layer over the API server: server-side apply with one field manager, status patches,
// raw requests, watches and discovery over node:https. @kubernetes/client-node is loaded only when
// its own objects are asked for (`kc`, the generated API clients) or the kubeconfig needs it
// (exec plugins, auth-providers, proxies): see config.ts.
import { Agent, request as httpsRequest, type AgentOptions, type RequestOptions } from "node:https";
import { createRequire } from "node:module";
// Types only: the package itself is loaded on first use of `kc` or a generated API client (see
// config.ts for why the operator does not load it otherwise).
import type {
  KubeConfig,
  KubernetesObjectApi,
  CoreV1Api,
  AppsV1Api,
  BatchV1Api,
  CoordinationV1Api,
  RbacAuthorizationV1Api,
  AuthorizationV1Api,
  KubernetesObject,
  KubernetesListObject,
  V1ObjectMeta,
  ApiType,
  ApiConstructor,
} from "@kubernetes/client-node";
import { liteFromDefault, liteFromFile, type KubeAccess, type LiteAccess } from "./config.ts";
import { streamWatch, type WatchCallback, type WatchDone } from "./watch.ts";

type ClientNode = typeof import("@kubernetes/client-node");
/** @kubernetes/client-node, loaded synchronously on first use (require of an ES module). */
export function clientNode(): ClientNode {
  return createRequire(import.meta.url)("@kubernetes/client-node") as ClientNode;
}

const SERVER_SIDE_APPLY = "application/apply-patch+yaml";

export const FIELD_MANAGER = "restash";

/**
 * An object as the API server serves it, of a kind the code does not name. The generic methods
 * below default to it; callers that know the kind name its type (`kube.get<BackupSession>(...)`,
 * `kube.list<V1Pod>(...)`): the generated Stash types (schema/types.generated.ts) or client-node's.
 */
export interface KubeObject extends KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta;
  spec?: any; // transitional (#16): becomes unknown once every reader of an unnamed kind's spec names its type
  status?: any; // transitional (#16): as spec
  [key: string]: unknown;
}

/** What a typed method accepts: any object with apiVersion/kind/metadata (client-node's models, the generated kinds). */
export type AnyObject = KubernetesObject;

/** A collection as the API server lists it. */
export type KubeList<T extends AnyObject = KubeObject> = KubernetesListObject<T>;

/** An error answered by the API server, with its HTTP code and Status reason. */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  /** The answer as sent: usually a metav1.Status, a string when it was not JSON. */
  readonly body: any; // boundary: the server's JSON answer, unvalidated; callers read its Status fields
  constructor(code: number, body: unknown, what: string) {
    const status = typeof body === "object" && body !== null ? (body as { message?: unknown; reason?: unknown }) : undefined;
    const msg = status?.message ? String(status.message) : String(body ?? "");
    super(`${what}: ${code} ${msg}`.trim());
    this.name = "ApiError";
    this.code = code;
    this.reason = status?.reason ? String(status.reason) : "";
    this.body = body;
  }
}

export const isNotFound = (e: unknown) => e instanceof ApiError && e.code === 404;
export const isConflict = (e: unknown) => e instanceof ApiError && e.code === 409;

const isKubeConfig = (c: KubeConfig | LiteAccess): c is KubeConfig => typeof (c as KubeConfig).loadFromFile === "function";

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

export interface ApplyOptions {
  force?: boolean;
  dryRun?: boolean;
  fieldManager?: string;
}

export interface RequestInitLite {
  method?: string;
  body?: unknown;
  contentType?: string;
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
}

export class Kube {
  private readonly access: KubeAccess;
  private readonly source: KubeConfig | LiteAccess;
  private clientNodeConfig?: KubeConfig;
  private readonly apiClients = new Map<unknown, unknown>();
  /** Discovery per API version (apiVersion -> resources), as client-node's KubernetesObjectApi caches it. */
  private readonly discovery = new Map<string, ApiResource[]>();
  private readonly discoveryInflight = new Map<string, Promise<{ resources?: ApiResource[] }>>();

  readonly impersonation?: { user: string; groups: string[] };
  /** One keep-alive connection pool per client: client-node hands out a fresh agent per request,
   *  which costs a TLS handshake per call and dominates the operator at a thousand objects. */
  private agent?: Agent;
  /** Watches hold their connection for minutes: their own pool, so they never wait for a request slot. */
  private watchAgent?: Agent;

  constructor(kc: KubeConfig | LiteAccess, impersonation?: { user: string; groups: string[] }) {
    this.source = kc;
    this.access = kc;
    if (isKubeConfig(kc)) this.clientNodeConfig = kc;
    this.impersonation = impersonation;
  }

  /** client-node's KubeConfig for this configuration (loads @kubernetes/client-node on first use). */
  get kc(): KubeConfig {
    if (!this.clientNodeConfig) {
      const lite = this.source as LiteAccess;
      const kc = new (clientNode().KubeConfig)();
      if ("file" in lite.source) kc.loadFromFile(lite.source.file);
      else kc.loadFromDefault();
      this.clientNodeConfig = kc;
    }
    return this.clientNodeConfig;
  }

  private apiClient<T extends ApiType>(type: ApiConstructor<T>): T {
    let c = this.apiClients.get(type) as T | undefined;
    if (!c) {
      c = this.kc.makeApiClient(type);
      this.apiClients.set(type, c);
    }
    return c;
  }
  get objects(): KubernetesObjectApi {
    let c = this.apiClients.get("objects") as KubernetesObjectApi | undefined;
    if (!c) {
      c = clientNode().KubernetesObjectApi.makeApiClient(this.kc);
      this.apiClients.set("objects", c);
    }
    return c;
  }
  get core(): CoreV1Api {
    return this.apiClient(clientNode().CoreV1Api);
  }
  get apps(): AppsV1Api {
    return this.apiClient(clientNode().AppsV1Api);
  }
  get batch(): BatchV1Api {
    return this.apiClient(clientNode().BatchV1Api);
  }
  get coordination(): CoordinationV1Api {
    return this.apiClient(clientNode().CoordinationV1Api);
  }
  get rbac(): RbacAuthorizationV1Api {
    return this.apiClient(clientNode().RbacAuthorizationV1Api);
  }
  get authz(): AuthorizationV1Api {
    return this.apiClient(clientNode().AuthorizationV1Api);
  }

  static fromFile(path: string): Kube {
    const lite = liteFromFile(path);
    if (lite) return new Kube(lite);
    const kc = new (clientNode().KubeConfig)();
    kc.loadFromFile(path);
    return new Kube(kc);
  }

  static fromDefault(): Kube {
    const lite = liteFromDefault();
    if (lite) return new Kube(lite);
    const kc = new (clientNode().KubeConfig)();
    kc.loadFromDefault();
    return new Kube(kc);
  }

  /** The same API server, acting as another user through impersonation headers. */
  impersonate(user: string, groups: string[] = []): Kube {
    return new Kube(this.source, { user, groups });
  }

  /** Closes pooled connections (a process that ends its work should not wait on idle sockets). */
  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
    this.watchAgent?.destroy();
    this.watchAgent = undefined;
  }

  /** A raw request; the answer is JSON the caller names (`request<V1Status>(...)`), unknown until then. */
  async request<T = unknown>(path: string, init: RequestInitLite = {}): Promise<T> {
    const cluster = this.access.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    const url = new URL(cluster.server.replace(/\/$/, "") + path);
    for (const [k, v] of Object.entries(init.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const opts: RequestOptions = { method: init.method ?? "GET", headers: { Accept: "application/json", ...(init.headers ?? {}) } };
    await this.access.applyToHTTPSOptions(opts);
    const fresh = opts.agent as Agent | undefined;
    if (fresh) {
      this.agent ??= new Agent({ ...agentOptions(fresh), keepAlive: true, maxSockets: 32, maxFreeSockets: 32, scheduling: "lifo" });
      opts.agent = this.agent;
    }
    const imp = this.impersonation;
    if (imp) {
      (opts.headers as Record<string, string | string[]>)["Impersonate-User"] = imp.user;
      if (imp.groups.length) (opts.headers as Record<string, string | string[]>)["Impersonate-Group"] = imp.groups;
    }
    let payload: string | undefined;
    if (init.body !== undefined) {
      payload = typeof init.body === "string" ? init.body : JSON.stringify(init.body);
      (opts.headers as Record<string, string>)["Content-Type"] = init.contentType ?? "application/json";
      // Explicit length: Node does not chunk a DELETE body, and a pooled connection needs the framing.
      (opts.headers as Record<string, string>)["Content-Length"] = String(Buffer.byteLength(payload));
    }
    return new Promise<T>((resolve, reject) => {
      const req = httpsRequest(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            /* not JSON */
          }
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) resolve(body as T);
          else reject(new ApiError(code, body, `${opts.method} ${url.pathname}`));
        });
        res.on("error", reject);
      });
      req.on("error", reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /**
   * Watch a collection: `callback(type, object)` per event, `done` once when the stream ends or
   * fails (client-node's Watch.watch contract). `headers.Accept` may ask for metadata only
   * (watch.ts METADATA_ONLY.watch).
   */
  async watch<T = KubeObject>(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    callback: WatchCallback<T>,
    done: WatchDone,
    headers: Record<string, string> = {},
  ): Promise<AbortController> {
    const cluster = this.access.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    const url = new URL(cluster.server.replace(/\/$/, "") + path);
    url.searchParams.set("watch", "true");
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const opts: RequestOptions = { headers: { Accept: "application/json", ...headers } };
    await this.access.applyToHTTPSOptions(opts);
    const fresh = opts.agent as Agent | undefined;
    if (fresh) {
      this.watchAgent ??= new Agent({ ...agentOptions(fresh), keepAlive: true });
      opts.agent = this.watchAgent;
    }
    const imp = this.impersonation;
    if (imp) {
      (opts.headers as Record<string, string | string[]>)["Impersonate-User"] = imp.user;
      if (imp.groups.length) (opts.headers as Record<string, string | string[]>)["Impersonate-Group"] = imp.groups;
    }
    return streamWatch(url, opts, callback, done);
  }

  /** The namespace the kubeconfig's current context names, if any. */
  contextNamespace(): string | undefined {
    if (!isKubeConfig(this.source)) return this.source.contextNamespace;
    const kc = this.source;
    return kc.getContextObject(kc.getCurrentContext())?.namespace;
  }

  private get defaultNamespace(): string {
    if (!isKubeConfig(this.source)) return this.source.namespace;
    const kc = this.source;
    return (kc.currentContext && kc.getContextObject(kc.currentContext)?.namespace) || "default";
  }

  /** The resource of a kind in an API version, from discovery (cached; refetched when the kind is not in it). */
  private async resource(apiVersion: string, kind: string): Promise<ApiResource | undefined> {
    const cached = this.discovery.get(apiVersion)?.find((r) => r.kind === kind);
    if (cached) return cached;
    let list: { resources?: ApiResource[] };
    try {
      // Concurrent first uses of an API version share one discovery read.
      let inflight = this.discoveryInflight.get(apiVersion);
      if (!inflight) {
        inflight = this.request<{ resources?: ApiResource[] }>(apiVersionPath(apiVersion)).finally(() => this.discoveryInflight.delete(apiVersion));
        this.discoveryInflight.set(apiVersion, inflight);
      }
      list = await inflight;
    } catch (e) {
      // Not an ApiError on purpose: a missing API version is not a missing object (isNotFound).
      const err = new Error(`Failed to fetch resource metadata for ${apiVersion}/${kind}: ${(e as Error).message}`) as Error & { code?: number };
      if (e instanceof ApiError) err.code = e.code;
      throw err;
    }
    const resources = (list?.resources ?? []).map((r) => ({ name: r.name, kind: r.kind, namespaced: r.namespaced }));
    this.discovery.set(apiVersion, resources);
    return resources.find((r) => r.kind === kind);
  }

  /** The URL path of an object or collection, as client-node's KubernetesObjectApi builds it. */
  async pathOf(obj: KubernetesObject, action: "create" | "read" | "patch" | "delete" | "list" = "read"): Promise<string> {
    const spec = obj as KubernetesObject & { metadata: NonNullable<KubernetesObject["metadata"]> };
    if (!spec.kind) throw new Error("Required spec property kind is not set");
    if (!spec.apiVersion) spec.apiVersion = "v1";
    if (!spec.metadata) spec.metadata = {};
    const resource = await this.resource(spec.apiVersion, spec.kind);
    if (!resource) throw new Error(`Unrecognized API version and kind: ${spec.apiVersion} ${spec.kind}`);
    if (resource.namespaced && !spec.metadata.namespace && action !== "list") spec.metadata.namespace = this.defaultNamespace;
    const parts = [apiVersionPath(spec.apiVersion)];
    if (resource.namespaced && spec.metadata.namespace) parts.push("namespaces", encodeURIComponent(String(spec.metadata.namespace)));
    parts.push(resource.name);
    if (action !== "create" && action !== "list") {
      if (!spec.metadata.name) throw new Error("Required spec property name is not set");
      parts.push(encodeURIComponent(String(spec.metadata.name)));
    }
    return parts.join("/").toLowerCase();
  }

  /** Server-side apply with restash's field manager. Conflicts are errors unless `force`. */
  async apply<T extends AnyObject>(obj: T, opts: ApplyOptions = {}): Promise<T> {
    const path = await this.pathOf(obj, "patch");
    return this.request<T>(path, {
      method: "PATCH",
      body: obj,
      contentType: SERVER_SIDE_APPLY,
      query: { fieldManager: opts.fieldManager ?? FIELD_MANAGER, force: opts.force ? true : undefined, dryRun: opts.dryRun ? "All" : undefined },
    });
  }

  /** Server-side apply of the status subresource (only the fields given are owned). */
  async applyStatus<T extends AnyObject>(obj: T, opts: ApplyOptions = {}): Promise<T> {
    const path = (await this.pathOf(obj, "patch")) + "/status";
    return this.request<T>(path, {
      method: "PATCH",
      body: obj,
      contentType: SERVER_SIDE_APPLY,
      query: { fieldManager: opts.fieldManager ?? FIELD_MANAGER, force: opts.force ?? true },
    });
  }

  /** JSON merge patch of the main resource or a subresource. */
  async mergePatch<T extends AnyObject = KubeObject>(obj: KubernetesObject, patch: unknown, subresource?: "status"): Promise<T> {
    const path = (await this.pathOf(obj, "patch")) + (subresource ? `/${subresource}` : "");
    return this.request<T>(path, { method: "PATCH", body: patch, contentType: "application/merge-patch+json" });
  }

  async get<T extends AnyObject = KubeObject>(apiVersion: string, kind: string, name: string, namespace?: string): Promise<T> {
    const path = await this.pathOf({ apiVersion, kind, metadata: { name, namespace } }, "read");
    return this.request<T>(path);
  }

  async getOrNull<T extends AnyObject = KubeObject>(apiVersion: string, kind: string, name: string, namespace?: string): Promise<T | null> {
    try {
      return await this.get<T>(apiVersion, kind, name, namespace);
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async list<T extends AnyObject = KubeObject>(apiVersion: string, kind: string, namespace?: string, labelSelector?: string): Promise<KubeList<T>> {
    const path = await this.pathOf({ apiVersion, kind, metadata: { namespace } }, "list");
    return this.request<KubeList<T>>(path, { query: { labelSelector } });
  }

  async create<T extends AnyObject>(obj: T): Promise<T> {
    const path = await this.pathOf(obj, "create");
    return this.request<T>(path, { method: "POST", body: obj, query: { fieldManager: FIELD_MANAGER } });
  }

  /** Delete; absent is fine. Background propagation, as Stash does. */
  async delete(obj: KubernetesObject, propagationPolicy: "Background" | "Foreground" | "Orphan" = "Background"): Promise<boolean> {
    const path = await this.pathOf(obj, "delete");
    try {
      await this.request(path, { method: "DELETE", body: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy } });
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }
}

/** The options an https.Agent was made with (Node keeps them on the agent; @types/node does not declare them). */
const agentOptions = (agent: Agent): AgentOptions => (agent as Agent & { options?: AgentOptions }).options ?? {};

const apiVersionPath = (apiVersion: string) => "/" + [apiVersion.includes("/") ? "apis" : "api", apiVersion].join("/");

export function parseKubeconfig(path: string): KubeConfig {
  const kc = new (clientNode().KubeConfig)();
  kc.loadFromFile(path);
  return kc;
}
