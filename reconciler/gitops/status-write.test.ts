// The PolicySource status in two parts against the real API server: a status written the old way
// (inventory owned by the status manager) keeps its inventory through the move to the inventory
// manager, and each part is written only when it changed.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { stopControlPlane, testNamespace } from "../../testing/cluster.ts";
import type { KubeObject } from "../../lib/kube/client.ts";
import type { Condition } from "../../lib/conditions.ts";
import { applySource, getSource } from "../../testing/gitops-fixture.ts";
import { INVENTORY_MANAGER, STATUS_MANAGER, writeSourceStatus } from "./status-write.ts";
import { POLICY_SOURCE_API } from "../../policies/policy-source.ts";

after(() => stopControlPlane());

test("the inventory moves to its own field manager without being lost, and unchanged parts are not rewritten", async () => {
  const { kube, namespace } = await testNamespace("gitops-status-write");
  await applySource(kube, namespace, "p", { url: "file:///nowhere" });
  const a = { id: `${namespace}_a_stash.appscode.com_BackupConfiguration`, v: "v1beta1", file: "a.yaml" };
  const b = { id: `${namespace}_b_stash.appscode.com_BackupConfiguration`, v: "v1beta1", file: "b.yaml" };
  // As an older restash wrote it: everything under one manager.
  await kube.applyStatus(
    {
      apiVersion: POLICY_SOURCE_API,
      kind: "PolicySource",
      metadata: { name: "p", namespace },
      status: { inventory: { entries: [a, b] }, lastAppliedRevision: "main@sha1:1" },
    } as unknown as KubeObject,
    { fieldManager: STATUS_MANAGER },
  );
  const owners = async () => {
    const mf = ((await getSource(kube, namespace, "p")).metadata as any).managedFields as any[];
    return mf
      .filter((m) => m.subresource === "status" && m.fieldsV1?.["f:status"]?.["f:inventory"])
      .map((m) => m.manager)
      .sort();
  };
  assert.deepEqual(await owners(), [STATUS_MANAGER]);

  const conditions: Condition[] = [
    { type: "Ready", status: "True", reason: "ReconciliationSucceeded", message: "ok", lastTransitionTime: "2026-01-01T00:00:00Z" },
  ];
  let src = await getSource(kube, namespace, "p");
  assert.equal(await writeSourceStatus(kube, src, { inventory: { entries: [a, b] }, lastAppliedRevision: "main@sha1:1", conditions }), true);
  src = await getSource(kube, namespace, "p");
  assert.deepEqual(src.status?.inventory?.entries, [a, b], "the inventory survived the move");
  assert.equal(src.status?.conditions?.[0].reason, "ReconciliationSucceeded");
  assert.deepEqual(await owners(), [INVENTORY_MANAGER]);

  // Only the rest changes: the inventory is left as it is; nothing changes: nothing is written.
  const rv = src.metadata.resourceVersion;
  assert.equal(await writeSourceStatus(kube, src, { inventory: { entries: [a, b] }, lastAppliedRevision: "main@sha1:1", conditions }), false);
  assert.equal((await getSource(kube, namespace, "p")).metadata.resourceVersion, rv);
  assert.equal(await writeSourceStatus(kube, src, { inventory: { entries: [a, b] }, lastAppliedRevision: "main@sha1:2", conditions }), true);
  src = await getSource(kube, namespace, "p");
  assert.equal(src.status?.lastAppliedRevision, "main@sha1:2");
  assert.deepEqual(src.status?.inventory?.entries, [a, b]);

  // A new inventory replaces the old one; fields the status manager stops setting go.
  await writeSourceStatus(kube, src, { inventory: { entries: [a] }, conditions });
  src = await getSource(kube, namespace, "p");
  assert.deepEqual(src.status?.inventory?.entries, [a]);
  assert.equal(src.status?.lastAppliedRevision, undefined);
});
