// The review CLI on real files, a real Git history and the real API server.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import { runCli } from "./restash.ts";
import { stopControlPlane, testNamespace } from "../testing/cluster.ts";
import { createRemote } from "../testing/git-fixture.ts";
import { applySource, defaultsYaml, grantStash, policyYaml, startController, syncNow } from "../testing/gitops-fixture.ts";

after(() => stopControlPlane());

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(args, { out: (s) => (out += s), err: (s) => (err += s), env: {}, cwd: "/" });
  return { code, out, err };
}

test("validate names file, line and field of every problem and exits 1; a clean tree exits 0", async () => {
  const remote = await createRemote();
  try {
    const w = await remote.clone();
    await w.write({ "defaults.yaml": defaultsYaml(), "web.yaml": policyYaml("web", '  schedule: "75 * * * *"\n'), "ok.yaml": policyYaml("ok") });
    const bad = await cli("validate", w.dir);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^web\.yaml:8: BackupPolicy default\/web field spec\.schedule: "75 \* \* \* \*" is not a valid cron schedule/m);
    assert.match(bad.err, /1 error\(s\)/);
    await w.write({ "web.yaml": policyYaml("web") });
    const good = await cli("validate", w.dir, "--namespace", "apps");
    assert.deepEqual(good, { code: 0, out: "4 object(s) valid\n", err: "" });
  } finally {
    await remote.cleanup();
  }
});

test("render prints exactly the objects the sync would apply", async () => {
  const remote = await createRemote();
  try {
    const w = await remote.clone();
    await w.write({ "defaults.yaml": defaultsYaml(), "web.yaml": policyYaml("web") });
    const r = await cli("render", w.dir, "-n", "apps");
    assert.equal(r.code, 0, r.err);
    const docs = r.out.split(/^---$/m).map((d) => load(d) as any);
    assert.deepEqual(
      docs.map((d) => `${d.kind} ${d.metadata.namespace}/${d.metadata.name}`),
      ["Repository apps/web-repo", "BackupConfiguration apps/web"],
    );
    assert.equal(docs[0].spec.backend.s3.prefix, "team/apps/web");
  } finally {
    await remote.cleanup();
  }
});

test("plan against another revision lists created, changed (by field) and pruned objects; exit 1 on changes, 0 on none", async () => {
  const remote = await createRemote();
  try {
    const w = await remote.clone();
    await w.write({ "p/defaults.yaml": defaultsYaml(), "p/web.yaml": policyYaml("web"), "p/db.yaml": policyYaml("db", "  repository: { prunable: true }\n") });
    await w.commitAndPush("base");
    assert.equal((await cli("plan", join(w.dir, "p"), "--against", "HEAD")).code, 0);
    await w.write({ "p/web.yaml": policyYaml("web", '  schedule: "1 2 * * *"\n'), "p/new.yaml": policyYaml("new") });
    await w.remove("p/db.yaml");
    const r = await cli("plan", join(w.dir, "p"), "--against", "HEAD");
    assert.equal(r.code, 1, r.err);
    assert.equal(
      r.out,
      [
        "+ Repository default/new-repo (new.yaml) created",
        "+ BackupConfiguration default/new (new.yaml) created",
        "~ BackupConfiguration default/web (web.yaml) changed",
        '    spec.schedule: "*/30 * * * *" -> "1 2 * * *"',
        "- Repository default/db-repo (db.yaml) pruned",
        "- BackupConfiguration default/db (db.yaml) pruned",
        "2 to create, 1 to change, 2 to prune, 1 unchanged",
        "",
      ].join("\n"),
    );
    const md = await cli("plan", join(w.dir, "p"), "--against", "HEAD", "--format", "markdown");
    assert.match(md.out, /\| ✏️ change \| `BackupConfiguration default\/web` \| `web\.yaml` \|/);
    assert.match(md.out, /- spec\.schedule: "\*\/30 \* \* \* \*"\n\+ spec\.schedule: "1 2 \* \* \*"/);
    writeFileSync(join(w.dir, "p/broken.yaml"), "kind: [\n");
    assert.equal((await cli("plan", join(w.dir, "p"), "--against", "HEAD")).code, 2);
  } finally {
    await remote.cleanup();
  }
});

test("plan against the cluster dry-runs as the source's service account: no change exits 0, a change shows fields and prunes", async () => {
  const { kube, cp, namespace } = await testNamespace("cli-plan");
  const remote = await createRemote();
  const ctl = await startController(kube, namespace);
  try {
    await grantStash(kube, namespace, "policy-sync");
    const w = await remote.clone();
    await w.write({ "defaults.yaml": defaultsYaml(), "web.yaml": policyYaml("web"), "db.yaml": policyYaml("db") });
    await w.commitAndPush("base");
    await applySource(kube, namespace, "p", { url: remote.url });
    await syncNow(ctl, namespace, "p");

    const same = await cli("plan", w.dir, "--source", `${namespace}/p`, "--kubeconfig", cp.kubeconfig, "-n", namespace);
    assert.equal(same.code, 0, same.out + same.err);
    assert.match(same.out, /0 to create, 0 to change, 0 to prune, 4 unchanged/);

    await w.write({ "web.yaml": policyYaml("web", "  paused: true\n") });
    await w.remove("db.yaml");
    const r = await cli("plan", w.dir, "--source", `${namespace}/p`, "--kubeconfig", cp.kubeconfig, "-n", namespace);
    assert.equal(r.code, 1, r.err);
    assert.match(r.out, new RegExp(`~ BackupConfiguration ${namespace}/web \\(web\\.yaml\\) changed\\n    spec\\.paused: \\(none\\) -> true`));
    assert.match(r.out, new RegExp(`- BackupConfiguration ${namespace}/db \\(db\\.yaml\\) pruned`));
    assert.match(r.out, new RegExp(`! Repository ${namespace}/db-repo \\(db\\.yaml\\) keep: Repository left Git; kept \\(not prunable\\)`));
    // Nothing was changed by the plan.
    assert.equal((await kube.get<any>("stash.appscode.com/v1beta1", "BackupConfiguration", "web", namespace)).spec.paused, undefined);
  } finally {
    await ctl.stop();
    await remote.cleanup();
  }
});
