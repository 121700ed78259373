// The README's main-job command, end to end, as a user runs it (its own control plane and services).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");

test("npm run demo syncs a policy repository, backs up, lists snapshots, restores byte for byte and shows the git note", async () => {
  const { code, out } = await new Promise<{ code: number; out: string }>((res) => {
    execFile(process.execPath, [join(root, "scripts/demo.ts")], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: 600_000 }, (err, stdout, stderr) =>
      res({ code: err ? ((err as any).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
  assert.equal(code, 0, out);
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
