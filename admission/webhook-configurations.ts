// Pure builders for the MutatingWebhookConfiguration and ValidatingWebhookConfiguration that point
// the API server at the operator server. Choices (failurePolicy, timeouts, scope) are explained in
// docs/decisions/webhooks.md.
import type { KubeObject } from "../lib/kube/client.ts";
import { WORKLOAD_KINDS } from "../stash/names.ts";
import { MUTATE_PATH, VALIDATE_PATH } from "./router.ts";

export const ADMISSION_PREFIX = "/admission";

/** Where the API server reaches the operator: a URL base (tests, local) or a Service (in-cluster). */
export type WebhookEndpoint = { url: string } | { service: { namespace: string; name: string; port?: number } };

export interface WebhookScope {
  /** Limits every webhook to namespaces with these labels (namespaced kinds). */
  namespaceSelector?: Record<string, unknown>;
  /** Limits the webhooks of cluster-scoped kinds (Task) by object labels. */
  clusterObjectSelector?: Record<string, unknown>;
}

export interface WebhookConfigOptions {
  /** metadata.name of both configurations. */
  name: string;
  endpoint: WebhookEndpoint;
  /** base64 PEM of the CA that signs the serving certificate. */
  caBundle: string;
  scope?: WebhookScope;
  timeoutSeconds?: number;
}

/** Namespaces whose objects must never wait on restash (the operator's own, the control plane's). */
const SYSTEM_NAMESPACES = ["kube-system", "kube-public", "kube-node-lease"];

function clientConfig(o: WebhookConfigOptions, path: string): Record<string, unknown> {
  const full = ADMISSION_PREFIX + path;
  if ("url" in o.endpoint) return { url: o.endpoint.url.replace(/\/$/, "") + full, caBundle: o.caBundle };
  const s = o.endpoint.service;
  return { service: { namespace: s.namespace, name: s.name, port: s.port ?? 443, path: full }, caBundle: o.caBundle };
}

function namespaceSelector(scope: WebhookScope | undefined): Record<string, unknown> {
  const base = scope?.namespaceSelector ?? {};
  const exprs = [...((base.matchExpressions as unknown[]) ?? []), { key: "kubernetes.io/metadata.name", operator: "NotIn", values: SYSTEM_NAMESPACES }];
  return { ...base, matchExpressions: exprs };
}

const rule = (apiGroups: string[], apiVersions: string[], resources: string[], scope: "Namespaced" | "Cluster") => ({
  apiGroups,
  apiVersions,
  resources,
  operations: ["CREATE", "UPDATE"],
  scope,
});

function common(o: WebhookConfigOptions, path: string, failurePolicy: "Fail" | "Ignore") {
  return {
    admissionReviewVersions: ["v1"],
    sideEffects: "None",
    matchPolicy: "Equivalent",
    failurePolicy,
    timeoutSeconds: o.timeoutSeconds ?? 5,
    clientConfig: clientConfig(o, path),
  };
}

export function mutatingWebhookConfiguration(o: WebhookConfigOptions): KubeObject {
  const workloadResources = WORKLOAD_KINDS.map((k) => `${k.toLowerCase()}s`);
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name: o.name, labels: { "app.kubernetes.io/managed-by": "restash" } },
    webhooks: [
      {
        name: "workloads.mutators.restash.dev",
        ...common(o, MUTATE_PATH, "Ignore"),
        reinvocationPolicy: "IfNeeded",
        namespaceSelector: namespaceSelector(o.scope),
        rules: [rule(["apps"], ["v1"], workloadResources, "Namespaced")],
      },
      {
        name: "restoresessions.mutators.restash.dev",
        ...common(o, MUTATE_PATH, "Fail"),
        reinvocationPolicy: "Never",
        namespaceSelector: namespaceSelector(o.scope),
        rules: [rule(["stash.appscode.com"], ["v1beta1"], ["restoresessions"], "Namespaced")],
      },
    ],
  };
}

export function validatingWebhookConfiguration(o: WebhookConfigOptions): KubeObject {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name: o.name, labels: { "app.kubernetes.io/managed-by": "restash" } },
    webhooks: [
      {
        name: "stash-kinds.validators.restash.dev",
        ...common(o, VALIDATE_PATH, "Fail"),
        namespaceSelector: namespaceSelector(o.scope),
        rules: [
          rule(["stash.appscode.com"], ["v1alpha1"], ["repositories"], "Namespaced"),
          rule(["stash.appscode.com"], ["v1beta1"], ["backupconfigurations", "restoresessions", "backupbatches", "restorebatches"], "Namespaced"),
        ],
      },
      {
        name: "tasks.validators.restash.dev",
        ...common(o, VALIDATE_PATH, "Fail"),
        ...(o.scope?.clusterObjectSelector ? { objectSelector: o.scope.clusterObjectSelector } : {}),
        rules: [rule(["stash.appscode.com"], ["v1beta1"], ["tasks"], "Cluster")],
      },
    ],
  };
}
