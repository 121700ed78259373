// The dry-run phase against the real API server: a field the cluster's schema does not know (an
// older CRD than restash's own schemas, say) is a refusal that needs a change, not a server error
// to retry, and the revision applies nothing.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { stopControlPlane, testNamespace } from "../testing/cluster.ts";
import type { KubeObject } from "../lib/kube/client.ts";
import { mayPassLater, planApply, planFailed } from "./apply-plan.ts";
import type { RenderedObject } from "./model.ts";

after(() => stopControlPlane());

test("an object with a field the cluster's schema does not know fails the dry-run, naming the field, as a refusal", async () => {
  const { kube, namespace } = await testNamespace("gitops-strict");
  const bc = (name: string, extra: Record<string, unknown> = {}): RenderedObject => ({
    file: `${name}.yaml`,
    line: 1,
    from: "BackupConfiguration",
    object: {
      apiVersion: "stash.appscode.com/v1beta1",
      kind: "BackupConfiguration",
      metadata: { name, namespace },
      spec: {
        repository: { name: "r" },
        schedule: "0 1 * * *",
        target: { ref: { apiVersion: "apps/v1", kind: "Deployment", name }, paths: ["/data"] },
        retentionPolicy: { name: "k", keepLast: 1, prune: true },
        ...extra,
      },
    } as KubeObject,
  });
  const plan = await planApply(kube, [bc("good"), bc("bad", { notAStashField: true })], {
    source: { namespace, name: "p" },
    revision: `main@sha1:${"0".repeat(40)}`,
  });
  assert.equal(plan[0].action, "create");
  const failed = planFailed(plan);
  assert.equal(failed.length, 1);
  assert.equal(failed[0].ref.endsWith("/bad"), true, failed[0].ref);
  assert.match(failed[0].message!, /\.spec\.notAStashField: field not declared in schema/);
  assert.equal(mayPassLater(failed[0]), false, "a schema refusal stalls until the files change");
  assert.equal(await kube.getOrNull("stash.appscode.com/v1beta1", "BackupConfiguration", "good", namespace), null, "a dry-run writes nothing");
});
