// The workload webhook and batches: a Deployment that is a BackupBatch or RestoreBatch member gets
// exactly the sidecar / init-container the batch controllers put there (the member's own target),
// and keeps it when it is updated (a webhook that knew no batches would take it away again).
import { test } from "node:test";
import assert from "node:assert/strict";
import type { V1PodSpec, V1PodTemplateSpec } from "@kubernetes/client-node";
import type { KubeObject } from "../lib/kube/client.ts";
import type { BackupBatch, RestoreBatch } from "../schema/types.generated.ts";
import { workloadAdmission } from "./workload.ts";
import { workloadTarget } from "../stash/workload.ts";
import { backupInvokerAnnotations, injectInitContainer, injectSidecar } from "../stash/pod-template.ts";
import { targetsOf } from "../stash/invoker-targets.ts";
import { lookupsOf } from "../testing/admission-lookups.ts";

const inject = { image: "restash/runner:test" };
/** The Deployments these tests build: spec, its template and the template's spec are always set. */
type Deployment = KubeObject & { spec: { template: V1PodTemplateSpec & { spec: V1PodSpec }; [key: string]: unknown } };
const deployment = (name: string): Deployment => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, namespace: "demo" },
  spec: {
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "app", image: "busybox" }] } },
  },
});
const member = (name: string, extra: any = {}) => ({
  target: { ref: { apiVersion: "apps/v1", kind: "Deployment", name }, paths: [`/data/${name}`], volumeMounts: [{ name: "data", mountPath: `/data/${name}` }] },
  ...extra,
});
const batch = {
  apiVersion: "stash.appscode.com/v1beta1",
  kind: "BackupBatch",
  metadata: { name: "apps", namespace: "demo", creationTimestamp: "2026-01-01T00:00:00Z" as any, uid: "uid-apps" },
  spec: { repository: { name: "repo" }, members: [member("web"), member("api"), member("db", { task: { name: "pvc-backup" } })] },
} as KubeObject & BackupBatch;
// The webhook answers the workload it was given, as that kind.
const admit = async (w: Deployment, objects: KubeObject[]) =>
  (await workloadAdmission(inject).mutate!(w, { operation: "UPDATE", namespace: "demo", lookups: lookupsOf(objects) })) as Deployment;

test("a BackupBatch member gets the sidecar for its own target; a member with a task gets none", async () => {
  assert.equal(workloadTarget(batch, deployment("api"))?.index, 1);
  assert.equal(workloadTarget(batch, deployment("db")), undefined, "a task means the job model");
  assert.equal(workloadTarget(batch, deployment("other")), undefined);
  const out = await admit(deployment("api"), [batch]);
  assert.deepEqual(out.spec.template, injectSidecar(deployment("api").spec.template, batch, undefined, inject, targetsOf(batch)[1]));
  assert.deepEqual(out.metadata.annotations, backupInvokerAnnotations(batch));
  assert.ok(out.spec.template.spec.containers[1].args!.includes("--target-name=api"));
  assert.deepEqual(await admit(deployment("db"), [batch]), deployment("db"));
});

test("an update of a member keeps the batch's sidecar; a RestoreBatch member gets its init-container", async () => {
  const injected = await admit(deployment("web"), [batch]);
  assert.deepEqual(await admit(injected, [batch]), injected, "unchanged on update");
  const rb = {
    ...batch,
    kind: "RestoreBatch",
    metadata: { ...batch.metadata, name: "apps-restore" },
    spec: { repository: { name: "repo" }, members: [member("web", { target: { ...member("web").target, rules: [{ paths: ["/data/web"] }] } })] },
  } as KubeObject & RestoreBatch;
  const out = await admit(injected, [batch, rb]);
  assert.deepEqual(out.spec.template, injectInitContainer(injected.spec.template, rb, undefined, inject, targetsOf(rb)[0]));
  assert.deepEqual(out.spec.template.spec.initContainers![0].args!.slice(0, 3), ["restore", "--invoker-name=apps-restore", "--invoker-kind=RestoreBatch"]);
});
