// Pure builders for registering the Snapshot API with the aggregator: a Service that leads to the
// operator (ExternalName `localhost` when it runs beside a local API server, an ordinary Service
// in-cluster) and the APIService that names it with the CA bundle.
import type { KubeObject } from "../lib/kube/client.ts";
import { GROUP, VERSION } from "../snapshot-api/api-group.ts";

export const API_SERVICE_NAME = `${VERSION}.${GROUP}`;

export interface ApiServiceOptions {
  serviceNamespace: string;
  serviceName: string;
  port: number;
  caBundle: string;
}

/** The Service for a process outside the cluster network: the aggregator dials `localhost:<port>`. */
export function externalNameService(namespace: string, name: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace, labels: { "app.kubernetes.io/managed-by": "restash" } },
    spec: { type: "ExternalName", externalName: "localhost" },
  };
}

export function snapshotApiService(o: ApiServiceOptions): KubeObject {
  return {
    apiVersion: "apiregistration.k8s.io/v1",
    kind: "APIService",
    metadata: { name: API_SERVICE_NAME, labels: { "app.kubernetes.io/managed-by": "restash" } },
    spec: {
      group: GROUP,
      version: VERSION,
      service: { namespace: o.serviceNamespace, name: o.serviceName, port: o.port },
      caBundle: o.caBundle,
      groupPriorityMinimum: 1000,
      versionPriority: 15,
    },
  };
}

/** The DNS name the aggregator verifies the serving certificate against. */
export const serviceDnsName = (namespace: string, name: string) => `${name}.${namespace}.svc`;
