// Maps a Stash Repository spec plus the data of its storage Secret to what restic needs: the
// repository URL, the environment, the global flags and the files to write first (CA bundle,
// GCS key). Pure: no I/O, so the mapping has exact-equality tests; `writeBackendFiles` is the
// one I/O step and runs just before restic.
//
// Public interface:
//   resticBackend(repo, secretData, opts?) -> ResticBackend   (throws InvalidBackendError)
//   writeBackendFiles(backend) -> Promise<void>              (mkdir scratch/tmp/cache dirs, write files 0600)
//
// Stash semantics kept (stash-behaviour.md section 5): s3 -> `s3:<endpoint>/<bucket/prefix>`,
// AWS keys exported only when present (IRSA works without them), gcs/azure/swift/b2 ->
// `<scheme>:<bucket>:/<prefix>`, rest -> credentials injected into the URL, maxConnections ->
// `--option <gs|azure|b2>.connections=N`, CA_CERT_DATA -> file + `--cacert`, insecureTLS ->
// `--insecure-tls`, RESTIC_PROGRESS_FPS one report a minute, cache in the scratch dir.
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, posix } from "node:path";
import { InvalidBackendError } from "./errors.ts";

export type Provider = "local" | "s3" | "gcs" | "azure" | "swift" | "b2" | "rest";
export const PROVIDERS: readonly Provider[] = ["local", "s3", "gcs", "azure", "swift", "b2", "rest"];

export interface LocalSpec {
  mountPath: string;
  subPath?: string;
  /** Any inline VolumeSource (hostPath, persistentVolumeClaim, nfs, ...): mounted by the executor. */
  [volumeSource: string]: unknown;
}
export interface S3Spec {
  endpoint: string;
  bucket: string;
  prefix?: string;
  region?: string;
  insecureTLS?: boolean;
}
export interface GCSSpec {
  bucket: string;
  prefix?: string;
  maxConnections?: number;
}
export interface AzureSpec {
  container: string;
  prefix?: string;
  maxConnections?: number;
}
export interface SwiftSpec {
  container: string;
  prefix?: string;
}
export interface B2Spec {
  bucket: string;
  prefix?: string;
  maxConnections?: number;
}
export interface RestSpec {
  url: string;
}

export interface BackendSpec {
  storageSecretName?: string;
  local?: LocalSpec;
  s3?: S3Spec;
  gcs?: GCSSpec;
  azure?: AzureSpec;
  swift?: SwiftSpec;
  b2?: B2Spec;
  rest?: RestSpec;
}

/** The parts of a Repository (stash.appscode.com/v1alpha1) this mapping reads. */
export interface RepositoryLike {
  metadata: { name?: string; namespace?: string };
  spec?: { backend?: BackendSpec };
}

export interface BackendOptions {
  /** Scratch directory (Stash: /stash-tmp). Holds restic-tmp (TMPDIR, CA file, GCS key) and restic-cache. */
  scratchDir?: string;
  /** false -> `--no-cache` (Stash tempDir.disableCaching). Default true. */
  enableCache?: boolean;
  /**
   * Where the local backend's volume is visible to this process. In a pod it is mounted at
   * mountPath (default); a runner outside a pod maps it to a host directory.
   */
  localPath?: (local: LocalSpec) => string;
}

export interface BackendFile {
  path: string;
  content: string;
  mode: number;
}

export interface ResticBackend {
  provider: Provider;
  /** RESTIC_REPOSITORY, credentials included for rest: never log it, use `redactedRepository`. */
  repository: string;
  /** The same URL with any credentials replaced by "<redacted>": safe for logs, events, status. */
  redactedRepository: string;
  /** Environment for restic (RESTIC_REPOSITORY, RESTIC_PASSWORD, provider keys, TMPDIR, ...). */
  env: Record<string, string>;
  /** Global flags for every restic verb: --cache-dir/--no-cache, --cacert, --insecure-tls, --option. */
  args: string[];
  /** Files to write before restic runs (writeBackendFiles). */
  files: BackendFile[];
  /** Directories to create first (TMPDIR, cache, a local repository's parent). */
  dirs: string[];
  /** Metric labels (Stash: bucket = container/mountPath/URL host, prefix = prefix/URL path). */
  bucket: string;
  prefix: string;
  /** Every secret value in play, for redaction of output and errors. */
  secrets: string[];
}

const SWIFT_KEYS = [
  "ST_AUTH",
  "ST_USER",
  "ST_KEY",
  "OS_AUTH_URL",
  "OS_REGION_NAME",
  "OS_USERNAME",
  "OS_PASSWORD",
  "OS_TENANT_ID",
  "OS_TENANT_NAME",
  "OS_USER_DOMAIN_NAME",
  "OS_PROJECT_NAME",
  "OS_PROJECT_DOMAIN_NAME",
  "OS_APPLICATION_CREDENTIAL_ID",
  "OS_APPLICATION_CREDENTIAL_NAME",
  "OS_APPLICATION_CREDENTIAL_SECRET",
  "OS_STORAGE_URL",
  "OS_AUTH_TOKEN",
] as const;

/** Keys whose values are not secret (they may appear in messages). */
const NON_SECRET_KEYS = new Set([
  "GOOGLE_PROJECT_ID",
  "AZURE_ACCOUNT_NAME",
  "OS_AUTH_URL",
  "OS_REGION_NAME",
  "ST_AUTH",
  "OS_STORAGE_URL",
  "OS_USER_DOMAIN_NAME",
  "OS_PROJECT_NAME",
  "OS_PROJECT_DOMAIN_NAME",
  "OS_TENANT_NAME",
  "REST_SERVER_USERNAME",
  "AWS_ACCESS_KEY_ID",
  "B2_ACCOUNT_ID",
]);

/** Decodes a core/v1 Secret's data (base64) and stringData into plain strings. */
/** Which provider a backend spec configures; exactly one must be set. */
export function providerOf(repo: RepositoryLike): Provider {
  const backend = repo.spec?.backend;
  const ref = repoRef(repo);
  if (!backend) throw new InvalidBackendError(ref, "spec.backend", "is missing");
  const set = PROVIDERS.filter((p) => backend[p] != null);
  if (set.length === 0) throw new InvalidBackendError(ref, "spec.backend", `sets no provider (one of ${PROVIDERS.join(", ")})`);
  if (set.length > 1) throw new InvalidBackendError(ref, "spec.backend", `sets ${set.length} providers (${set.join(", ")}); exactly one is allowed`);
  return set[0];
}

function repoRef(repo: RepositoryLike) {
  return { kind: "Repository", namespace: repo.metadata.namespace, name: repo.metadata.name ?? "<unnamed>" };
}

/** Stash's `path.Join(bucket, prefix)` for S3: no leading slash, no doubled separators. */
function joinBucket(bucket: string, prefix: string | undefined): string {
  return prefix ? posix.join(bucket, prefix) : bucket;
}

/** `<scheme>:<bucket>:/<prefix>` as Stash writes it (the prefix keeps its own leading slash off). */
function colonUrl(scheme: string, bucket: string, prefix: string | undefined): string {
  return `${scheme}:${bucket}:/${(prefix ?? "").replace(/^\/+/, "")}`;
}

/** Restic's URL for a REST server, with REST_SERVER_USERNAME[:REST_SERVER_PASSWORD]@ injected. */
function restUrl(
  raw: string,
  user: string | undefined,
  password: string | undefined,
  ref: ReturnType<typeof repoRef>,
): { url: string; redacted: string; host: string; path: string } {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new InvalidBackendError(ref, "spec.backend.rest.url", `is not a valid URL`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new InvalidBackendError(ref, "spec.backend.rest.url", `must be http:// or https://, got ${u.protocol}//`);
  const host = u.host;
  const path = u.pathname === "/" ? "" : u.pathname;
  const plain = new URL(u.href);
  plain.username = "";
  plain.password = "";
  if (user) {
    u.username = encodeURIComponent(user);
    u.password = password ? encodeURIComponent(password) : "";
  }
  const redacted = user ? plain.href.replace("://", "://<redacted>@") : plain.href;
  return { url: u.href, redacted, host, path };
}

/**
 * The restic setup for a Repository and its storage Secret's data (decoded strings, see
 * secretDataOf). Throws InvalidBackendError naming the Repository and the missing field or key.
 */
export function resticBackend(repo: RepositoryLike, secret: Record<string, string>, opts: BackendOptions = {}): ResticBackend {
  const ref = repoRef(repo);
  const provider = providerOf(repo);
  const backend = repo.spec!.backend!;
  const secretName = backend.storageSecretName ?? "<storageSecretName>";
  const scratch = opts.scratchDir ?? "/stash-tmp";
  const tmpDir = join(scratch, "restic-tmp");
  const cacheDir = join(scratch, "restic-cache");
  const has = (k: string) => typeof secret[k] === "string" && secret[k] !== "";
  const needKey = (k: string) => {
    if (!has(k)) throw new InvalidBackendError(ref, `Secret ${secretName} key ${k}`, "is required but missing or empty");
  };
  const needField = (path: string, v: unknown) => {
    if (v === undefined || v === null || v === "") throw new InvalidBackendError(ref, path, "is required but missing or empty");
  };

  needKey("RESTIC_PASSWORD");
  const env: Record<string, string> = {
    RESTIC_PASSWORD: secret.RESTIC_PASSWORD,
    RESTIC_PROGRESS_FPS: "0.016666",
    TMPDIR: tmpDir,
  };
  const args: string[] = [];
  const files: BackendFile[] = [];
  const dirs: string[] = [tmpDir];
  if (opts.enableCache === false) args.push("--no-cache");
  else {
    args.push("--cache-dir", cacheDir);
    dirs.push(cacheDir);
  }
  const exportIfPresent = (...keys: readonly string[]) => {
    for (const k of keys) if (has(k)) env[k] = secret[k];
  };
  const connections = (scheme: string, n: number | undefined, field: string) => {
    if (n === undefined || n === null) return;
    if (!Number.isInteger(n) || n < 1) throw new InvalidBackendError(ref, field, `must be a positive integer, got ${JSON.stringify(n)}`);
    args.push("--option", `${scheme}.connections=${n}`);
  };

  let repository: string;
  let redactedRepository: string | undefined;
  let bucket: string;
  let prefix: string;
  switch (provider) {
    case "local": {
      const l = backend.local!;
      needField("spec.backend.local.mountPath", l.mountPath);
      repository = opts.localPath ? opts.localPath(l) : l.mountPath;
      bucket = l.mountPath;
      prefix = "";
      break;
    }
    case "s3": {
      const s = backend.s3!;
      needField("spec.backend.s3.endpoint", s.endpoint);
      needField("spec.backend.s3.bucket", s.bucket);
      repository = `s3:${s.endpoint.replace(/\/+$/, "")}/${joinBucket(s.bucket, s.prefix)}`;
      exportIfPresent("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY");
      if (s.region) env.AWS_DEFAULT_REGION = s.region;
      if (s.insecureTLS) args.push("--insecure-tls");
      bucket = s.bucket;
      prefix = s.prefix ?? "";
      break;
    }
    case "gcs": {
      const g = backend.gcs!;
      needField("spec.backend.gcs.bucket", g.bucket);
      repository = colonUrl("gs", g.bucket, g.prefix);
      exportIfPresent("GOOGLE_PROJECT_ID");
      if (has("GOOGLE_SERVICE_ACCOUNT_JSON_KEY")) {
        const keyFile = join(tmpDir, "GOOGLE_SERVICE_ACCOUNT_JSON_KEY");
        files.push({ path: keyFile, content: secret.GOOGLE_SERVICE_ACCOUNT_JSON_KEY, mode: 0o600 });
        env.GOOGLE_APPLICATION_CREDENTIALS = keyFile;
      }
      connections("gs", g.maxConnections, "spec.backend.gcs.maxConnections");
      bucket = g.bucket;
      prefix = g.prefix ?? "";
      break;
    }
    case "azure": {
      const a = backend.azure!;
      needField("spec.backend.azure.container", a.container);
      repository = colonUrl("azure", a.container, a.prefix);
      exportIfPresent("AZURE_ACCOUNT_NAME", "AZURE_ACCOUNT_KEY");
      connections("azure", a.maxConnections, "spec.backend.azure.maxConnections");
      bucket = a.container;
      prefix = a.prefix ?? "";
      break;
    }
    case "swift": {
      const s = backend.swift!;
      needField("spec.backend.swift.container", s.container);
      repository = colonUrl("swift", s.container, s.prefix);
      exportIfPresent(...SWIFT_KEYS);
      bucket = s.container;
      prefix = s.prefix ?? "";
      break;
    }
    case "b2": {
      const b = backend.b2!;
      needField("spec.backend.b2.bucket", b.bucket);
      needKey("B2_ACCOUNT_ID");
      needKey("B2_ACCOUNT_KEY");
      repository = colonUrl("b2", b.bucket, b.prefix);
      exportIfPresent("B2_ACCOUNT_ID", "B2_ACCOUNT_KEY");
      connections("b2", b.maxConnections, "spec.backend.b2.maxConnections");
      bucket = b.bucket;
      prefix = b.prefix ?? "";
      break;
    }
    case "rest": {
      const r = backend.rest!;
      needField("spec.backend.rest.url", r.url);
      const user = has("REST_SERVER_USERNAME") ? secret.REST_SERVER_USERNAME : undefined;
      const pass = user && has("REST_SERVER_PASSWORD") ? secret.REST_SERVER_PASSWORD : undefined;
      const u = restUrl(r.url, user, pass, ref);
      repository = `rest:${u.url}`;
      redactedRepository = `rest:${u.redacted}`;
      bucket = u.host;
      prefix = u.path;
      break;
    }
  }
  env.RESTIC_REPOSITORY = repository;

  if (has("CA_CERT_DATA") && (provider === "s3" || provider === "rest")) {
    const caFile = join(tmpDir, "ca.crt");
    files.push({ path: caFile, content: secret.CA_CERT_DATA, mode: 0o600 });
    args.push("--cacert", caFile);
  }
  if (provider === "local") dirs.push(repository); // Stash: mkdir -p before init

  const secrets = Object.entries(secret)
    .filter(([k, v]) => !NON_SECRET_KEYS.has(k) && k !== "CA_CERT_DATA" && typeof v === "string" && v.length > 0)
    .map(([, v]) => v);
  // The URL-encoded forms can appear in restic's output too.
  for (const s of [...secrets]) {
    const enc = encodeURIComponent(s);
    if (enc !== s) secrets.push(enc);
  }
  if (redactedRepository !== undefined && repository !== redactedRepository) secrets.push(repository.slice("rest:".length));

  return {
    provider,
    repository,
    redactedRepository: redactedRepository ?? repository,
    env: sortKeys(env),
    args,
    files,
    dirs,
    bucket,
    prefix,
    secrets: [...new Set(secrets)].sort((a, b) => b.length - a.length),
  };
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Creates the scratch directories and writes the backend's files (mode 0600). */
export async function writeBackendFiles(backend: ResticBackend): Promise<void> {
  for (const d of backend.dirs) await mkdir(d, { recursive: true });
  for (const f of backend.files) {
    await mkdir(dirname(f.path), { recursive: true });
    await writeFile(f.path, f.content, { mode: f.mode });
  }
}
