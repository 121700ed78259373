// ssh remotes against a real sshd (reconciler/gitops/git-ssh-fixture.ts) and the real API server:
// a Secret in Flux's format (identity, identity.pub, known_hosts) syncs and pushes notes back over
// ssh; a wrong key or an unknown host key applies nothing and says why; the private key is on disk
// only while git talks to the remote and never reaches logs, status or notes.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stopControlPlane, testNamespace } from "../../testing/cluster.ts";
import type { Kube, KubeObject } from "../../lib/kube/client.ts";
import { createLogger } from "../../lib/logger.ts";
import { startPolicySourceController, type PolicySourceController } from "./controller.ts";
import { createRemote, type GitRemote } from "./git-fixture.ts";
import { newKeyPair, startSshGitServer, type SshGitServer } from "./git-ssh-fixture.ts";
import { applySource, defaultsYaml, getSource, grantStash, policyYaml, readyCondition, syncNow } from "./sync-fixtures.ts";
import { gitAt } from "./git-source.ts";
import { NOTES_REF } from "./notes.ts";

const BC = "stash.appscode.com/v1beta1";

let server: SshGitServer;
before(async () => {
  server = await startSshGitServer();
});
after(async () => {
  await server?.close();
  await stopControlPlane();
});

/** Every file under `dir` (the controller's clones, keys and known_hosts). */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(join(e.parentPath, e.name));
  return out;
}

/** The body of a private key (what must never leak): its longest base64 line. */
const keyBody = (pem: string) => pem.split("\n").filter((l) => !l.startsWith("-----")).sort((a, b) => b.length - a.length)[0];

async function controller(kube: Kube, namespace: string, logs: string[]): Promise<{ ctl: PolicySourceController; workDir: string }> {
  const workDir = await mkdtemp(join(tmpdir(), "restash-ssh-sync-"));
  const log = createLogger({ level: "debug", write: (l) => logs.push(l) });
  return { ctl: await startPolicySourceController({ kube, log, workDir, namespace }), workDir };
}

async function sshSecret(kube: Kube, namespace: string, name: string, data: Record<string, string>): Promise<void> {
  await kube.apply({ apiVersion: "v1", kind: "Secret", metadata: { name, namespace }, stringData: data } as any);
}

async function assertNoKeyAnywhere(privateKey: string, where: { workDir: string; logs: string[]; kube: Kube; namespace: string; names: string[]; remote: GitRemote }) {
  const body = keyBody(privateKey);
  for (const f of await filesUnder(where.workDir)) {
    assert.ok(!(await readFile(f, "utf8")).includes(body), `the private key is still on disk in ${f}`);
  }
  assert.ok(!(await filesUnder(where.workDir)).some((f) => f.endsWith("/ssh/identity")), "the key file is removed after git is done");
  assert.ok(!where.logs.join("\n").includes(body), "the private key is in the logs");
  for (const n of where.names) assert.ok(!JSON.stringify((await getSource(where.kube, where.namespace, n)).status ?? {}).includes(body), "the private key is in status");
  const notes = await gitAt(where.remote.bare).raw(["log", `--notes=${NOTES_REF}`, "--all", "--format=%N"]).catch(() => "");
  assert.ok(!notes.includes(body), "the private key is in the notes");
}

test("an ssh remote with a Flux-format Secret syncs, follows pushes and pushes notes back over ssh", async () => {
  const { kube, namespace } = await testNamespace("gitops-ssh");
  const remote = await createRemote();
  const logs: string[] = [];
  const { ctl, workDir } = await controller(kube, namespace, logs);
  try {
    await grantStash(kube, namespace, "policy-sync");
    const work = await remote.clone();
    await work.write({ "defaults.yaml": defaultsYaml(), "web.yaml": policyYaml("web") });
    const c1 = await work.commitAndPush("web");
    await sshSecret(kube, namespace, "git-ssh", { identity: server.clientKey.privateKey, "identity.pub": server.clientKey.publicKey + "\n", known_hosts: server.knownHosts });
    await applySource(kube, namespace, "p", { url: server.urlOf(remote.bare), secretRef: { name: "git-ssh" } });
    await syncNow(ctl, namespace, "p");
    let src = await getSource(kube, namespace, "p");
    assert.equal(readyCondition(src)?.status, "True", `${readyCondition(src)?.message}\nsshd: ${server.log()}`);
    assert.equal(src.status?.lastAppliedRevision, `main@sha1:${c1}`);
    assert.ok(await kube.getOrNull(BC, "BackupConfiguration", "web", namespace));
    const note = await gitAt(remote.bare).raw(["notes", `--ref=${NOTES_REF}`, "show", c1]);
    assert.match(note, /"result":"Applied"/, "the note went back to the remote over ssh");

    await work.write({ "web.yaml": policyYaml("web", '  schedule: "9 9 * * *"\n') });
    const c2 = await work.commitAndPush("change web");
    await syncNow(ctl, namespace, "p");
    src = await getSource(kube, namespace, "p");
    assert.equal(src.status?.lastAppliedRevision, `main@sha1:${c2}`, readyCondition(src)?.message);
    assert.equal((await kube.get<KubeObject>(BC, "BackupConfiguration", "web", namespace)).spec.schedule, "9 9 * * *");
    assert.match(server.log(), /Accepted publickey for/, "sshd authenticated the client key");
    await assertNoKeyAnywhere(server.clientKey.privateKey, { workDir, logs, kube, namespace, names: ["p"], remote });
  } finally {
    await ctl.stop();
    await remote.cleanup();
    await rm(workDir, { recursive: true, force: true });
  }
});

test("ssh: a wrong key fails authentication, an unknown host key is refused, a Secret without known_hosts is invalid; nothing is applied", async () => {
  const { kube, namespace } = await testNamespace("gitops-ssh-bad");
  const remote = await createRemote();
  const logs: string[] = [];
  const { ctl, workDir } = await controller(kube, namespace, logs);
  const keys = await mkdtemp(join(tmpdir(), "restash-ssh-keys-"));
  try {
    await grantStash(kube, namespace, "policy-sync");
    const work = await remote.clone();
    await work.write({ "defaults.yaml": defaultsYaml(), "web.yaml": policyYaml("web") });
    await work.commitAndPush("web");
    const url = server.urlOf(remote.bare);
    const stranger = await newKeyPair(keys, "stranger");
    const otherHost = await newKeyPair(keys, "other-host");

    await sshSecret(kube, namespace, "wrong-key", { identity: stranger.privateKey, known_hosts: server.knownHosts });
    await applySource(kube, namespace, "wrong-key", { url, secretRef: { name: "wrong-key" } });
    await syncNow(ctl, namespace, "wrong-key");
    let ready = readyCondition(await getSource(kube, namespace, "wrong-key"))!;
    assert.equal(ready.status, "False");
    assert.equal(ready.reason, "AuthenticationFailed", ready.message);
    assert.match(ready.message!, new RegExp(`fetching ssh://127\\.0\\.0\\.1:${server.port}/.*: the remote rejected the credentials .*Permission denied \\(publickey\\)`));

    await sshSecret(kube, namespace, "unknown-host", { identity: server.clientKey.privateKey, known_hosts: `[127.0.0.1]:${server.port} ${otherHost.publicKey.split(" ").slice(0, 2).join(" ")}\n` });
    await applySource(kube, namespace, "unknown-host", { url, secretRef: { name: "unknown-host" } });
    await syncNow(ctl, namespace, "unknown-host");
    ready = readyCondition(await getSource(kube, namespace, "unknown-host"))!;
    assert.equal(ready.status, "False");
    assert.equal(ready.reason, "HostKeyVerificationFailed", ready.message);
    assert.match(ready.message!, /the server's host key is not the one in the Secret's known_hosts; nothing was fetched/);

    await sshSecret(kube, namespace, "no-hosts", { identity: server.clientKey.privateKey });
    await applySource(kube, namespace, "no-hosts", { url, secretRef: { name: "no-hosts" } });
    await syncNow(ctl, namespace, "no-hosts");
    const noHosts = await getSource(kube, namespace, "no-hosts");
    ready = readyCondition(noHosts)!;
    assert.equal(ready.reason, "SecretInvalid", ready.message);
    assert.match(ready.message!, /the Secret has an identity but no known_hosts/);
    assert.equal(noHosts.status?.conditions?.find((c) => c.type === "Stalled")?.status, "True");

    assert.equal(await kube.getOrNull(BC, "BackupConfiguration", "web", namespace), null, "nothing applied");
    for (const n of ["wrong-key", "unknown-host", "no-hosts"]) assert.equal((await getSource(kube, namespace, n)).status?.lastAppliedRevision, undefined);
    await assertNoKeyAnywhere(stranger.privateKey, { workDir, logs, kube, namespace, names: ["wrong-key"], remote });
    await assertNoKeyAnywhere(server.clientKey.privateKey, { workDir, logs, kube, namespace, names: ["unknown-host", "no-hosts"], remote });
  } finally {
    await ctl.stop();
    await remote.cleanup();
    await rm(workDir, { recursive: true, force: true });
    await rm(keys, { recursive: true, force: true });
  }
});

test("ssh: a passphrase-protected key works with the Secret's password (Flux's key), a wrong passphrase is an authentication failure; neither leaks", async () => {
  const { kube, namespace } = await testNamespace("gitops-ssh-pass");
  const remote = await createRemote();
  const logs: string[] = [];
  const { ctl, workDir } = await controller(kube, namespace, logs);
  const keys = await mkdtemp(join(tmpdir(), "restash-ssh-keys-"));
  try {
    await grantStash(kube, namespace, "policy-sync");
    const work = await remote.clone();
    await work.write({ "defaults.yaml": defaultsYaml(), "web.yaml": policyYaml("web") });
    const head = await work.commitAndPush("web");
    const passphrase = "correct horse battery staple";
    const locked = await newKeyPair(keys, "locked", passphrase);
    assert.match(locked.privateKey, /BEGIN OPENSSH PRIVATE KEY/);
    await server.authorize(locked.publicKey);
    const url = server.urlOf(remote.bare);

    await sshSecret(kube, namespace, "wrong-pass", { identity: locked.privateKey, password: "not it", known_hosts: server.knownHosts });
    await applySource(kube, namespace, "wrong-pass", { url, secretRef: { name: "wrong-pass" } });
    await syncNow(ctl, namespace, "wrong-pass");
    const ready = readyCondition(await getSource(kube, namespace, "wrong-pass"))!;
    assert.equal(ready.reason, "AuthenticationFailed", ready.message);
    assert.equal(await kube.getOrNull(BC, "BackupConfiguration", "web", namespace), null);

    await sshSecret(kube, namespace, "locked", { identity: locked.privateKey, password: passphrase, known_hosts: server.knownHosts });
    await applySource(kube, namespace, "locked", { url, secretRef: { name: "locked" } });
    await syncNow(ctl, namespace, "locked");
    const src = await getSource(kube, namespace, "locked");
    assert.equal(readyCondition(src)?.status, "True", `${readyCondition(src)?.message}\nsshd: ${server.log()}`);
    assert.equal(src.status?.lastAppliedRevision, `main@sha1:${head}`);
    assert.ok(await kube.getOrNull(BC, "BackupConfiguration", "web", namespace));

    await assertNoKeyAnywhere(locked.privateKey, { workDir, logs, kube, namespace, names: ["locked", "wrong-pass"], remote });
    for (const f of await filesUnder(workDir)) assert.ok(!(await readFile(f, "utf8")).includes(passphrase), `the passphrase is on disk in ${f}`);
    assert.ok(!logs.join("\n").includes(passphrase), "the passphrase is in the logs");
    for (const n of ["locked", "wrong-pass"]) assert.ok(!JSON.stringify((await getSource(kube, namespace, n)).status).includes(passphrase));
  } finally {
    await ctl.stop();
    await remote.cleanup();
    await rm(workDir, { recursive: true, force: true });
    await rm(keys, { recursive: true, force: true });
  }
});
