// Lookups over a fixed set of objects, for the pure tests of the admission functions (the
// end-to-end tests use kubeLookups against the real API server).
import type { KubeObject } from "../lib/kube/client.ts";
import type { AdmissionLookups } from "../admission/types.ts";
import type { Function as StashFunction, Repository, Task } from "../schema/types.generated.ts";

/** The tests' objects are of the kind they say: found by kind, they are returned as that kind's type. */
export function lookupsOf(objects: KubeObject[]): AdmissionLookups {
  const find = <T extends KubeObject>(kind: string, name: string, ns?: string) =>
    (objects.find((o) => o.kind === kind && o.metadata.name === name && (ns === undefined || o.metadata.namespace === ns)) ?? null) as T | null;
  const all = <T extends KubeObject>(kind: string, ns: string) => objects.filter((o) => o.kind === kind && o.metadata.namespace === ns) as T[];
  return {
    getRepository: async (ns, name) => find<Repository>("Repository", name, ns),
    getNamespace: async (name) => find("Namespace", name),
    getTask: async (name) => find<Task>("Task", name),
    getFunction: async (name) => find<StashFunction>("Function", name),
    listBackupConfigurations: async (ns) => all("BackupConfiguration", ns),
    listRestoreSessions: async (ns) => all("RestoreSession", ns),
    listBackupBatches: async (ns) => all("BackupBatch", ns),
    listRestoreBatches: async (ns) => all("RestoreBatch", ns),
  };
}
