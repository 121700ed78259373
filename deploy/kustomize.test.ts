import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { dump, loadAll } from "js-yaml";
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
    const { objects } = render(kubectl);
    const kinds = objects.map((o) => `${o.kind}/${o.metadata.name}`);

    // Every CRD the project defines is deployed.
    const crdFiles = readdirSync(join(root, "schema/crds")).filter((f) => f.endsWith(".yaml"));
    const crds = objects.filter((o) => o.kind === "CustomResourceDefinition");
    assert.equal(crds.length, crdFiles.length, "kustomization.yaml must list every file in schema/crds");
    for (const want of [
      "Namespace/restash",
      "Deployment/restash-operator",
      "Service/restash-operator",
      "ClusterRole/restash-operator",
      "ValidatingWebhookConfiguration/restash",
      "MutatingWebhookConfiguration/restash",
      "APIService/v1alpha1.repositories.stash.appscode.com",
    ]) {
      assert.ok(kinds.includes(want), `render lacks ${want}`);
    }

    // Two operator replicas under leader election, never both disrupted at once; the pushgateway the
    // sidecars push to is one Deployment of its own, so the metrics of every replica's era meet there.
    const deployment = (name: string) => objects.find((o) => o.kind === "Deployment" && o.metadata.name === name)! as any;
    const op = deployment("restash-operator");
    assert.equal(op.spec.replicas, 2);
    assert.deepEqual(
      op.spec.template.spec.containers.map((c: any) => c.name),
      ["operator"],
    );
    assert.ok(op.spec.template.spec.containers[0].args.includes("--enable-leader-election"));
    assert.deepEqual(
      deployment("restash-pushgateway").spec.template.spec.containers.map((c: any) => c.name),
      ["pushgateway"],
    );
    assert.ok(kinds.includes("PodDisruptionBudget/restash-operator") && kinds.includes("Service/restash-pushgateway"));

    // Least privilege: no wildcard verb, resource or API group anywhere.
    for (const role of objects.filter((o) => o.kind === "ClusterRole" || o.kind === "Role")) {
      for (const rule of (role as any).rules ?? []) {
        for (const field of ["verbs", "resources", "apiGroups"]) {
          assert.ok(!(rule[field] ?? []).includes("*"), `${role.kind} ${role.metadata.name} has a wildcard in ${field}`);
        }
      }
    }

    // CRDs and the namespace first, as any installer must: the catalog's Functions and Tasks need the
    // CRDs served, and a dry run of namespaced objects needs their namespace to exist.
    const dir = mkdtempSync(join(tmpdir(), "restash-kustomize-"));
    const write = (name: string, docs: KubeObject[]) => {
      const f = join(dir, name);
      writeFileSync(f, docs.map((d) => dump(d)).join("---\n"));
      return f;
    };
    const first = objects.filter((o) => o.kind === "CustomResourceDefinition" || o.kind === "Namespace");
    const crdFile = write("crds.yaml", crds);
    const firstFile = write("first.yaml", first);
    const restFile = write(
      "rest.yaml",
      objects.filter((o) => !first.includes(o)),
    );
    const apply = (file: string, ...extra: string[]) =>
      execFileSync(kubectl, ["--kubeconfig", cp.kubeconfig, "apply", "--server-side", "--field-manager=restash-install", "-f", file, ...extra], {
        encoding: "utf8",
      });
    const lines = (out: string) => out.trim().split("\n").length;

    assert.equal(lines(apply(firstFile, "--dry-run=server")), first.length);
    apply(firstFile);
    execFileSync(kubectl, ["--kubeconfig", cp.kubeconfig, "wait", "--for=condition=Established", "--timeout=60s", "-f", crdFile]);
    const dry = apply(restFile, "--dry-run=server");
    assert.equal(lines(dry), objects.length - first.length, dry);
    apply(restFile);
    const kube = Kube.fromFile(cp.kubeconfig);
    for (const o of objects) {
      const live = await kube.get(o.apiVersion, o.kind, o.metadata.name!, o.metadata.namespace);
      assert.equal(live.metadata.name, o.metadata.name);
    }
    const sa = await kube.get("v1", "ServiceAccount", "restash-operator", "restash");
    assert.equal(sa.metadata.namespace, "restash");

    // The operator's service account may do what the operator does, and not more.
    const can = (verb: string, resource: string, group = "", namespace = "demo") =>
      kube
        .request("/apis/authorization.k8s.io/v1/subjectaccessreviews", {
          method: "POST",
          body: {
            apiVersion: "authorization.k8s.io/v1",
            kind: "SubjectAccessReview",
            spec: { user: "system:serviceaccount:restash:restash-operator", resourceAttributes: { verb, resource, group, namespace } },
          },
        })
        .then((r: any) => r.status.allowed === true);
    assert.equal(await can("create", "cronjobs", "batch"), true);
    assert.equal(await can("patch", "backupsessions", "stash.appscode.com"), true);
    assert.equal(await can("delete", "secrets"), false);
    // The shared serving CA: its Secret is created in restash's namespace only.
    assert.equal(await can("create", "secrets", "", "restash"), true);
    assert.equal(await can("create", "secrets"), false);
    // A deleted BackupConfiguration's finalizer removes its CronJob's ServiceAccount.
    assert.equal(await can("delete", "serviceaccounts"), true);
    assert.equal(await can("create", "pods"), false);
  } finally {
    await cp.stop();
  }
});

test("the image's build and entrypoint commands work outside the image: restic from install-tools.sh, and bin/restash.ts", async () => {
  const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
  assert.match(dockerfile, /^FROM node:24/m);

  // The restic stage runs install-tools.sh with RESTASH_TOOLS=restic; the same command here.
  const run = dockerfile.match(/^RUN (RESTASH_CACHE=\S+ )?(RESTASH_TOOLS=restic bash scripts\/install-tools\.sh)$/m);
  assert.ok(run, "the restic stage builds restic with scripts/install-tools.sh");
  const tools = execFileSync("bash", ["-c", run[2]], { cwd: root, encoding: "utf8" }).trim().split("\n").pop()!;
  assert.match(execFileSync(join(tools, "restic"), ["version"], { encoding: "utf8" }), /^restic 0\.18\.1 /);

  // The entrypoint dispatches the operator, the policy CLI and the runner.
  const entry = JSON.parse(`[${dockerfile.match(/^ENTRYPOINT \[(.*)\]$/m)![1]}]`) as string[];
  assert.equal(entry[0], "node");
  const script = join(root, entry[1].replace("/opt/restash/", ""));
  const help = execFileSync(process.execPath, [script, "help"], { encoding: "utf8" });
  for (const cmd of ["operator", "validate|render|plan", "create-backupsession", "run-backup", "restore", "update-status"]) assert.ok(help.includes(cmd), help);
  const opHelp = execFileSync(process.execPath, [script, "operator", "--help"], { encoding: "utf8" });
  assert.match(opHelp, /--register=cluster\|local\|none/);
  const validate = execFileSync(process.execPath, [script, "validate", join(root, "policies/examples")], { encoding: "utf8" });
  assert.match(validate, /^\d+ object\(s\) valid$/m);
});
