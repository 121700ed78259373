import { test } from "node:test";
import assert from "node:assert/strict";
import { desiredRunnerBinding, jobServiceAccount, podServiceAccount } from "./runner-rbac.ts";

test("the runner's RoleBinding binds ClusterRole restash-runner to the ServiceAccount the workload's pods or the Job's pod run as", () => {
  assert.deepEqual(desiredRunnerBinding("shop", "web"), {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: "restash-runner-web", namespace: "shop", labels: { "app.kubernetes.io/managed-by": "stash.appscode.com" } },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "restash-runner" },
    subjects: [{ kind: "ServiceAccount", name: "web", namespace: "shop" }],
  });
  assert.equal(
    podServiceAccount({ apiVersion: "apps/v1", kind: "Deployment", metadata: {}, spec: { template: { spec: { serviceAccountName: "web" } } } }),
    "web",
  );
  assert.equal(podServiceAccount({ apiVersion: "apps/v1", kind: "Deployment", metadata: {}, spec: { template: { spec: {} } } }), "default");
  assert.equal(
    jobServiceAccount({ apiVersion: "apps/v1", kind: "Deployment", metadata: {}, spec: { runtimeSettings: { pod: { serviceAccountName: "backup" } } } }),
    "backup",
  );
  assert.equal(jobServiceAccount({ apiVersion: "apps/v1", kind: "Deployment", metadata: {}, spec: {} }), "default");
});
