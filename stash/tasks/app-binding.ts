// AppBinding (appcatalog.appscode.com/v1alpha1) → how a step reaches the database: host, port,
// user and password (from the Secret the AppBinding names), database and sslmode. Pure: the
// caller reads the AppBinding and its Secret. Errors name the AppBinding, the field and the
// Secret, never a value from it.
import { secretDataOf } from "../../lib/kube/secret-data.ts";
import { TaskError } from "./task-errors.ts";

export const APPBINDING_API_VERSION = "appcatalog.appscode.com/v1alpha1";

export interface AppBindingLike {
  metadata: { name?: string; namespace?: string };
  spec?: {
    type?: string;
    clientConfig?: { url?: string; service?: { scheme?: string; namespace?: string; name?: string; port?: number; path?: string; query?: string } };
    secret?: { name?: string };
    parameters?: unknown;
  };
}

export interface DbConnection {
  host: string;
  port: number;
  user: string;
  password: string;
  /** The database named by the URL or service path, if any. */
  database?: string;
  sslmode?: string;
}

/** Credential keys per database kind (Stash: Postgres POSTGRES_USER/POSTGRES_PASSWORD). */
export const POSTGRES_KEYS = { user: "POSTGRES_USER", password: "POSTGRES_PASSWORD" } as const;

const ref = (ab: AppBindingLike) => ({ kind: "AppBinding", namespace: ab.metadata.namespace, name: ab.metadata.name ?? "<unnamed>" });

/** The Secret an AppBinding names: {namespace, name}; throws when spec.secret.name is empty. */
export function appBindingSecretRef(ab: AppBindingLike): { namespace: string; name: string } {
  const name = ab.spec?.secret?.name;
  if (!name) throw new TaskError("InvalidAppBinding", "names no credentials Secret", { object: ref(ab), field: "spec.secret.name" });
  return { namespace: ab.metadata.namespace ?? "", name };
}

/** Host, port, database and sslmode from spec.clientConfig (url, or service → `<svc>.<ns>.svc`). */
export function appBindingEndpoint(ab: AppBindingLike, defaultPort: number): { host: string; port: number; database?: string; sslmode?: string } {
  const cc = ab.spec?.clientConfig ?? {};
  if (cc.url) {
    let u: URL;
    try {
      u = new URL(cc.url);
    } catch {
      throw new TaskError("InvalidAppBinding", `is not a valid URL`, { object: ref(ab), field: "spec.clientConfig.url" });
    }
    const database = decodeURIComponent(u.pathname.replace(/^\/+/, "")) || undefined;
    return {
      host: u.hostname.replace(/^\[|\]$/g, ""),
      port: u.port ? Number(u.port) : defaultPort,
      database,
      sslmode: u.searchParams.get("sslmode") ?? undefined,
    };
  }
  const svc = cc.service;
  if (svc?.name) {
    const q = new URLSearchParams(svc.query ?? "");
    const database = (svc.path ?? "").replace(/^\/+/, "") || undefined;
    return {
      host: `${svc.name}.${svc.namespace || ab.metadata.namespace}.svc`,
      port: svc.port ?? defaultPort,
      database,
      sslmode: q.get("sslmode") ?? undefined,
    };
  }
  throw new TaskError("InvalidAppBinding", "sets neither url nor service", { object: ref(ab), field: "spec.clientConfig" });
}

/**
 * The connection a step uses. `secret` is the Secret read by the caller (null: absent), whose
 * `keys.user` / `keys.password` hold the credentials.
 */
export function appBindingConnection(
  ab: AppBindingLike,
  secret: { data?: Record<string, string>; stringData?: Record<string, string> } | null,
  keys: { user: string; password: string } = POSTGRES_KEYS,
  defaultPort = 5432,
): DbConnection {
  const endpoint = appBindingEndpoint(ab, defaultPort);
  const s = appBindingSecretRef(ab);
  if (!secret) throw new TaskError("AppBindingSecretNotFound", `Secret ${s.namespace}/${s.name} not found`, { object: ref(ab), field: "spec.secret.name" });
  const data = secretDataOf(secret);
  for (const k of [keys.user, keys.password]) {
    if (!data[k]) throw new TaskError("InvalidAppBinding", `Secret ${s.namespace}/${s.name} has no key ${k}`, { object: ref(ab), field: "spec.secret.name" });
  }
  return { ...endpoint, user: data[keys.user], password: data[keys.password] };
}

/** The part of an AppBinding's open spec.parameters that names KubeDB's Stash addon Tasks. */
interface AddonParameters {
  stash?: { addon?: { backupTask?: AddonTask; restoreTask?: AddonTask } };
}
interface AddonTask {
  name?: string;
  params?: { name: string; value?: unknown }[];
}

/**
 * The Task an invoker runs against an AppBinding (Stash TaskRef, KubeDB addon): the invoker's own
 * spec.task when it names one, else the AppBinding's spec.parameters.stash.addon.backupTask /
 * restoreTask. Params of the addon come first; the invoker's params win by name. Pure.
 */
export function effectiveTaskRef(
  invokerTask: { name?: string; params?: { name: string; value: string }[] } | undefined,
  appBinding: AppBindingLike | null,
  kind: "backup" | "restore",
): { name: string; params: { name: string; value: string }[] } | undefined {
  const addon = (appBinding?.spec?.parameters as AddonParameters | undefined)?.stash?.addon?.[kind === "backup" ? "backupTask" : "restoreTask"];
  const name = invokerTask?.name || addon?.name;
  if (!name) return undefined;
  const params = new Map<string, string>();
  if (!invokerTask?.name || invokerTask.name === addon?.name) for (const p of addon?.params ?? []) params.set(p.name, String(p.value));
  for (const p of invokerTask?.params ?? []) params.set(p.name, p.value);
  return { name, params: [...params].map(([n, value]) => ({ name: n, value })) };
}
