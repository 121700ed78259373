import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { loadAll } from "js-yaml";
import { startControlPlane } from "../local/control-plane.ts";
import { Kube, type KubeObject } from "../lib/kube/client.ts";

const root = resolve(import.meta.dirname, "..");

function render(kubectl: string): { text: string; objects: KubeObject[] } {
  const text = execFileSync(kubectl, ["kustomize", root], { encoding: "utf8" });
  return { text, objects: loadAll(text) as KubeObject[] };
}

// Its own control plane: the rendered webhook configurations point at an in-cluster Service that
// does not exist here and would refuse every Stash object in the shared one.
test("the kustomize render deploys all of restash: server-side dry-run, then for real", async () => {
  const cp = await startControlPlane();
  try {
    const kubectl = join(cp.binDir, "kubectl");
    const { text, objects } = render(kubectl);
    const kinds = objects.map((o) => `${o.kind}/${o.metadata.name}`);

    // Every CRD the project defines is deployed.
    const crdFiles = readdirSync(join(root, "schema/crds")).filter((f) => f.endsWith(".yaml"));
    const crds = objects.filter((o) => o.kind === "CustomResourceDefinition");
    assert.equal(crds.length, crdFiles.length, "kustomization.yaml must list every file in schema/crds");
    for (const want of ["Namespace/restash", "Deployment/restash-operator", "Service/restash-operator", "ClusterRole/restash-operator",
      "ValidatingWebhookConfiguration/restash", "MutatingWebhookConfiguration/restash", "APIService/v1alpha1.repositories.stash.appscode.com"]) {
      assert.ok(kinds.includes(want), `render lacks ${want}`);
    }

    // The operator Deployment has the operator and a pushgateway, as Stash runs it.
    const dep = objects.find((o) => o.kind === "Deployment")!;
    assert.deepEqual((dep.spec.template.spec.containers as any[]).map((c) => c.name), ["operator", "pushgateway"]);

    // Least privilege: no wildcard verb, resource or API group anywhere.
    for (const role of objects.filter((o) => o.kind === "ClusterRole" || o.kind === "Role")) {
      for (const rule of (role as any).rules ?? []) {
        for (const field of ["verbs", "resources", "apiGroups"]) {
          assert.ok(!(rule[field] ?? []).includes("*"), `${role.kind} ${role.metadata.name} has a wildcard in ${field}`);
        }
      }
    }

    const file = join(mkdtempSync(join(tmpdir(), "restash-kustomize-")), "render.yaml");
    writeFileSync(file, text);
    const apply = (...extra: string[]) =>
      execFileSync(kubectl, ["--kubeconfig", cp.kubeconfig, "apply", "--server-side", "--field-manager=restash-install", "-f", file, ...extra], { encoding: "utf8" });

    // CRDs first: the dry run of everything else needs them only for the custom kinds, none here.
    const dry = apply("--dry-run=server");
    assert.equal(dry.trim().split("\n").length, objects.length, dry);

    apply();
    const kube = Kube.fromFile(cp.kubeconfig);
    for (const o of objects) {
      const live = await kube.get(o.apiVersion, o.kind, o.metadata.name!, o.metadata.namespace);
      assert.equal(live.metadata.name, o.metadata.name);
    }
    const sa = await kube.get("v1", "ServiceAccount", "restash-operator", "restash");
    assert.equal(sa.metadata.namespace, "restash");

    // The operator's service account may do what the operator does, and not more.
    const can = (verb: string, resource: string, group = "", namespace = "demo") =>
      kube.request("/apis/authorization.k8s.io/v1/subjectaccessreviews", {
        method: "POST",
        body: {
          apiVersion: "authorization.k8s.io/v1",
          kind: "SubjectAccessReview",
          spec: { user: "system:serviceaccount:restash:restash-operator", resourceAttributes: { verb, resource, group, namespace } },
        },
      }).then((r: any) => r.status.allowed === true);
    assert.equal(await can("create", "cronjobs", "batch"), true);
    assert.equal(await can("patch", "backupsessions", "stash.appscode.com"), true);
    assert.equal(await can("delete", "secrets"), false);
    assert.equal(await can("create", "pods"), false);
  } finally {
    await cp.stop();
  }
});

test("the operator image builds from a Dockerfile that runs the same entrypoints the tests run", () => {
  const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
  assert.match(dockerfile, /^FROM .*node.*24/m);
  assert.match(dockerfile, /restic/);
  const entry = dockerfile.match(/ENTRYPOINT \[(.*)\]/)?.[1] ?? "";
  assert.match(entry, /bin\/restash\.ts/);
});
