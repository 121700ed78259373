// Deleting a PolicySource against the real API server: its finalizer holds it until the objects it
// applied are pruned (prune: true; Repositories only when prunable, never with wipeOut on) or
// orphaned (prune: false, as Flux does: left with their labels), and Events say which.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { stopControlPlane, testNamespace } from "../../testing/cluster.ts";
import type { Kube, KubeObject } from "../../lib/kube/client.ts";
import { grantStash, policyYaml, readyCondition, sourceEvents, syncNow, webPolicy, withGitops } from "../../testing/gitops-fixture.ts";
import { POLICY_SOURCE_API, POLICY_SOURCE_FINALIZER } from "../../policies/policy-source.ts";
import { SOURCE_NAME_LABEL } from "../../policies/tracking.ts";
import type { BackupConfiguration, PolicySource, Repository } from "../../schema/types.generated.ts";

after(() => stopControlPlane());

const BC = "stash.appscode.com/v1beta1";
const REPO = "stash.appscode.com/v1alpha1";
const HOLD = "test.restash.dev/hold";

async function deleteSource(kube: Kube, namespace: string, name: string): Promise<void> {
  await kube.delete({ apiVersion: POLICY_SOURCE_API, kind: "PolicySource", metadata: { name, namespace } });
}

const prunableRepositoryYaml = (name: string) => `apiVersion: stash.appscode.com/v1alpha1
kind: Repository
metadata:
  name: ${name}
  annotations: { restash.dev/prunable: "true" }
spec:
  backend:
    storageSecretName: backend-creds
    s3: { endpoint: "http://127.0.0.1:9000", bucket: backups, prefix: scratch }
`;

test("deleting a PolicySource with prune: true deletes what it applied; kept Repositories are released and nothing is wiped", async () => {
  await withGitops(await testNamespace("gitops-delete"), async ({ kube, namespace, ctl, push, sync }) => {
    await push({ ...webPolicy(), "db.yaml": policyYaml("db"), "scratch.yaml": prunableRepositoryYaml("scratch") }, "three");
    const src = await sync("p");
    assert.equal(readyCondition(src)?.status, "True", readyCondition(src)?.message);
    assert.deepEqual((src.metadata as any).finalizers, [POLICY_SOURCE_FINALIZER], "the finalizer is on before anything is applied");
    assert.equal(src.status?.inventory?.entries.length, 5);

    // Someone else's object with the same labels but not in the inventory is not touched, nor is
    // an object the inventory lists that another source has taken over since.
    await kube.apply(
      {
        apiVersion: BC,
        kind: "BackupConfiguration",
        metadata: { name: "handmade", namespace, labels: { [SOURCE_NAME_LABEL]: "p", "restash.dev/source-namespace": namespace } },
        spec: {
          repository: { name: "x" },
          schedule: "1 1 * * *",
          target: { ref: { apiVersion: "apps/v1", kind: "Deployment", name: "x" }, paths: ["/d"] },
          retentionPolicy: { name: "x", keepLast: 1, prune: true },
        },
      } as KubeObject,
      { fieldManager: "someone" },
    );
    const db = await kube.get<BackupConfiguration>(BC, "BackupConfiguration", "db", namespace);
    await kube.mergePatch(db, { metadata: { labels: { [SOURCE_NAME_LABEL]: "other" } } });
    // The prunable Repository is held by a test finalizer so its last state can be read; it has wipeOut on.
    await kube.mergePatch(await kube.get<Repository>(REPO, "Repository", "scratch", namespace), { metadata: { finalizers: [HOLD] }, spec: { wipeOut: true } });

    await deleteSource(kube, namespace, "p");
    await syncNow(ctl, namespace, "p");
    assert.equal(
      await kube.getOrNull<PolicySource>(POLICY_SOURCE_API, "PolicySource", "p", namespace),
      null,
      "the finalizer was removed and the source is gone",
    );
    assert.equal(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "web", namespace), null, "an applied object is deleted");
    assert.ok(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "db", namespace), "an object another source took over is left alone");
    assert.ok(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "handmade", namespace), "objects outside the inventory are never deleted");
    for (const kept of ["web-repo", "db-repo"]) {
      const repo = await kube.get<Repository>(REPO, "Repository", kept, namespace);
      assert.equal(repo.metadata.deletionTimestamp, undefined, `${kept} is kept: its policy did not make it prunable`);
      assert.equal(repo.metadata.labels?.[SOURCE_NAME_LABEL], undefined, `${kept} is released`);
    }
    const scratch = await kube.get<Repository>(REPO, "Repository", "scratch", namespace);
    assert.ok(scratch.metadata.deletionTimestamp, "a prunable Repository is deleted");
    assert.equal(scratch.spec.wipeOut, false, "and wipeOut was turned off first");
    await kube.mergePatch(scratch, { metadata: { finalizers: null } });

    const events = await sourceEvents(kube, namespace, "p");
    const pruned = events.find((e) => (e as any).reason === "Pruned");
    assert.ok(pruned, `a Pruned event (have: ${events.map((e) => (e as any).reason).join(", ")})`);
    assert.equal((pruned as any).type, "Normal");
    assert.match((pruned as any).message, /prune: true: 2 deleted, 2 Repository\(ies\) kept and released, 0 already gone, 1 no longer this source's/);
  });
});

test("deleting a PolicySource with prune: false orphans its objects with their labels; a suspended one too; a new source of the same name adopts them", async () => {
  await withGitops(await testNamespace("gitops-orphan"), async ({ kube, namespace, ctl, push, sync }) => {
    await push(webPolicy(), "web");
    assert.equal(readyCondition(await sync("p", { prune: false }))?.status, "True");

    await deleteSource(kube, namespace, "p");
    await syncNow(ctl, namespace, "p");
    assert.equal(await kube.getOrNull<PolicySource>(POLICY_SOURCE_API, "PolicySource", "p", namespace), null);
    const web = await kube.get<BackupConfiguration>(BC, "BackupConfiguration", "web", namespace);
    assert.equal(web.metadata.deletionTimestamp, undefined, "orphaned, not deleted");
    assert.equal(web.metadata.labels?.[SOURCE_NAME_LABEL], "p", "tracking labels stay (Flux leaves them)");
    const orphaned = (await sourceEvents(kube, namespace, "p")).find((e) => (e as any).reason === "Orphaned");
    assert.match((orphaned as any)?.message ?? "", /prune: false: its 2 object\(s\) are left in place/);

    // Re-created with the same name (prune on, suspended): it adopts them without a conflict...
    const again = await sync("p");
    assert.equal(readyCondition(again)?.status, "True", readyCondition(again)?.message);
    assert.equal(again.status?.lastSyncSummary?.unchanged, 2);
    // ...and deleted while suspended, it prunes nothing.
    await sync("p", { suspend: true });
    await deleteSource(kube, namespace, "p");
    await syncNow(ctl, namespace, "p");
    assert.equal(await kube.getOrNull<PolicySource>(POLICY_SOURCE_API, "PolicySource", "p", namespace), null);
    assert.ok(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "web", namespace), "a suspended source's deletion deletes nothing");
  });
});

test("a failed delete keeps the finalizer and is retried; a deleted service account lets the source go with a Warning", async () => {
  await withGitops(await testNamespace("gitops-delete-retry"), async ({ kube, namespace, ctl, push, sync, resync }) => {
    await push(webPolicy(), "web");
    await sync("p");

    // The service account loses the right to delete: the source stays, saying why.
    await grantStash(kube, namespace, "policy-sync", ["tasks"]);
    await deleteSource(kube, namespace, "p");
    const held = await resync("p");
    assert.ok(held.metadata.deletionTimestamp, "still there, terminating");
    assert.equal(readyCondition(held)?.reason, "PruneFailed");
    assert.match(readyCondition(held)!.message!, /2 failed .*BackupConfiguration .*\/web: .*403/);
    assert.equal(held.status?.inventory?.entries.length, 2, "the inventory is kept for the retry");
    assert.ok(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "web", namespace));

    // The account is deleted: nothing can be deleted as it; the source goes, the objects stay.
    await kube.delete({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "policy-sync", namespace } });
    await syncNow(ctl, namespace, "p");
    assert.equal(await kube.getOrNull<PolicySource>(POLICY_SOURCE_API, "PolicySource", "p", namespace), null);
    assert.ok(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "web", namespace));
    const skipped = (await sourceEvents(kube, namespace, "p")).find((e) => (e as any).reason === "PruneSkipped");
    assert.equal((skipped as any)?.type, "Warning");
    assert.match((skipped as any)?.message ?? "", /service account .*policy-sync no longer exists.*2 object\(s\) left in place/);
  });
});
