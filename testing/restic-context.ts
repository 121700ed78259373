// Test helper (not used by production code): a ResticContext on a fresh repository of each
// backend kind, over the real services of testing/services.ts, built through the same
// Repository -> resticBackend mapping the runner uses.
//
//   localRepoContext(prefix) / s3RepoContext(prefix) / restRepoContext(prefix) -> Promise<TestRepo>
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resticBackend, writeBackendFiles, type RepositoryLike } from "../restic/backend.ts";
import { freshBucket, freshName, sharedRestServer, toolsDir } from "./services.ts";
import type { ResticContext } from "../restic/run.ts";

export interface TestRepo {
  ctx: ResticContext;
  repo: RepositoryLike;
  secret: Record<string, string>;
  /** A scratch directory of the test's own (data, restore targets). */
  work: string;
}

const made = new Set<string>();

/** A temporary directory removed when the process exits. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `restash-${prefix}-`));
  if (made.size === 0) process.once("exit", () => made.forEach((d) => rmSync(d, { recursive: true, force: true })));
  made.add(dir);
  return dir;
}

export async function contextFor(repo: RepositoryLike, secret: Record<string, string>, work: string): Promise<ResticContext> {
  const backend = resticBackend(repo, secret, { scratchDir: join(work, "scratch") });
  await writeBackendFiles(backend);
  return { backend, bin: join(toolsDir(), "restic"), maxBackendRetries: 2 };
}

const password = () => `pw-${freshName("x")}`;

export async function localRepoContext(prefix: string): Promise<TestRepo> {
  const work = tempDir(prefix);
  const repo: RepositoryLike = {
    metadata: { name: freshName(prefix), namespace: "test" },
    spec: { backend: { storageSecretName: "s", local: { mountPath: join(work, "repo"), hostPath: { path: join(work, "repo") } } } },
  };
  const secret = { RESTIC_PASSWORD: password() };
  return { ctx: await contextFor(repo, secret, work), repo, secret, work };
}

export async function s3RepoContext(prefix: string): Promise<TestRepo> {
  const work = tempDir(prefix);
  const { minio, bucket } = await freshBucket(prefix);
  const repo: RepositoryLike = {
    metadata: { name: bucket, namespace: "test" },
    spec: { backend: { storageSecretName: "s", s3: { endpoint: minio.endpoint, bucket, prefix: "/demo/app", region: minio.region } } },
  };
  const secret = { RESTIC_PASSWORD: password(), AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: minio.secretKey };
  return { ctx: await contextFor(repo, secret, work), repo, secret, work };
}

export async function restRepoContext(prefix: string): Promise<TestRepo> {
  const work = tempDir(prefix);
  const rest = await sharedRestServer();
  const name = freshName(prefix);
  const repo: RepositoryLike = { metadata: { name, namespace: "test" }, spec: { backend: { storageSecretName: "s", rest: { url: rest.repoUrl(name) } } } };
  const secret = { RESTIC_PASSWORD: password(), REST_SERVER_USERNAME: rest.username!, REST_SERVER_PASSWORD: rest.password! };
  return { ctx: await contextFor(repo, secret, work), repo, secret, work };
}
