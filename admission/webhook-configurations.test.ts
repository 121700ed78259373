import { test } from "node:test";
import assert from "node:assert/strict";
import { mutatingWebhookConfiguration, validatingWebhookConfiguration } from "./webhook-configurations.ts";

const SYSTEM = { key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["kube-system", "kube-public", "kube-node-lease"] };

test("the validating configuration points at /admission/validate and fails closed", () => {
  const v = validatingWebhookConfiguration({ name: "restash", endpoint: { url: "https://127.0.0.1:8443/" }, caBundle: "Q0E=" });
  assert.deepEqual(v.webhooks, [
    {
      name: "stash-kinds.validators.restash.dev",
      admissionReviewVersions: ["v1"],
      sideEffects: "None",
      matchPolicy: "Equivalent",
      failurePolicy: "Fail",
      timeoutSeconds: 5,
      clientConfig: { url: "https://127.0.0.1:8443/admission/validate", caBundle: "Q0E=" },
      namespaceSelector: { matchExpressions: [SYSTEM] },
      rules: [
        { apiGroups: ["stash.appscode.com"], apiVersions: ["v1alpha1"], resources: ["repositories"], operations: ["CREATE", "UPDATE"], scope: "Namespaced" },
        {
          apiGroups: ["stash.appscode.com"],
          apiVersions: ["v1beta1"],
          resources: ["backupconfigurations", "restoresessions", "backupbatches", "restorebatches"],
          operations: ["CREATE", "UPDATE"],
          scope: "Namespaced",
        },
      ],
    },
    {
      name: "tasks.validators.restash.dev",
      admissionReviewVersions: ["v1"],
      sideEffects: "None",
      matchPolicy: "Equivalent",
      failurePolicy: "Fail",
      timeoutSeconds: 5,
      clientConfig: { url: "https://127.0.0.1:8443/admission/validate", caBundle: "Q0E=" },
      rules: [{ apiGroups: ["stash.appscode.com"], apiVersions: ["v1beta1"], resources: ["tasks"], operations: ["CREATE", "UPDATE"], scope: "Cluster" }],
    },
  ]);
});

test("in-cluster, the workload mutator reaches a Service and ignores an unreachable operator", () => {
  const m = mutatingWebhookConfiguration({
    name: "restash",
    endpoint: { service: { namespace: "restash", name: "operator" } },
    caBundle: "Q0E=",
    scope: { namespaceSelector: { matchLabels: { a: "b" } } },
  });
  const w = (m.webhooks as any[])[0];
  assert.equal(w.name, "workloads.mutators.restash.dev");
  assert.equal(w.failurePolicy, "Ignore");
  assert.equal(w.reinvocationPolicy, "IfNeeded");
  assert.deepEqual(w.clientConfig, { service: { namespace: "restash", name: "operator", port: 443, path: "/admission/mutate" }, caBundle: "Q0E=" });
  assert.deepEqual(w.namespaceSelector, { matchLabels: { a: "b" }, matchExpressions: [SYSTEM] });
  assert.deepEqual(w.rules[0].resources, ["deployments", "statefulsets", "daemonsets", "replicasets"]);
  assert.equal((m.webhooks as any[])[1].failurePolicy, "Fail");
});
