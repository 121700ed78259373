// Installs restash's CRDs (schema/crds/*.yaml) with server-side apply and waits until the API
// server serves them.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import type { Kube, KubeObject } from "../lib/kube/client.ts";

export const CRD_DIR = join(import.meta.dirname, "crds");

export function crdDocuments(dir = CRD_DIR): KubeObject[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => load(readFileSync(join(dir, f), "utf8")) as KubeObject);
}

export async function installCRDs(kube: Kube, opts: { timeoutMs?: number } = {}): Promise<string[]> {
  const crds = crdDocuments();
  for (const crd of crds) await kube.apply(crd, { force: true });
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (const crd of crds) {
    for (;;) {
      const live = await kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd.metadata.name!);
      const established = (live.status?.conditions ?? []).some((c: any) => c.type === "Established" && c.status === "True");
      if (established) break;
      if (Date.now() > deadline) throw new Error(`CRD ${crd.metadata.name} was not established in time`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return crds.map((c) => c.metadata.name!);
}
