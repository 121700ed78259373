// Lookups over a fixed set of objects, for the pure tests of the admission functions (the
// end-to-end tests use kubeLookups against the real API server).
import type { KubeObject } from "../lib/kube/client.ts";
import type { AdmissionLookups } from "../admission/types.ts";

export function lookupsOf(objects: KubeObject[]): AdmissionLookups {
  const find = (kind: string, name: string, ns?: string) =>
    objects.find((o) => o.kind === kind && o.metadata.name === name && (ns === undefined || o.metadata.namespace === ns)) ?? null;
  return {
    getRepository: async (ns, name) => find("Repository", name, ns),
    getNamespace: async (name) => find("Namespace", name),
    getTask: async (name) => find("Task", name),
    getFunction: async (name) => find("Function", name),
    listBackupConfigurations: async (ns) => objects.filter((o) => o.kind === "BackupConfiguration" && o.metadata.namespace === ns),
    listRestoreSessions: async (ns) => objects.filter((o) => o.kind === "RestoreSession" && o.metadata.namespace === ns),
    listBackupBatches: async (ns) => objects.filter((o) => o.kind === "BackupBatch" && o.metadata.namespace === ns),
    listRestoreBatches: async (ns) => objects.filter((o) => o.kind === "RestoreBatch" && o.metadata.namespace === ns),
  };
}
