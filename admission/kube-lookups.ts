// AdmissionLookups read straight from the API server: the operator server answers from informer
// caches (admission/cached-lookups.ts) and uses these for a GET the cache misses and for lists
// before the caches have synced.
import { ApiError, isNotFound, type Kube, type KubeObject } from "../lib/kube/client.ts";
import type { AdmissionLookups } from "./types.ts";

const V1BETA1 = "stash.appscode.com/v1beta1";

/**
 * The API server answers 429 while a new CRD's storage initialises and 5xx when briefly overloaded;
 * a short retry keeps those from becoming denials, well inside the webhook timeout.
 */
async function retrying<T>(fn: () => Promise<T>, delays = [50, 150, 400]): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (e) {
      const transient = e instanceof ApiError && (e.code === 429 || e.code >= 500);
      if (!transient || i >= delays.length) throw e;
      await new Promise((r) => setTimeout(r, delays[i]));
    }
  }
}

async function getOrNull<T extends KubeObject>(kube: Kube, apiVersion: string, kind: string, name: string, namespace?: string): Promise<T | null> {
  try {
    return await retrying(() => kube.get<T>(apiVersion, kind, name, namespace));
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

async function listOrEmpty<T extends KubeObject>(kube: Kube, apiVersion: string, kind: string, namespace: string): Promise<T[]> {
  try {
    return (await retrying(() => kube.list<T>(apiVersion, kind, namespace))).items;
  } catch (e) {
    if (isNotFound(e)) return []; // the kind is not installed: nothing can target the workload
    throw e;
  }
}

export function kubeLookups(kube: Kube): AdmissionLookups {
  return {
    getRepository: (ns, name) => getOrNull(kube, "stash.appscode.com/v1alpha1", "Repository", name, ns),
    getNamespace: (name) => getOrNull(kube, "v1", "Namespace", name),
    getTask: (name) => getOrNull(kube, V1BETA1, "Task", name),
    getFunction: (name) => getOrNull(kube, V1BETA1, "Function", name),
    listBackupConfigurations: (ns) => listOrEmpty(kube, V1BETA1, "BackupConfiguration", ns),
    listRestoreSessions: (ns) => listOrEmpty(kube, V1BETA1, "RestoreSession", ns),
    listBackupBatches: (ns) => listOrEmpty(kube, V1BETA1, "BackupBatch", ns),
    listRestoreBatches: (ns) => listOrEmpty(kube, V1BETA1, "RestoreBatch", ns),
  };
}
