// The README's main-job command, end to end, as a user runs it: in-process (`--local`, also what a machine
// without containers falls back to) and on the real node (the operator as a pod, the real CronJob).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { nodeCluster } from "../testing/node.ts";

const root = resolve(import.meta.dirname, "..");

function demo(...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((res) => {
    execFile(
      process.execPath,
      [join(root, "scripts/demo.ts"), ...args],
      { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: 900_000 },
      (err, stdout, stderr) => res({ code: err ? ((err as any).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

test("npm run demo -- --local syncs a policy repository, backs up, lists snapshots, restores byte for byte and shows the git note", async () => {
  const { code, out } = await demo("--local");
  assert.equal(code, 0, out);
  assert.match(out, /In-process demo \(--local\)/);
  assert.match(out, /policysource\.restash\.dev\/backup-policies\s+file:\/\/\S+\s+main@sha1:[0-9a-f]{40}\s+True/);
  assert.match(out, /stash\s+ghcr\.io\/restash\/restash/, "the sidecar was injected");
  assert.match(out, /demo-app-\d{10}\s+BackupConfiguration\s+demo-app\s+Succeeded/);
  assert.match(out, /demo-app-repo-[0-9a-f]{8}\s+[0-9a-f]{8}\s+demo-app-repo\s+host-0/, "kubectl get snapshots lists the snapshot");
  assert.match(out, /demo-restore\s+demo-app-repo\s+Succeeded/);
  assert.match(out, /byte-identical/);
  assert.match(out, /^\s+stash_backup_session_success\{.*\} 1$/m);
  assert.match(out, /Notes \(restash\):\n\s+\{"time":"[^"]+","kind":"sync",.*"result":"Applied"/);
  assert.match(out, /"kind":"backup".*"phase":"Succeeded","snapshots":\["[0-9a-f]{8}"\]/);
});

test("npm run demo on the real node: one kubectl apply deploys restash, the operator pod syncs the policies, the real CronJob's backup is listed and restored", async () => {
  // The process-wide node of the node tests (started here if none runs): the demo finds it running, uses it and leaves it.
  const { node, kube } = await nodeCluster();
  const { code, out } = await demo();
  assert.equal(code, 0, out);
  assert.match(out, new RegExp(`Using the running node ${node.nodeName} at ${node.server.replaceAll(".", "\\.")} \\(left running\\)`));
  assert.doesNotMatch(out, /no real node on this machine/);
  // One line per step, with the seconds since the start.
  assert.match(out, /^\[\s*\d+\.\d+s\] ▶ Deploying restash: kubectl apply --server-side -k \.$/m);
  assert.match(out, /pvc-backup\s+\S+/, "the operator installed the catalog's Tasks");
  assert.match(out, /policysource\.restash\.dev\/backup-policies\s+git:\/\/10\.87\.0\.1:\d+\/policies\.git\s+main@sha1:[0-9a-f]{40}\s+True/);
  assert.match(out, /stash\tghcr\.io\/restash\/restash:\S+/, "the webhook injected the sidecar into the real pod");
  assert.match(out, /job\.batch\/stash-trigger-demo-app-\d+\s+Complete\s+1\/1/, "the real CronJob's Job ran");
  assert.match(out, /backupsession\.stash\.appscode\.com\/demo-app-\d+\s+BackupConfiguration\s+demo-app\s+Succeeded/);
  assert.match(out, /demo-app-repo-[0-9a-f]{8}\s+[0-9a-f]{8}\s+demo-app-repo\s+host-0\s+\S+\s+\/data/, "kubectl get snapshots through the operator pod");
  assert.match(out, /demo-restore\s+demo-app-repo\s+Succeeded/);
  assert.match(out, /byte-identical/);
  assert.match(out, /"kind":"backup".*"phase":"Succeeded","snapshots":\["[0-9a-f]{8}"\]/);
  // The node is left running, and the demo's namespace is on its way out.
  assert.ok(await kube.getOrNull("v1", "Node", node.nodeName));
  const ns = /Namespace (demo-[0-9a-f]{6}),/.exec(out)?.[1];
  assert.ok(ns, out);
  const left = await kube.getOrNull<any>("v1", "Namespace", ns);
  assert.ok(!left || left.metadata.deletionTimestamp, `namespace ${ns} is deleted`);
});
