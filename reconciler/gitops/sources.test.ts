// Source kinds and triggers against the real API server: a git:// remote served by a real
// `git daemon`, the HMAC-checked push webhook, a watched local directory; and notes written by
// concurrent writers, including backup results recorded for the revision that configured them.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { writeFile, symlink } from "node:fs/promises";
import { join } from "node:path";
import express from "express";
import { stopControlPlane, testNamespace } from "../../testing/cluster.ts";
import { eventually } from "../../testing/eventually.ts";
import { freePort } from "../../local/control-plane.ts";
import type { KubeObject } from "../../lib/kube/client.ts";
import {
  defaultsYaml,
  getSource,
  noteLines,
  policyYaml,
  readyCondition,
  startController,
  syncNow,
  webPolicy,
  withGitops,
} from "../../testing/gitops-fixture.ts";
import { gitAt, openRepo } from "./git-source.ts";
import { NOTES_REF, writeNote } from "./notes.ts";
import { signBody } from "./receiver.ts";
import { startGitHttpServer } from "../../testing/git-http-fixture.ts";
import type { BackupConfiguration, Repository } from "../../schema/types.generated.ts";

after(() => stopControlPlane());

const BC = "stash.appscode.com/v1beta1";
const REPO = "stash.appscode.com/v1alpha1";

test("a git:// remote served by git daemon is synced, and notes are pushed back over git://", async () => {
  await withGitops(await testNamespace("gitops-daemon"), async ({ kube, namespace, remote, push, sync, defer }) => {
    const port = await freePort();
    await gitAt(remote.bare).raw(["config", "daemon.receivepack", "true"]);
    const daemon = spawn(
      "git",
      ["daemon", "--reuseaddr", "--export-all", "--enable=receive-pack", `--base-path=${remote.root}`, "--listen=127.0.0.1", `--port=${port}`, remote.root],
      { stdio: "ignore" },
    );
    defer(() => daemon.kill());
    await eventually(
      "git daemon",
      () =>
        new Promise<boolean>((r) =>
          connect(port, "127.0.0.1")
            .once("connect", function (this: any) {
              this.end();
              r(true);
            })
            .once("error", () => r(false)),
        ),
      30_000,
    );
    const { head } = await push(webPolicy(), "web");
    const src = await sync("p", { url: `git://127.0.0.1:${port}/remote.git` });
    assert.equal(readyCondition(src)?.status, "True", readyCondition(src)?.message);
    assert.equal(src.status?.lastAppliedRevision, `main@sha1:${head}`);
    assert.ok(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "web", namespace));
    assert.equal((await noteLines(remote.bare, head))[0]?.result, "Applied");
  });
});

test("a signed push webhook syncs at once; a bad signature or a notes push is not acted on", async () => {
  await withGitops(await testNamespace("gitops-hook"), async ({ kube, namespace, ctl, push, sync, defer }) => {
    const app = express();
    app.use(ctl.receiver);
    const server = app.listen(0, "127.0.0.1");
    defer(() => server.close());
    await new Promise((r) => server.once("listening", r));
    const url = `http://127.0.0.1:${(server.address() as any).port}/hooks/${namespace}/p`;
    await kube.apply({ apiVersion: "v1", kind: "Secret", metadata: { name: "hook", namespace }, stringData: { webhookSecret: "s3cret-hook-key" } } as any);
    const { work } = await push(webPolicy(), "web");
    await sync("p", { secretRef: { name: "hook" } });

    await work.write({ "db.yaml": policyYaml("db") });
    const head = await work.commitAndPush("db");
    const body = JSON.stringify({ ref: "refs/heads/main", after: head });
    const bad = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json", "x-hub-signature-256": signBody(body, "wrong") } });
    assert.equal(bad.status, 401);
    const notes = JSON.stringify({ ref: "refs/notes/restash" });
    const ignored = await fetch(url, { method: "POST", body: notes, headers: { "x-hub-signature-256": signBody(notes, "s3cret-hook-key") } });
    assert.equal(ignored.status, 202);
    assert.match(await ignored.text(), /not a branch push/);
    await ctl.idle();
    assert.equal(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "db", namespace), null, "no sync from unsigned or notes pushes");

    const ok = await fetch(url, {
      method: "POST",
      body,
      headers: { "content-type": "application/json", "x-hub-signature-256": signBody(body, "s3cret-hook-key") },
    });
    assert.equal(ok.status, 202);
    await eventually("the pushed revision", async () => (await getSource(kube, namespace, "p")).status?.lastAppliedRevision === `main@sha1:${head}`, 30_000);
    assert.ok(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "db", namespace));
  });
});

test("a local directory source applies on file save, and a symlink leaving it or an oversized file stops the revision", async () => {
  await withGitops(await testNamespace("gitops-local"), async ({ kube, namespace, sync, resync, tempDir }) => {
    const dir = await tempDir("restash-local-");
    await writeFile(join(dir, "defaults.yaml"), defaultsYaml());
    await writeFile(join(dir, "web.yaml"), policyYaml("web"));
    const first = await sync("local", { localPath: dir, maxFileSize: 4096 });
    assert.equal(readyCondition(first)?.status, "True", readyCondition(first)?.message);
    assert.match(first.status!.lastAppliedRevision!, /^dir@sha256:[0-9a-f]{40}$/);

    await writeFile(join(dir, "web.yaml"), policyYaml("web", '  schedule: "7 7 * * *"\n'));
    await eventually(
      "the saved file applied",
      async () => (await kube.get<BackupConfiguration>(BC, "BackupConfiguration", "web", namespace)).spec.schedule === "7 7 * * *",
      30_000,
    );

    await symlink("/etc/hostname", join(dir, "escape.yaml"));
    await writeFile(join(dir, "big.yaml"), "# " + "x".repeat(5000) + "\n");
    const src = await resync("local");
    assert.equal(readyCondition(src)?.reason, "ValidationFailed");
    assert.match(readyCondition(src)!.message!, /big\.yaml:1: file is 5003 bytes, over the 4096-byte limit/);
    assert.match(readyCondition(src)!.message!, /escape\.yaml:1: symlink leaves the repository; refused/);
  });
});

test("concurrent note writers are merged, not lost, and backup results land on the revision that configured them", async () => {
  await withGitops(await testNamespace("gitops-notes"), async ({ kube, namespace, remote, ctl, push, sync }) => {
    const { work, head } = await push(webPolicy("  repository: { prunable: true }\n"), "web");
    await sync("p");

    // Four writers in four clones race on the same commit's note.
    const writers = await Promise.all([1, 2, 3, 4].map(async (i) => openRepo(join(remote.root, `writer-${i}`), remote.url)));
    await Promise.all(
      writers.map((w, i) =>
        writeNote(w, head, [{ time: `2026-01-01T00:00:0${i}Z`, kind: "backup", source: "other/cluster", revision: `main@sha1:${head}`, writer: i }]),
      ),
    );
    const bc = await kube.get<BackupConfiguration>(BC, "BackupConfiguration", "web", namespace);
    await ctl.recordBackupResult({
      backupConfiguration: bc,
      session: "web-1700000000",
      phase: "Succeeded",
      snapshots: ["0a1b2c3d"],
      time: "2026-01-02T00:00:00Z",
    });
    // A controller that has not synced the source yet (e.g. just restarted) records results too.
    const fresh = await startController(kube, "no-such-namespace");
    try {
      await fresh.recordBackupResult({ backupConfiguration: bc, session: "web-1700000600", phase: "Failed", time: "2026-01-02T00:10:00Z" });
    } finally {
      await fresh.stop();
    }
    const lines = await noteLines(remote.bare, head);
    assert.ok(lines.some((l) => l.session === "web-1700000600" && l.phase === "Failed"));
    assert.deepEqual(
      lines
        .filter((l) => l.source === "other/cluster")
        .map((l) => l.writer)
        .sort(),
      [0, 1, 2, 3],
    );
    assert.equal(lines.filter((l) => l.kind === "sync").length, 1);
    const backup = lines.find((l) => l.kind === "backup" && l.session === "web-1700000000");
    assert.deepEqual(backup, {
      time: "2026-01-02T00:00:00Z",
      kind: "backup",
      source: `${namespace}/p`,
      revision: `main@sha1:${head}`,
      backupConfiguration: `${namespace}/web`,
      session: "web-1700000000",
      phase: "Succeeded",
      snapshots: ["0a1b2c3d"],
    });
    const log = await gitAt(remote.bare).raw(["log", `--notes=${NOTES_REF}`, "-1", head]);
    assert.match(log, /"session":"web-1700000000"/);

    // A prunable Repository is pruned when its policy leaves Git, and wipeOut never rides along.
    // A finalizer holds the deleted Repository so the test can see what the prune left in it.
    await kube.mergePatch(await kube.get<Repository>(REPO, "Repository", "web-repo", namespace), {
      metadata: { finalizers: ["test.restash.dev/hold"] },
      spec: { wipeOut: true },
    });
    await work.remove("web.yaml");
    await work.commitAndPush("drop web");
    await syncNow(ctl, namespace, "p");
    const held = await kube.get<Repository>(REPO, "Repository", "web-repo", namespace);
    assert.ok(held.metadata.deletionTimestamp, "the Repository is being deleted");
    assert.equal(held.spec.wipeOut, false, "pruning never wipes the backup data");
    await kube.mergePatch(held, { metadata: { finalizers: null } });
    assert.equal(await kube.getOrNull<Repository>(REPO, "Repository", "web-repo", namespace), null);
    assert.equal(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "web", namespace), null);
  });
});

test("an https remote with basic credentials from a Secret is synced; wrong credentials are reported, never shown", async () => {
  await withGitops(await testNamespace("gitops-https"), async ({ kube, namespace, remote, push, sync, resync, defer }) => {
    const server = await startGitHttpServer(remote.root, { username: "sync-bot", password: "correct-horse-battery" });
    defer(() => server.close());
    const { head } = await push(webPolicy(), "web");
    await kube.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "git", namespace },
      stringData: { username: "sync-bot", password: "correct-horse-battery", "ca.crt": server.caPem },
    } as any);
    let src = await sync("p", { url: `${server.url}/remote.git`, secretRef: { name: "git" } });
    assert.equal(readyCondition(src)?.status, "True", readyCondition(src)?.message);
    assert.equal(src.status?.lastAppliedRevision, `main@sha1:${head}`);
    assert.equal((await noteLines(remote.bare, head))[0]?.result, "Applied", "notes pushed over https with the same credentials");

    await kube.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "git", namespace },
      stringData: { username: "sync-bot", password: "wrong-password-123", "ca.crt": server.caPem },
    } as any);
    src = await resync("p");
    assert.equal(readyCondition(src)?.reason, "AuthenticationFailed");
    assert.match(readyCondition(src)!.message!, new RegExp(`fetching ${server.url.replace(/\./g, "\\.")}/remote\\.git: the remote rejected the credentials`));
    assert.ok(!JSON.stringify(src.status).includes("wrong-password-123") && !JSON.stringify(src.status).includes("correct-horse"), "no credential in status");
    assert.equal(src.status?.lastAppliedRevision, `main@sha1:${head}`);
  });
});

test("a finished BackupSession of a BackupConfiguration from Git is written into the note of the revision that configured it", async () => {
  await withGitops(await testNamespace("gitops-session"), async ({ kube, namespace, remote, ctl, push, sync }) => {
    const { head } = await push(webPolicy(), "web");
    await sync("p");

    const bs = await kube.create<KubeObject>({
      apiVersion: BC,
      kind: "BackupSession",
      metadata: { name: "web-1700000900", namespace },
      spec: { invoker: { apiGroup: "stash.appscode.com", kind: "BackupConfiguration", name: "web" } },
    } as KubeObject);
    await kube.mergePatch(bs, { status: { phase: "Running" } }, "status");
    await ctl.idle();
    assert.equal((await noteLines(remote.bare, head)).filter((l) => l.kind === "backup").length, 0, "a running session is not recorded");
    await kube.mergePatch(
      bs,
      {
        status: {
          phase: "Succeeded",
          targets: [
            {
              ref: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
              phase: "Succeeded",
              stats: [{ hostname: "host-0", phase: "Succeeded", snapshots: [{ name: "4f2a9c1e", path: "/data" }] }],
            },
          ],
        },
      },
      "status",
    );
    const line = await eventually("the backup result note", async () => (await noteLines(remote.bare, head)).find((l) => l.kind === "backup"), 30_000);
    assert.deepEqual(line, {
      time: bs.metadata.creationTimestamp,
      kind: "backup",
      source: `${namespace}/p`,
      revision: `main@sha1:${head}`,
      backupConfiguration: `${namespace}/web`,
      session: "web-1700000900",
      phase: "Succeeded",
      snapshots: ["4f2a9c1e"],
    });
  });
});
