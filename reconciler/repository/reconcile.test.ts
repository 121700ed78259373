import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { testNamespace, stopControlPlane } from "../../testing/cluster.ts";
import { freshBucket } from "../../testing/services.ts";
import { startOperator } from "../operator.ts";
import { eventually, repository, secret } from "../../testing/stash-objects.ts";

after(() => stopControlPlane());

const V1A = "stash.appscode.com/v1alpha1";
const cond = (o: any, type: string) => (o?.status?.conditions ?? []).find((c: any) => c.type === type);

test("wipeOut on a local Repository is refused as Stash refuses it, naming the field", async (t) => {
  const { kube, namespace } = await testNamespace("repo-wipe-local");
  const op = startOperator({ kube, namespace, image: "restash:test" });
  t.after(() => op.stop());
  await kube.apply(repository(namespace, "local", { local: { mountPath: "/safe/repo", hostPath: { path: "/x" } } }, { wipeOut: true }));
  const repo = await eventually("Stalled", async () => {
    const r = await kube.get<any>(V1A, "Repository", "local", namespace);
    return cond(r, "Stalled")?.status === "True" && r;
  });
  assert.equal(cond(repo, "Stalled").message, `Repository ${namespace}/local, field spec.wipeOut: wipe out operation is not supported for local backend`);
  assert.deepEqual(repo.metadata.finalizers, ["stash"]);
});

test("deleting an S3 Repository with wipeOut deletes its data in the bucket; without wipeOut the data stays", async (t) => {
  const { kube, namespace } = await testNamespace("repo-wipe-s3");
  const op = startOperator({ kube, namespace, image: "restash:test" });
  t.after(() => op.stop());
  const { minio, bucket } = await freshBucket("wipe");
  await kube.apply(
    secret(namespace, "s3-secret", { RESTIC_PASSWORD: "wipe-test-password", AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: minio.secretKey }),
  );
  for (const prefix of ["gone", "kept"]) {
    execFileSync("restic", ["init"], {
      env: {
        ...process.env,
        RESTIC_REPOSITORY: `s3:${minio.endpoint}/${bucket}/${prefix}`,
        RESTIC_PASSWORD: "wipe-test-password",
        AWS_ACCESS_KEY_ID: minio.accessKey,
        AWS_SECRET_ACCESS_KEY: minio.secretKey,
      },
      stdio: "ignore",
    });
  }
  const s3 = (prefix: string) => ({ storageSecretName: "s3-secret", s3: { endpoint: minio.endpoint, bucket, prefix, region: minio.region } });
  await kube.apply({ ...repository(namespace, "gone", {}), spec: { backend: s3("gone"), wipeOut: true } });
  await kube.apply({ ...repository(namespace, "kept", {}), spec: { backend: s3("kept") } });
  for (const n of ["gone", "kept"])
    await eventually(`finalizer on ${n}`, async () => (await kube.get<any>(V1A, "Repository", n, namespace)).metadata.finalizers?.includes("stash"));
  assert.ok((await minio.listObjects(bucket, "gone/")).length > 0);
  const keptBefore = (await minio.listObjects(bucket, "kept/")).length;
  assert.ok(keptBefore > 0);

  for (const n of ["gone", "kept"]) await kube.delete({ apiVersion: V1A, kind: "Repository", metadata: { name: n, namespace } });
  for (const n of ["gone", "kept"]) await eventually(`${n} deleted`, async () => (await kube.getOrNull(V1A, "Repository", n, namespace)) === null);
  assert.deepEqual(await minio.listObjects(bucket, "gone/"), [], "wiped out");
  assert.equal((await minio.listObjects(bucket, "kept/")).length, keptBefore, "kept without wipeOut");
});
