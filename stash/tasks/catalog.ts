// The catalog restash ships (catalog/*.yaml: Functions and Tasks) read from disk and applied with
// the one server-side-apply helper. Functions and Tasks are cluster-scoped, so applying is
// idempotent across namespaces and tests.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { load, loadAll } from "js-yaml";
import type { Kube, KubeObject } from "../../lib/kube/client.ts";

export const CATALOG_DIR = join(dirname(fileURLToPath(import.meta.url)), "../../catalog");

/** Every object listed by catalog/kustomization.yaml, in its order. */
export function catalogObjects(dir = CATALOG_DIR): KubeObject[] {
  const k = load(readFileSync(join(dir, "kustomization.yaml"), "utf8")) as { resources?: string[] };
  const out: KubeObject[] = [];
  for (const file of k.resources ?? []) for (const doc of loadAll(readFileSync(join(dir, file), "utf8"))) if (doc) out.push(doc as KubeObject);
  return out;
}

export async function installCatalog(kube: Kube, dir = CATALOG_DIR): Promise<void> {
  for (const o of catalogObjects(dir)) await kube.apply(o, { force: true });
}
