// ssh remotes against a real sshd (testing/git-ssh-fixture.ts) and the real API server:
// a Secret in Flux's format (identity, identity.pub, known_hosts) syncs and pushes notes back over
// ssh; a wrong key or an unknown host key applies nothing and says why; the private key is on disk
// only while git talks to the remote and never reaches logs, status or notes.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { stopControlPlane, testNamespace } from "../../testing/cluster.ts";
import { newKeyPair, startSshGitServer, type SshGitServer } from "../../testing/git-ssh-fixture.ts";
import { getSource, policyYaml, readyCondition, webPolicy, withGitops, type GitopsEnv } from "../../testing/gitops-fixture.ts";
import { gitAt } from "./git-source.ts";
import { NOTES_REF } from "./notes.ts";
import type { BackupConfiguration } from "../../schema/types.generated.ts";

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
const keyBody = (pem: string) =>
  pem
    .split("\n")
    .filter((l) => !l.startsWith("-----"))
    .sort((a, b) => b.length - a.length)[0];

/** Secret `name` with `data` (Flux's format), then PolicySource `name` over ssh with it, synced; returns the source. */
async function syncWithSecret(env: GitopsEnv, name: string, data: Record<string, string>) {
  await env.kube.apply({ apiVersion: "v1", kind: "Secret", metadata: { name, namespace: env.namespace }, stringData: data } as any);
  return env.sync(name, { url: server.urlOf(env.remote.bare), secretRef: { name } });
}

/** `privateKey` is nowhere: not on disk under the controller's workDir, not in `logs`, not in the status of sources `names`, not in the notes. */
async function assertNoKeyAnywhere(privateKey: string, env: GitopsEnv, logs: string[], names: string[]) {
  const body = keyBody(privateKey);
  for (const f of await filesUnder(env.workDir)) {
    assert.ok(!(await readFile(f, "utf8")).includes(body), `the private key is still on disk in ${f}`);
  }
  assert.ok(!(await filesUnder(env.workDir)).some((f) => f.endsWith("/ssh/identity")), "the key file is removed after git is done");
  assert.ok(!logs.join("\n").includes(body), "the private key is in the logs");
  for (const n of names) assert.ok(!JSON.stringify((await getSource(env.kube, env.namespace, n)).status ?? {}).includes(body), "the private key is in status");
  const notes = await gitAt(env.remote.bare)
    .raw(["log", `--notes=${NOTES_REF}`, "--all", "--format=%N"])
    .catch(() => "");
  assert.ok(!notes.includes(body), "the private key is in the notes");
}

test("an ssh remote with a Flux-format Secret syncs, follows pushes and pushes notes back over ssh", async () => {
  const logs: string[] = [];
  await withGitops(
    await testNamespace("gitops-ssh"),
    async (env) => {
      const { kube, namespace, remote } = env;
      const { work, head: c1 } = await env.push(webPolicy(), "web");
      let src = await syncWithSecret(env, "p", {
        identity: server.clientKey.privateKey,
        "identity.pub": server.clientKey.publicKey + "\n",
        known_hosts: server.knownHosts,
      });
      assert.equal(readyCondition(src)?.status, "True", `${readyCondition(src)?.message}\nsshd: ${server.log()}`);
      assert.equal(src.status?.lastAppliedRevision, `main@sha1:${c1}`);
      assert.ok(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "web", namespace));
      const note = await gitAt(remote.bare).raw(["notes", `--ref=${NOTES_REF}`, "show", c1]);
      assert.match(note, /"result":"Applied"/, "the note went back to the remote over ssh");

      await work.write({ "web.yaml": policyYaml("web", '  schedule: "9 9 * * *"\n') });
      const c2 = await work.commitAndPush("change web");
      src = await env.resync("p");
      assert.equal(src.status?.lastAppliedRevision, `main@sha1:${c2}`, readyCondition(src)?.message);
      assert.equal((await kube.get<BackupConfiguration>(BC, "BackupConfiguration", "web", namespace)).spec.schedule, "9 9 * * *");
      assert.match(server.log(), /Accepted publickey for/, "sshd authenticated the client key");
      await assertNoKeyAnywhere(server.clientKey.privateKey, env, logs, ["p"]);
    },
    { logs },
  );
});

test("ssh: a wrong key fails authentication, an unknown host key is refused, a Secret without known_hosts is invalid; nothing is applied", async () => {
  const logs: string[] = [];
  await withGitops(
    await testNamespace("gitops-ssh-bad"),
    async (env) => {
      const { kube, namespace } = env;
      const keys = await env.tempDir("restash-ssh-keys-");
      await env.push(webPolicy(), "web");
      const stranger = await newKeyPair(keys, "stranger");
      const otherHost = await newKeyPair(keys, "other-host");

      let ready = readyCondition(await syncWithSecret(env, "wrong-key", { identity: stranger.privateKey, known_hosts: server.knownHosts }))!;
      assert.equal(ready.status, "False");
      assert.equal(ready.reason, "AuthenticationFailed", ready.message);
      assert.match(
        ready.message!,
        new RegExp(`fetching ssh://127\\.0\\.0\\.1:${server.port}/.*: the remote rejected the credentials .*Permission denied \\(publickey\\)`),
      );

      ready = readyCondition(
        await syncWithSecret(env, "unknown-host", {
          identity: server.clientKey.privateKey,
          known_hosts: `[127.0.0.1]:${server.port} ${otherHost.publicKey.split(" ").slice(0, 2).join(" ")}\n`,
        }),
      )!;
      assert.equal(ready.status, "False");
      assert.equal(ready.reason, "HostKeyVerificationFailed", ready.message);
      assert.match(ready.message!, /the server's host key is not the one in the Secret's known_hosts; nothing was fetched/);

      const noHosts = await syncWithSecret(env, "no-hosts", { identity: server.clientKey.privateKey });
      ready = readyCondition(noHosts)!;
      assert.equal(ready.reason, "SecretInvalid", ready.message);
      assert.match(ready.message!, /the Secret has an identity but no known_hosts/);
      assert.equal(noHosts.status?.conditions?.find((c) => c.type === "Stalled")?.status, "True");

      assert.equal(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "web", namespace), null, "nothing applied");
      for (const n of ["wrong-key", "unknown-host", "no-hosts"]) assert.equal((await getSource(kube, namespace, n)).status?.lastAppliedRevision, undefined);
      await assertNoKeyAnywhere(stranger.privateKey, env, logs, ["wrong-key"]);
      await assertNoKeyAnywhere(server.clientKey.privateKey, env, logs, ["unknown-host", "no-hosts"]);
    },
    { logs },
  );
});

test("ssh: a passphrase-protected key works with the Secret's password (Flux's key), a wrong passphrase is an authentication failure; neither leaks", async () => {
  const logs: string[] = [];
  await withGitops(
    await testNamespace("gitops-ssh-pass"),
    async (env) => {
      const { kube, namespace, workDir } = env;
      const keys = await env.tempDir("restash-ssh-keys-");
      const { head } = await env.push(webPolicy(), "web");
      const passphrase = "correct horse battery staple";
      const locked = await newKeyPair(keys, "locked", passphrase);
      assert.match(locked.privateKey, /BEGIN OPENSSH PRIVATE KEY/);
      await server.authorize(locked.publicKey);

      const ready = readyCondition(
        await syncWithSecret(env, "wrong-pass", { identity: locked.privateKey, password: "not it", known_hosts: server.knownHosts }),
      )!;
      assert.equal(ready.reason, "AuthenticationFailed", ready.message);
      assert.equal(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "web", namespace), null);

      const src = await syncWithSecret(env, "locked", { identity: locked.privateKey, password: passphrase, known_hosts: server.knownHosts });
      assert.equal(readyCondition(src)?.status, "True", `${readyCondition(src)?.message}\nsshd: ${server.log()}`);
      assert.equal(src.status?.lastAppliedRevision, `main@sha1:${head}`);
      assert.ok(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "web", namespace));

      await assertNoKeyAnywhere(locked.privateKey, env, logs, ["locked", "wrong-pass"]);
      for (const f of await filesUnder(workDir)) assert.ok(!(await readFile(f, "utf8")).includes(passphrase), `the passphrase is on disk in ${f}`);
      assert.ok(!logs.join("\n").includes(passphrase), "the passphrase is in the logs");
      for (const n of ["locked", "wrong-pass"]) assert.ok(!JSON.stringify((await getSource(kube, namespace, n)).status).includes(passphrase));
    },
    { logs },
  );
});
