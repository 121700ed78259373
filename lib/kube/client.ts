// One thin layer over @kubernetes/client-node: server-side apply with one field manager, status
// patches, and raw requests for what the generated clients do not cover (subresources, discovery).
import { Agent, request as httpsRequest, type RequestOptions } from "node:https";
import {
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  CoreV1Api,
  AppsV1Api,
  BatchV1Api,
  CoordinationV1Api,
  RbacAuthorizationV1Api,
  AuthorizationV1Api,
  type KubernetesObject,
  type KubernetesListObject,
} from "@kubernetes/client-node";

export const FIELD_MANAGER = "restash";

export interface KubeObject extends KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: NonNullable<KubernetesObject["metadata"]> & { name?: string; namespace?: string };
  spec?: any;
  status?: any;
  [key: string]: unknown;
}

/** An error answered by the API server, with its HTTP code and Status reason. */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly body: any;
  constructor(code: number, body: any, what: string) {
    const msg = typeof body === "object" && body?.message ? body.message : String(body ?? "");
    super(`${what}: ${code} ${msg}`.trim());
    this.name = "ApiError";
    this.code = code;
    this.reason = typeof body === "object" && body?.reason ? body.reason : "";
    this.body = body;
  }
}

export const isNotFound = (e: unknown) => e instanceof ApiError && e.code === 404;
export const isConflict = (e: unknown) => e instanceof ApiError && e.code === 409;

class ObjectPaths extends KubernetesObjectApi {
  static forConfig(kc: KubeConfig): ObjectPaths {
    const client = kc.makeApiClient(ObjectPaths);
    client.setDefaultNamespace(kc);
    return client;
  }
  path(spec: KubernetesObject, action: "create" | "read" | "patch" | "delete" | "list" | "replace"): Promise<string> {
    return this.specUriPath(spec, action as any);
  }
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
  readonly kc: KubeConfig;
  readonly objects: KubernetesObjectApi;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly batch: BatchV1Api;
  readonly coordination: CoordinationV1Api;
  readonly rbac: RbacAuthorizationV1Api;
  readonly authz: AuthorizationV1Api;
  private readonly paths: ObjectPaths;

  readonly impersonation?: { user: string; groups: string[] };
  /** One keep-alive connection pool per client: client-node hands out a fresh agent per request,
   *  which costs a TLS handshake per call and dominates the operator at a thousand objects. */
  private agent?: Agent;

  constructor(kc: KubeConfig, impersonation?: { user: string; groups: string[] }) {
    this.kc = kc;
    this.impersonation = impersonation;
    this.objects = KubernetesObjectApi.makeApiClient(kc);
    this.paths = ObjectPaths.forConfig(kc);
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.batch = kc.makeApiClient(BatchV1Api);
    this.coordination = kc.makeApiClient(CoordinationV1Api);
    this.rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    this.authz = kc.makeApiClient(AuthorizationV1Api);
  }

  static fromFile(path: string): Kube {
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    return new Kube(kc);
  }

  static fromDefault(): Kube {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    return new Kube(kc);
  }

  /** The same API server, acting as another user through impersonation headers. */
  impersonate(user: string, groups: string[] = []): Kube {
    return new Kube(this.kc, { user, groups });
  }

  /** Closes pooled connections (a process that ends its work should not wait on idle sockets). */
  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }

  async request<T = any>(path: string, init: RequestInitLite = {}): Promise<T> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    const url = new URL(cluster.server.replace(/\/$/, "") + path);
    for (const [k, v] of Object.entries(init.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const opts: RequestOptions = { method: init.method ?? "GET", headers: { Accept: "application/json", ...(init.headers ?? {}) } };
    await this.kc.applyToHTTPSOptions(opts);
    const fresh = opts.agent as Agent | undefined;
    if (fresh) {
      this.agent ??= new Agent({ ...(fresh as any).options, keepAlive: true, maxSockets: 32, maxFreeSockets: 32, scheduling: "lifo" });
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
          let body: any = text;
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

  async pathOf(obj: KubernetesObject, action: "create" | "read" | "patch" | "delete" | "list" = "read"): Promise<string> {
    const path = await this.paths.path(obj, action);
    return path.startsWith("/") ? path : new URL(path).pathname;
  }

  /** Server-side apply with restash's field manager. Conflicts are errors unless `force`. */
  async apply<T extends KubeObject>(obj: T, opts: ApplyOptions = {}): Promise<T> {
    const path = await this.pathOf(obj, "patch");
    return this.request<T>(path, {
      method: "PATCH",
      body: obj,
      contentType: PatchStrategy.ServerSideApply,
      query: { fieldManager: opts.fieldManager ?? FIELD_MANAGER, force: opts.force ? true : undefined, dryRun: opts.dryRun ? "All" : undefined },
    });
  }

  /** Server-side apply of the status subresource (only the fields given are owned). */
  async applyStatus<T extends KubeObject>(obj: T, opts: ApplyOptions = {}): Promise<T> {
    const path = (await this.pathOf(obj, "patch")) + "/status";
    return this.request<T>(path, {
      method: "PATCH",
      body: obj,
      contentType: PatchStrategy.ServerSideApply,
      query: { fieldManager: opts.fieldManager ?? FIELD_MANAGER, force: opts.force ?? true },
    });
  }

  /** JSON merge patch of the main resource or a subresource. */
  async mergePatch<T extends KubeObject>(obj: KubernetesObject, patch: unknown, subresource?: "status"): Promise<T> {
    const path = (await this.pathOf(obj, "patch")) + (subresource ? `/${subresource}` : "");
    return this.request<T>(path, { method: "PATCH", body: patch, contentType: "application/merge-patch+json" });
  }

  async get<T extends KubeObject>(apiVersion: string, kind: string, name: string, namespace?: string): Promise<T> {
    const path = await this.pathOf({ apiVersion, kind, metadata: { name, namespace } }, "read");
    return this.request<T>(path);
  }

  async getOrNull<T extends KubeObject>(apiVersion: string, kind: string, name: string, namespace?: string): Promise<T | null> {
    try {
      return await this.get<T>(apiVersion, kind, name, namespace);
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async list<T extends KubeObject>(apiVersion: string, kind: string, namespace?: string, labelSelector?: string): Promise<KubernetesListObject<T>> {
    const path = await this.pathOf({ apiVersion, kind, metadata: { namespace } }, "list");
    return this.request<KubernetesListObject<T>>(path, { query: { labelSelector } });
  }

  async create<T extends KubeObject>(obj: T): Promise<T> {
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

export function parseKubeconfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}
