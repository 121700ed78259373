// Every Stash-kind document in Stash's own docs examples is accepted offline by ajv and by a real
// API server with our CRDs installed, and reads back as applied (plus the schema's defaults).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, globSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { stopControlPlane, testNamespace } from "../testing/cluster.ts";
import { PatchStrategy } from "@kubernetes/client-node";
import type { Kube, KubeObject } from "../lib/kube/client.ts";
import { defaultValidator, formatError, parseYaml, type LoadedObject } from "./validate.ts";
import { crdFiles } from "./install.ts";
import { defaultsDiff } from "./defaults-diff.ts";

after(() => stopControlPlane());

// The Stash docs' example YAML (Apache-2.0), kept outside the repository; RESTASH_STASH_DOCS moves it.
// CI clones the repository with shared/ beside it; a developer's checkout sits in /work/main.
const DEFAULT_CORPUS =
  [resolve(import.meta.dirname, "../../shared/compat/stash-docs"), "/work/shared/compat/stash-docs"].find((d) => existsSync(d)) ??
  "../shared/compat/stash-docs";
const STASH_GROUPS = new Set(["stash.appscode.com", "appcatalog.appscode.com"]);

interface Doc {
  loaded: LoadedObject;
  tabExpanded: boolean;
}

/** The Stash-kind documents of the corpus. A file with a TAB in its indentation (the etcd example the
 *  reference lists) is read with TABs expanded to two spaces, as the reference counts it as a valid
 *  BackupConfiguration; every other file must parse as it is. */
function corpusDocuments(dir: string): { docs: Doc[]; files: number } {
  const files = globSync("**/*.yaml", { cwd: dir }).sort();
  const docs: Doc[] = [];
  for (const f of files) {
    const raw = readFileSync(join(dir, f), "utf8");
    const tabExpanded = /^[ ]*\t/m.test(raw);
    const text = tabExpanded ? raw.replace(/^([ \t]+)/gm, (ws) => ws.replace(/\t/g, "  ")) : raw;
    const { objects, errors } = parseYaml(f, text);
    assert.deepEqual(errors.map(formatError), [], `${f} does not parse`);
    for (const loaded of objects) {
      const group = loaded.object.apiVersion.split("/")[0];
      if (STASH_GROUPS.has(group)) docs.push({ loaded, tabExpanded });
    }
  }
  return { docs, files: files.length };
}

function schemaFor(apiVersion: string, kind: string): any {
  for (const { crd } of crdFiles()) {
    if (crd.spec.names.kind !== kind) continue;
    const v = crd.spec.versions.find((v: any) => `${crd.spec.group}/${v.name}` === apiVersion);
    if (v) return v.schema!.openAPIV3Schema;
  }
  throw new Error(`no CRD for ${apiVersion} ${kind}`);
}

async function strictApply(kube: Kube, obj: KubeObject, subresource?: "status"): Promise<KubeObject> {
  const path = (await kube.pathOf(obj, "patch")) + (subresource ? "/status" : "");
  return kube.request<KubeObject>(path, {
    method: "PATCH",
    body: obj,
    contentType: PatchStrategy.ServerSideApply,
    query: { fieldManager: "compat-test", force: true, fieldValidation: "Strict" },
  });
}

test("every Stash-kind document of the Stash docs is accepted offline and by the API server, and reads back as applied", async () => {
  const corpus = process.env.RESTASH_STASH_DOCS ?? DEFAULT_CORPUS;
  assert.ok(existsSync(corpus), `the Stash docs corpus is missing at ${corpus} (set RESTASH_STASH_DOCS to its directory)`);
  const { docs, files } = corpusDocuments(corpus);
  const validator = defaultValidator();

  // Offline: ajv with the CRD schemas.
  const offline = docs.flatMap((d) => validator.validateObject(d.loaded, undefined)).map(formatError);
  assert.deepEqual(offline, [], "offline validation errors");

  // API server: namespaced documents go to one fresh namespace per namespace named in the docs
  // (consistently, so cross-references stay within one namespace); cluster-scoped ones get a
  // per-run suffix so they cannot collide with other tests in the shared control plane.
  const { kube } = await testNamespace("compat");
  const nsMap = new Map<string, string>();
  const suffix = randomBytes(3).toString("hex");
  const nsFor = async (ns: string) => {
    let mapped = nsMap.get(ns);
    if (!mapped) {
      mapped = (await testNamespace(`compat-${ns}`)).namespace;
      nsMap.set(ns, mapped);
    }
    return mapped;
  };

  const perKind = new Map<string, number>();
  let statusChecked = 0;
  for (const { loaded } of docs) {
    const src = loaded.object;
    const where = `${loaded.file}:${loaded.line} ${src.kind} ${src.metadata.name}`;
    const served = validator.servedKind(src.apiVersion, src.kind);
    assert.ok(served, `${where}: kind not served`);
    const { status, ...rest } = structuredClone(src) as KubeObject & { status?: unknown };
    const metadata = { name: src.metadata.name, labels: src.metadata.labels, annotations: src.metadata.annotations } as KubeObject["metadata"];
    if (served.scope === "Namespaced") metadata.namespace = await nsFor(src.metadata.namespace ?? "default");
    else metadata.name = `${src.metadata.name}-${suffix}`;
    const obj = { ...rest, metadata } as KubeObject;

    let live: KubeObject;
    try {
      live = await strictApply(kube, obj);
    } catch (e) {
      assert.fail(`${where}: rejected by the API server: ${(e as Error).message}`);
    }
    const schema = schemaFor(src.apiVersion, src.kind);
    assert.deepEqual(defaultsDiff(obj.spec, live.spec, schema.properties.spec, "spec"), [], `${where}: spec read back differs`);

    if (status !== undefined) {
      const withStatus = { apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: metadata.name, namespace: metadata.namespace }, status } as KubeObject;
      let afterStatus: KubeObject;
      try {
        afterStatus = await strictApply(kube, withStatus, "status");
      } catch (e) {
        assert.fail(`${where}: status rejected by the API server: ${(e as Error).message}`);
      }
      assert.deepEqual(defaultsDiff(status, afterStatus.status, schema.properties.status, "status"), [], `${where}: status read back differs`);
      statusChecked++;
    }
    const reread = await kube.get(obj.apiVersion, obj.kind, metadata.name!, metadata.namespace);
    assert.deepEqual(reread.spec, live.spec, `${where}: a second read differs from the apply response`);
    perKind.set(src.kind, (perKind.get(src.kind) ?? 0) + 1);
  }

  const summary = [...perKind]
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  const tabs = docs.filter((d) => d.tabExpanded).map((d) => d.loaded.file);
  console.log(
    `stash-docs compat: ${docs.length} Stash-kind documents from ${files} files accepted offline and by the API server ` +
      `(${summary}; ${statusChecked} with status applied through /status; ${tabs.length ? `TAB-expanded: ${tabs.join(", ")}` : "no file needed TAB expansion"})`,
  );
  assert.ok(docs.length >= 100, `expected the corpus to hold at least 100 Stash-kind documents, found ${docs.length}`);
});
