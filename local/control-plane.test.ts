import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { Watch, type V1CustomResourceDefinition } from "@kubernetes/client-node";
import { startControlPlane, resolveBinaries } from "./control-plane.ts";
import { Kube } from "../lib/kube/client.ts";

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const widgetCRD = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "widgets.example.restash.dev" },
  spec: {
    group: "example.restash.dev",
    scope: "Namespaced",
    names: { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList" },
    versions: [
      {
        name: "v1",
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: "object", properties: { spec: { type: "object", properties: { size: { type: "integer" } } } } } },
      },
    ],
  },
};

// A control plane of its own (not the shared one), since this test tears it down.
test("the control plane starts, serves a CRD whose objects can be created and watched, and leaves nothing behind", async () => {
  const binDir = resolveBinaries();
  const cp = await startControlPlane({ binDir });
  let stopped = false;
  try {
    assert.ok(existsSync(cp.kubeconfig));
    const kube = Kube.fromFile(cp.kubeconfig);

    // The API server reports the version it was built as.
    const version = await kube.request<{ gitVersion: string }>("/version");
    assert.match(version.gitVersion, /^v1\.\d+\.\d+$/);

    // A CRD is installed and becomes Established.
    await kube.apply(widgetCRD);
    for (let i = 0; ; i++) {
      const crd = await kube.get<V1CustomResourceDefinition>("apiextensions.k8s.io/v1", "CustomResourceDefinition", widgetCRD.metadata.name);
      if ((crd.status?.conditions ?? []).some((c: any) => c.type === "Established" && c.status === "True")) break;
      assert.ok(i < 100, "CRD never established");
      await new Promise((r) => setTimeout(r, 100));
    }

    // Established can precede serving by a moment: wait until the resource lists.
    for (let i = 0; ; i++) {
      const ok = await kube.list("example.restash.dev/v1", "Widget", "default").then(
        () => true,
        () => false,
      );
      if (ok) break;
      assert.ok(i < 100, "widgets never served");
      await new Promise((r) => setTimeout(r, 100));
    }

    // A watch sees the custom object created after it started.
    const seen: string[] = [];
    const watch = new Watch(kube.kc);
    let abort: AbortController | undefined;
    const gotIt = new Promise<void>((resolve, reject) => {
      void watch
        .watch(
          "/apis/example.restash.dev/v1/namespaces/default/widgets",
          {},
          (type, obj) => {
            seen.push(`${type} ${obj.metadata.name} ${obj.spec?.size}`);
            if (obj.metadata.name === "w1") resolve();
          },
          (err) => (err && err.name !== "AbortError" ? reject(err) : undefined),
        )
        .then((ac) => (abort = ac), reject);
    });
    await new Promise((r) => setTimeout(r, 300));
    await kube.apply({ apiVersion: "example.restash.dev/v1", kind: "Widget", metadata: { name: "w1", namespace: "default" }, spec: { size: 3 } });
    await gotIt;
    abort?.abort();
    assert.deepEqual(seen, ["ADDED w1 3"]);

    // RBAC is enforced: a user with no bindings is refused, and kubectl accepts the kubeconfig.
    const nobody = Kube.fromFile(await cp.kubeconfigFor("nobody"));
    await assert.rejects(
      () => nobody.list("v1", "Secret", "default"),
      (e: any) => e.code === 403,
    );
    const out = execFileSync(join(cp.binDir, "kubectl"), ["--kubeconfig", cp.kubeconfig, "get", "widgets", "-n", "default", "-o", "name"], {
      encoding: "utf8",
    });
    assert.equal(out.trim(), "widget.example.restash.dev/w1");

    const { etcdPid, apiserverPid, dir } = cp;
    await cp.stop();
    stopped = true;
    assert.equal(alive(etcdPid), false, "etcd still running");
    assert.equal(alive(apiserverPid), false, "kube-apiserver still running");
    assert.equal(existsSync(dir), false, "temporary directory left behind");
  } finally {
    if (!stopped) await cp.stop();
  }
});
