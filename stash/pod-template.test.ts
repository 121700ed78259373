import { test } from "node:test";
import assert from "node:assert/strict";
import type { BackupConfiguration, RestoreSession } from "../schema/types.generated.ts";
import { injectSidecar, removeSidecar, injectInitContainer, removeInitContainer, backupInvokerHash, backupInvokerAnnotations } from "./pod-template.ts";

const bc: BackupConfiguration = {
  apiVersion: "stash.appscode.com/v1beta1",
  kind: "BackupConfiguration",
  metadata: { name: "deployment-backup", namespace: "demo", uid: "u1", generation: 2 },
  spec: {
    repository: { name: "gcs-repo" },
    schedule: "*/5 * * * *",
    target: {
      ref: { apiVersion: "apps/v1", kind: "Deployment", name: "stash-demo" },
      volumeMounts: [{ name: "source-data", mountPath: "/source/data" }],
      paths: ["/source/data"],
    },
    retentionPolicy: { name: "keep-last-5", keepLast: 5, prune: true },
  },
};
const repo = { spec: { backend: { gcs: { bucket: "b", prefix: "p", maxConnections: 5 } } } };
const opts = { image: "restash/restash:v0.1.0", pushgatewayUrl: "http://stash-operator.kube-system.svc:56789" };

const app = {
  metadata: { labels: { app: "stash-demo" } },
  spec: {
    containers: [{ name: "busybox", image: "busybox", volumeMounts: [{ name: "source-data", mountPath: "/source/data" }] }],
    volumes: [{ name: "source-data", persistentVolumeClaim: { claimName: "stash-sample-data" } }],
  },
};

const sidecar = {
  name: "stash",
  image: "restash/restash:v0.1.0",
  imagePullPolicy: "IfNotPresent",
  args: [
    "run-backup",
    "--invoker-name=deployment-backup",
    "--invoker-kind=BackupConfiguration",
    "--target-name=stash-demo",
    "--target-namespace=demo",
    "--target-kind=Deployment",
    "--enable-cache=true",
    "--max-connections=5",
    "--metrics-enabled=true",
    "--pushgateway-url=http://stash-operator.kube-system.svc:56789",
  ],
  env: [
    { name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
    { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
  ],
  volumeMounts: [
    { name: "stash-tmp-dir", mountPath: "/stash-tmp" },
    { name: "source-data", mountPath: "/source/data" },
  ],
};

test("a workload's pod template gets the stash sidecar, the tmp volume and the invoker hash", () => {
  const out = injectSidecar(app, bc, repo, opts);
  assert.deepEqual(out, {
    metadata: { labels: { app: "stash-demo" }, annotations: { "stash.appscode.com/last-applied-backup-invoker-hash": backupInvokerHash(bc) } },
    spec: {
      containers: [app.spec.containers[0], sidecar],
      volumes: [app.spec.volumes[0], { name: "stash-tmp-dir", emptyDir: {} }],
    },
  });
  assert.equal(app.spec.containers.length, 1, "input not mutated");
});

test("injecting twice gives the same template, and removing restores the original", () => {
  const once = injectSidecar(app, bc, repo, opts);
  assert.deepEqual(injectSidecar(once, bc, repo, opts), once);
  assert.deepEqual(removeSidecar(once), app);
});

test("pausing a BackupConfiguration does not change the hash (pods are not restarted)", () => {
  assert.equal(backupInvokerHash({ ...bc, spec: { ...bc.spec, paused: true } }), backupInvokerHash(bc));
  assert.notEqual(backupInvokerHash({ ...bc, spec: { ...bc.spec, schedule: "0 * * * *" } }), backupInvokerHash(bc));
  assert.match(backupInvokerHash(bc), /^\d+$/);
});

test("tempDir settings and disableCaching reach the volume and the flags", () => {
  const out = injectSidecar(app, { ...bc, spec: { ...bc.spec, tempDir: { medium: "Memory", sizeLimit: "1Gi", disableCaching: true } } }, undefined, {
    image: "i",
  });
  const c = out.spec!.containers!.find((x) => x.name === "stash");
  assert.ok(c!.args!.includes("--enable-cache=false"));
  assert.ok(c!.args!.includes("--max-connections=0"));
  assert.ok(c!.args!.includes("--metrics-enabled=false"));
  assert.deepEqual(out.spec!.volumes!.at(-1), { name: "stash-tmp-dir", emptyDir: { medium: "Memory", sizeLimit: "1Gi" } });
});

test("a restore init-container is prepended, runs as root, and is removed cleanly", () => {
  const rs: RestoreSession = {
    apiVersion: "stash.appscode.com/v1beta1",
    kind: "RestoreSession",
    metadata: { name: "deployment-restore", namespace: "demo" },
    spec: {
      repository: { name: "gcs-repo" },
      target: {
        ref: { apiVersion: "apps/v1", kind: "Deployment", name: "stash-recovered" },
        volumeMounts: [{ name: "source-data", mountPath: "/source/data" }],
        rules: [{ paths: ["/source/data"] }],
      },
    },
  };
  const withInit = { ...app, spec: { ...app.spec, initContainers: [{ name: "setup", image: "busybox" }] } };
  const out = injectInitContainer(withInit, rs, repo, opts);
  assert.deepEqual(
    out.spec!.initContainers!.map((c) => c.name),
    ["stash-init", "setup"],
  );
  const init = out.spec!.initContainers![0];
  assert.deepEqual(init.args!.slice(0, 6), [
    "restore",
    "--invoker-name=deployment-restore",
    "--invoker-kind=RestoreSession",
    "--target-name=stash-recovered",
    "--target-namespace=demo",
    "--target-kind=Deployment",
  ]);
  assert.deepEqual(init.securityContext, { runAsUser: 0, runAsGroup: 0 });
  assert.deepEqual(removeInitContainer(out), withInit);
});

test("workload annotations record the invoker without its status", () => {
  const a = backupInvokerAnnotations({ ...bc, status: { phase: "Ready" } } as any);
  assert.equal(a["stash.appscode.com/last-applied-backup-invoker-kind"], "BackupConfiguration");
  const parsed = JSON.parse(a["stash.appscode.com/last-applied-backup-invoker"]);
  assert.equal(parsed.status, undefined);
  assert.deepEqual(parsed.metadata, { generation: 2, name: "deployment-backup", namespace: "demo", uid: "u1" });
});
