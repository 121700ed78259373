// Installs restash's CRDs (schema/crds/*.yaml) with server-side apply and waits until the API
// server serves them.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import type { Kube, KubeObject } from "../lib/kube/client.ts";
import type { JsonSchema } from "./json-schema.ts";

export const CRD_DIR = join(import.meta.dirname, "crds");

/** One version of a CustomResourceDefinition (apiextensions.k8s.io/v1), as restash reads it. */
export interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema?: { openAPIV3Schema?: JsonSchema };
  [key: string]: unknown;
}

/** A CustomResourceDefinition (apiextensions.k8s.io/v1): the fields restash reads. */
export interface Crd extends KubeObject {
  spec: {
    group: string;
    names: { kind: string; plural: string; [key: string]: unknown };
    scope: "Namespaced" | "Cluster";
    versions: CrdVersion[];
    [key: string]: unknown;
  };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[]; [key: string]: unknown };
}

export interface CrdFile {
  /** Path of the file. */
  file: string;
  crd: Crd;
}

/** Every CRD file in the directory (sorted by name), each holding one CustomResourceDefinition. */
export function crdFiles(dir = CRD_DIR): CrdFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => {
      const file = join(dir, f);
      // Checked for its kind here; the API server and createValidator check the rest.
      const crd = load(readFileSync(file, "utf8")) as Crd;
      if (crd?.kind !== "CustomResourceDefinition") throw new Error(`${file}: expected one CustomResourceDefinition, found kind ${JSON.stringify(crd?.kind)}`);
      return { file, crd };
    });
}

export function crdDocuments(dir = CRD_DIR): Crd[] {
  return crdFiles(dir).map((f) => f.crd);
}

export async function installCRDs(kube: Kube, opts: { timeoutMs?: number } = {}): Promise<string[]> {
  const crds = crdDocuments();
  for (const crd of crds) await kube.apply(crd, { force: true });
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (const crd of crds) {
    for (;;) {
      const live = await kube.get<Crd>("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd.metadata.name!);
      const established = (live.status?.conditions ?? []).some((c) => c.type === "Established" && c.status === "True");
      if (established) break;
      if (Date.now() > deadline) throw new Error(`CRD ${crd.metadata.name} was not established in time`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  // Established precedes serving: the storage of a new resource answers 429 "storage is
  // (re)initializing" for a moment. Wait until each lists, so the first informer does not fail.
  for (const crd of crds) {
    const version = crd.spec.versions.find((v) => v.storage)?.name ?? crd.spec.versions[0].name;
    const path = `/apis/${crd.spec.group}/${version}/${crd.spec.names.plural}`;
    for (;;) {
      const ok = await kube.request(path, { query: { limit: 1 } }).then(
        () => true,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`CRD ${crd.metadata.name} is established but ${path} is not served`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return crds.map((c) => c.metadata.name!);
}
