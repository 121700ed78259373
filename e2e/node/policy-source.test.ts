// A PolicySource synced by the operator pod on the real node, from a Git remote the pod reaches: a
// bare repository served by `git daemon` on the node address (local to this machine). The pod
// clones it, applies the policies as the source's service account, writes the result back as a git
// note over git://, and follows a second commit (announced by the signed push webhook on the pod's
// metrics port) by changing one BackupConfiguration and pruning the other.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { eventually } from "../../testing/eventually.ts";
import { createRemote } from "../../testing/git-fixture.ts";
import { defaultsYaml, grantStash, noteLines, policyYaml } from "../../testing/gitops-fixture.ts";
import { nodeNamespace } from "../../testing/node.ts";
import { freePort } from "../../local/control-plane.ts";
import { NODE } from "../../local/node.ts";
import { gitAt } from "../../reconciler/gitops/git-source.ts";
import { signBody } from "../../reconciler/gitops/receiver.ts";
import { POLICY_SOURCE_API } from "../../policies/policy-source.ts";

const BC = "stash.appscode.com/v1beta1";
const REPO = "stash.appscode.com/v1alpha1";
const ready = (s: any) => (s?.status?.conditions ?? []).find((c: any) => c.type === "Ready");

/** `git daemon` serving `root` on the node address (read and push), until the test ends. */
async function gitDaemon(root: string, bare: string, after: (fn: () => void) => void): Promise<number> {
  const port = await freePort();
  await gitAt(bare).raw(["config", "daemon.receivepack", "true"]);
  const daemon = spawn(
    "git",
    ["daemon", "--reuseaddr", "--export-all", "--enable=receive-pack", `--base-path=${root}`, `--listen=${NODE.nodeIP}`, `--port=${port}`, root],
    { stdio: "ignore" },
  );
  after(() => daemon.kill());
  await eventually(
    "git daemon listening on the node address",
    () =>
      new Promise<boolean>((r) => {
        const s = connect(port, NODE.nodeIP);
        s.once("connect", () => (s.end(), r(true))).once("error", () => r(false));
      }),
    30_000,
    100,
  );
  return port;
}

test("the operator pod syncs a PolicySource from a git:// remote on the node, writes the git note back, and a second commit changes one BackupConfiguration and prunes the other", async (t) => {
  const started = Date.now();
  const w = await nodeNamespace("node-gitops");
  const remote = await createRemote();
  t.after(() => remote.cleanup());
  const port = await gitDaemon(remote.root, remote.bare, (fn) => t.after(fn));
  await grantStash(w.kube, w.namespace, "policy-sync");
  await w.kube.apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "git-hook", namespace: w.namespace },
    stringData: { webhookSecret: "node-hook-key" },
  });

  const work = await remote.clone();
  await work.write({ "defaults.yaml": defaultsYaml(), "web.yaml": policyYaml("web"), "db.yaml": policyYaml("db") });
  const first = await work.commitAndPush("web and db");
  const applied = Date.now();
  await w.kube.apply({
    apiVersion: POLICY_SOURCE_API,
    kind: "PolicySource",
    metadata: { name: "policies", namespace: w.namespace },
    spec: {
      url: `git://${NODE.nodeIP}:${port}/remote.git`,
      branch: "main",
      interval: "1h",
      serviceAccountName: "policy-sync",
      prune: true,
      secretRef: { name: "git-hook" },
    },
  });
  const src = await eventually(
    "the PolicySource Ready at the first commit",
    async () => {
      const s = await w.kube.get<any>(POLICY_SOURCE_API, "PolicySource", "policies", w.namespace);
      return s.status?.lastAppliedRevision === `main@sha1:${first}` && ready(s)?.status === "True" && s;
    },
    120_000,
    250,
  );
  const firstSync = (Date.now() - applied) / 1000;
  assert.equal(src.status.lastAttemptedRevision, `main@sha1:${first}`);
  for (const name of ["web", "db"]) {
    const bc = await w.kube.get<any>(BC, "BackupConfiguration", name, w.namespace);
    assert.equal(bc.metadata.labels["restash.dev/source-name"], "policies");
    assert.equal(bc.metadata.annotations["restash.dev/file"], `${name}.yaml`);
    assert.equal(bc.spec.repository.name, `${name}-repo`);
    assert.equal(bc.spec.schedule, "*/30 * * * *");
    assert.ok(await w.kube.getOrNull(REPO, "Repository", `${name}-repo`, w.namespace), `Repository ${name}-repo`);
  }
  // The pod pushed its note to the remote over git://.
  const note = await eventually("the sync's note on the first commit, in the remote", async () => (await noteLines(remote.bare, first))[0], 60_000, 250);
  assert.equal(note.kind, "sync");
  assert.equal(note.result, "Applied");
  assert.equal(note.revision, `main@sha1:${first}`);
  assert.equal(note.source, `${w.namespace}/policies`);

  // Second commit: web gets another schedule, db leaves Git. The push webhook on the pod says so.
  await work.write({ "web.yaml": policyYaml("web", '  schedule: "15 3 * * *"\n') });
  await work.remove("db.yaml");
  const second = await work.commitAndPush("web nightly, db gone");
  const pushed = Date.now();
  const [pod] = (await w.kube.list<any>("v1", "Pod", "restash", "app.kubernetes.io/component=operator")).items.filter(
    (p) => p.status?.phase === "Running" && !p.metadata.deletionTimestamp && p.status.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"),
  );
  assert.ok(pod?.status?.podIP, "a Ready operator pod");
  const body = JSON.stringify({ ref: "refs/heads/main", after: second });
  const res = await fetch(`http://${pod.status.podIP}:8080/hooks/${w.namespace}/policies`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", "x-hub-signature-256": signBody(body, "node-hook-key") },
  });
  assert.equal(res.status, 202, await res.text());
  await eventually(
    "the second commit applied",
    async () => (await w.kube.get<any>(POLICY_SOURCE_API, "PolicySource", "policies", w.namespace)).status?.lastAppliedRevision === `main@sha1:${second}`,
    120_000,
    100,
  );
  const pushToApplied = (Date.now() - pushed) / 1000;
  const web = await w.kube.get<any>(BC, "BackupConfiguration", "web", w.namespace);
  assert.equal(web.spec.schedule, "15 3 * * *");
  assert.equal(web.metadata.annotations["restash.dev/revision"], `main@sha1:${second}`);
  await eventually("db pruned", async () => (await w.kube.getOrNull(BC, "BackupConfiguration", "db", w.namespace)) === null, 30_000, 100);
  // A Repository is kept (released) unless its policy says it is prunable.
  const dbRepo = await w.kube.get<any>(REPO, "Repository", "db-repo", w.namespace);
  assert.equal(dbRepo.metadata.labels?.["restash.dev/source-name"], undefined, "the kept Repository is released");
  const after = await w.kube.get<any>(POLICY_SOURCE_API, "PolicySource", "policies", w.namespace);
  assert.equal(ready(after)?.status, "True", ready(after)?.message);
  const ids = after.status.inventory.entries.map((e: any) => e.id).sort();
  assert.deepEqual(ids, [`${w.namespace}_web-repo_stash.appscode.com_Repository`, `${w.namespace}_web_stash.appscode.com_BackupConfiguration`]);
  const note2 = await eventually("the note on the second commit", async () => (await noteLines(remote.bare, second))[0], 60_000, 250);
  assert.equal(note2.result, "Applied");
  assert.ok(JSON.stringify(note2.pruned).includes("db"), JSON.stringify(note2));
  t.diagnostic(
    `first sync (PolicySource applied -> Ready): ${firstSync.toFixed(2)} s; push -> applied in the pod: ${pushToApplied.toFixed(2)} s; test ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
});
