import { test } from "node:test";
import assert from "node:assert/strict";
import type { V1PodSpec, V1PodTemplateSpec } from "@kubernetes/client-node";
import type { KubeObject } from "../lib/kube/client.ts";
import type { BackupConfiguration, RestoreSession } from "../schema/types.generated.ts";
import { workloadAdmission } from "./workload.ts";
import { desiredWorkload } from "../stash/workload.ts";
import { restoreInvokerFor } from "../stash/workload.ts";
import { backupInvokerFor } from "../stash/workload.ts";
import { injectSidecar, backupInvokerAnnotations, removeSidecar } from "../stash/pod-template.ts";
import { lookupsOf } from "../testing/admission-lookups.ts";

const inject = { image: "restash/runner:test" };
/** The Deployments these tests build: spec, its template and the template's spec are always set. */
type Deployment = KubeObject & { spec: { template: V1PodTemplateSpec & { spec: V1PodSpec }; [key: string]: unknown } };
const deployment = (extra: Partial<KubeObject["metadata"]> = {}, containers: any[] = [{ name: "app", image: "busybox" }]): Deployment => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "app", namespace: "demo", ...extra },
  spec: { selector: { matchLabels: { app: "a" } }, template: { metadata: { labels: { app: "a" } }, spec: { containers } } },
});
const bc = (name: string, created: string, extra: any = {}): KubeObject & BackupConfiguration => ({
  apiVersion: "stash.appscode.com/v1beta1",
  kind: "BackupConfiguration",
  metadata: { name, namespace: "demo", creationTimestamp: created as any, uid: `uid-${name}` },
  spec: { repository: { name: "repo" }, target: { ref: { apiVersion: "apps/v1", kind: "Deployment", name: "app" }, paths: ["/data"] }, ...extra },
});

test("the newest BackupConfiguration targeting a workload drives its sidecar", () => {
  const a = bc("a", "2026-01-01T00:00:00Z");
  const b = bc("b", "2026-02-01T00:00:00Z");
  const other = { ...bc("c", "2026-03-01T00:00:00Z"), spec: { target: { ref: { kind: "Deployment", name: "else" } } } } as KubeObject & BackupConfiguration;
  const withTask = bc("d", "2026-04-01T00:00:00Z", { task: { name: "pvc-backup" } });
  assert.equal(backupInvokerFor(deployment(), [a, b, other, withTask])?.metadata.name, "b");
  assert.equal(backupInvokerFor(deployment(), [other]), undefined);
});

test("a running RestoreSession wins over a pending one, then the newest", () => {
  // A BackupConfiguration's spec serves as a RestoreSession's here: only the target is read.
  const rs = (name: string, phase: NonNullable<RestoreSession["status"]>["phase"], created: string) =>
    ({
      ...bc(name, created),
      kind: "RestoreSession",
      status: { phase },
    }) as unknown as KubeObject & RestoreSession;
  assert.equal(restoreInvokerFor(deployment(), [rs("p", "Pending", "2026-02-01T00:00:00Z"), rs("r", "Running", "2026-01-01T00:00:00Z")])?.metadata.name, "r");
  assert.equal(
    restoreInvokerFor(deployment(), [rs("old", "Succeeded", "2026-01-01T00:00:00Z"), rs("new", "Failed", "2026-02-01T00:00:00Z")])?.metadata.name,
    "new",
  );
});

test("a targeted workload gets exactly the controller's sidecar and invoker annotations", () => {
  const d = deployment();
  const b = bc("b", "2026-02-01T00:00:00Z");
  const out = desiredWorkload(d, { backup: b }, inject);
  assert.deepEqual(out.spec.template, injectSidecar(d.spec.template, b, undefined, inject));
  assert.deepEqual(out.metadata.annotations, backupInvokerAnnotations(b));
  assert.deepEqual(d.spec.template.spec.containers, [{ name: "app", image: "busybox" }], "the input is not modified");
});

test("a workload no longer targeted loses the sidecar and the annotations", () => {
  const b = bc("b", "2026-02-01T00:00:00Z");
  const injected = desiredWorkload(deployment({ annotations: { keep: "me" } }), { backup: b }, inject);
  const out = desiredWorkload(injected, {}, inject);
  assert.deepEqual(out.spec.template, removeSidecar(injected.spec.template));
  assert.deepEqual(out.spec.template.spec.containers, [{ name: "app", image: "busybox" }]);
  assert.deepEqual(out.metadata.annotations, { keep: "me" });
});

test("an untouched workload is returned unchanged", async () => {
  const d = deployment();
  const out = await workloadAdmission(inject).mutate!(d, { operation: "CREATE", namespace: "demo", lookups: lookupsOf([]) });
  assert.deepEqual(out, d);
});
