// What end-to-end test files share: waiting for real state, cleaning up after the file, temporary
// directories, and a storage Secret for a fresh MinIO bucket. One copy, so every test waits and
// cleans up the same way.
import { after } from "node:test";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Kube } from "../lib/kube/client.ts";
import { stopControlPlane } from "./cluster.ts";
import { eventually } from "./eventually.ts";
import { freshBucket, stopSharedServices, type Minio } from "./services.ts";

export { eventually };

export interface FileCleanup {
  /** Runs `fn` after the file's tests, last registered first. */
  defer(fn: () => Promise<unknown> | unknown): void;
  /** A temporary directory removed after the file's tests. */
  tempDir(prefix: string): Promise<string>;
}

/**
 * Registers the file's after() hook: deferred cleanups (best effort: another file's after() may have
 * stopped the shared control plane already), then the shared services when asked, then the control plane.
 */
export function cleanupAfterFile(opts: { sharedServices?: boolean } = {}): FileCleanup {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  after(async () => {
    for (const c of cleanups.reverse())
      await Promise.resolve()
        .then(c)
        .catch(() => {});
    if (opts.sharedServices) await stopSharedServices().catch(() => {});
    await stopControlPlane();
  });
  return {
    defer: (fn) => void cleanups.push(fn),
    async tempDir(prefix) {
      const d = await mkdtemp(join(tmpdir(), prefix));
      cleanups.push(() => rm(d, { recursive: true, force: true }));
      return d;
    },
  };
}

/**
 * A fresh bucket on the shared MinIO and a storage Secret in `namespace` with a random restic password
 * and MinIO's keys. MinIO may still answer 503 right after it reports ready, so the bucket is retried.
 */
export async function s3StorageSecret(kube: Kube, namespace: string, secretName: string, bucketPrefix = "t"): Promise<{ minio: Minio; bucket: string }> {
  const { minio, bucket } = await eventually("a MinIO bucket", () => freshBucket(bucketPrefix), 20_000, 100);
  await kube.apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: secretName, namespace },
    stringData: { RESTIC_PASSWORD: randomBytes(12).toString("hex"), AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: minio.secretKey },
  });
  return { minio, bucket };
}
