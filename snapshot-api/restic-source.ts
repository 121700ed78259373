// Where the Snapshot API's data comes from: the Repository's Secret, mapped to restic's URL and
// environment by restic/backend.ts, and restic itself through restic/run.ts
// (secrets in the environment only, output redacted, typed errors).
import { join } from "node:path";
import type { V1Secret } from "@kubernetes/client-node";
import type { Kube } from "../lib/kube/client.ts";
import type { Repository } from "../schema/types.generated.ts";
import { isNotFound } from "../lib/kube/client.ts";
import { resticBackend, writeBackendFiles, type LocalSpec } from "../restic/backend.ts";
import { secretDataOf } from "../lib/kube/secret-data.ts";
import { runRestic } from "../restic/run.ts";
import { RepositoryNotFoundError } from "../restic/errors.ts";
import type { ResticSnapshotJson } from "./snapshot-object.ts";

export interface SnapshotSource {
  /** Every snapshot in the Repository's restic repository ([] when it was never initialised). */
  list(repo: Repository): Promise<ResticSnapshotJson[]>;
  /** `restic forget --prune <id>`. */
  forget(repo: Repository, id: string): Promise<void>;
}

/** The storage Secret of a Repository is missing: the backend cannot be opened. */
export class BackendSecretMissingError extends Error {
  constructor(repo: Repository, secretName: string | undefined) {
    super(
      secretName
        ? `storage Secret ${repo.metadata.namespace}/${secretName} of Repository ${repo.metadata.namespace}/${repo.metadata.name} not found`
        : `Repository ${repo.metadata.namespace}/${repo.metadata.name}: spec.backend.storageSecretName is not set`,
    );
    this.name = "BackendSecretMissingError";
  }
}

export interface ResticSourceOptions {
  kube: Kube;
  /** Per-repository scratch directories (restic cache, CA files) go under it. */
  scratchDir: string;
  /** restic binary; default `restic` on PATH. */
  resticBin?: string;
  /** Where a local backend is visible to the operator process (default: its mountPath). */
  localPath?: (local: LocalSpec) => string;
  baseEnv?: Record<string, string | undefined>;
  /** Backend retries restic may make before a listing gives up (restash's runner counts them). Default 3. */
  maxBackendRetries?: number;
  /** A listing or forget that takes longer is stopped (SIGINT) and reported as a failure. Default 60 s. */
  timeoutMs?: number;
  /** Told the resourceVersion of each storage Secret read (the index compares it with Secret watch events). */
  onSecretRead?: (namespace: string, name: string, resourceVersion: string | undefined) => void;
}

/** restic did not finish in time (usually a backend that accepts connections but does not answer). */
export class BackendTimeoutError extends Error {
  constructor(repo: Repository, verb: string, ms: number) {
    super(`Repository ${repo.metadata.namespace}/${repo.metadata.name}: restic ${verb} did not finish within ${Math.round(ms / 1000)} s`);
    this.name = "BackendTimeoutError";
  }
}

export function resticSource(opts: ResticSourceOptions): SnapshotSource {
  const open = async (repo: Repository) => {
    const ns = repo.metadata.namespace!;
    const secretName = repo.spec?.backend?.storageSecretName;
    if (!secretName) throw new BackendSecretMissingError(repo, undefined);
    let secret: V1Secret;
    try {
      secret = await opts.kube.get<V1Secret>("v1", "Secret", secretName, ns);
    } catch (e) {
      if (isNotFound(e)) throw new BackendSecretMissingError(repo, secretName);
      throw e;
    }
    opts.onSecretRead?.(ns, secretName, secret.metadata?.resourceVersion);
    const backend = resticBackend(repo, secretDataOf(secret), {
      scratchDir: join(opts.scratchDir, ns, repo.metadata.name!),
      enableCache: true,
      localPath: opts.localPath,
    });
    await writeBackendFiles(backend);
    return { backend, bin: opts.resticBin, baseEnv: opts.baseEnv, maxBackendRetries: opts.maxBackendRetries ?? 3 };
  };
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const run = async (repo: Repository, args: string[]) => {
    const ctx = await open(repo);
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      return await runRestic({ ...ctx, signal }, args, { keepStdout: true });
    } catch (e) {
      if (signal.aborted) throw new BackendTimeoutError(repo, args[0], timeoutMs);
      throw e;
    }
  };
  return {
    async list(repo) {
      try {
        const out = await run(repo, ["snapshots", "--json", "--no-lock"]);
        const parsed = JSON.parse(out.stdout || "[]");
        return Array.isArray(parsed) ? (parsed as ResticSnapshotJson[]) : [];
      } catch (e) {
        if (e instanceof RepositoryNotFoundError) return [];
        throw e;
      }
    },
    async forget(repo, id) {
      await run(repo, ["forget", "--prune", id]);
    },
  };
}
