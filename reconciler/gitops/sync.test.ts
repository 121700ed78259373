// End to end against the real API server and real Git repositories: what the cluster holds and
// what the notes on the remote say after pushes, deletes, renames, broken and fixed commits.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { stopControlPlane, testNamespace } from "../../testing/cluster.ts";
import type { KubeObject } from "../../lib/kube/client.ts";
import { eventually } from "../../testing/eventually.ts";
import { defaultsYaml, getSource, noteLines, policyYaml, readyCondition, sourceEvents, syncNow, webPolicy, withGitops } from "../../testing/gitops-fixture.ts";
import { NOTES_REF } from "./notes.ts";
import { gitAt } from "./git-source.ts";
import { REVISION_ANNOTATION, SOURCE_NAME_LABEL } from "../../policies/tracking.ts";
import type { BackupConfiguration, Repository } from "../../schema/types.generated.ts";

after(() => stopControlPlane());

const REPO = "stash.appscode.com/v1alpha1";
const shaOfRevision = (r: string) => r.split("@sha1:")[1];
const BC = "stash.appscode.com/v1beta1";

test("policies pushed to Git become Stash objects; changes, renames and deletions follow, with notes on the remote", async () => {
  await withGitops(await testNamespace("gitops-life"), async ({ kube, namespace, remote, ctl, push, sync, resync }) => {
    const { work, head: c1 } = await push(
      {
        "policies/defaults.yaml": defaultsYaml(),
        "policies/apps/web.yaml": policyYaml("web"),
        "policies/apps/db.yaml": policyYaml("db", '  schedule: "0 3 * * *"\n'),
        "README.md": "not a policy\n",
      },
      "add web and db",
    );
    let src = await sync("policies", { branch: "main", path: "policies" });
    assert.equal(readyCondition(src)?.status, "True", readyCondition(src)?.message);
    assert.equal(src.status?.lastAppliedRevision, `main@sha1:${c1}`);
    assert.equal(src.status?.observedGeneration, src.metadata.generation);
    assert.deepEqual(
      src.status?.inventory?.entries.map((e) => e.id),
      [
        `${namespace}_db-repo_stash.appscode.com_Repository`,
        `${namespace}_db_stash.appscode.com_BackupConfiguration`,
        `${namespace}_web-repo_stash.appscode.com_Repository`,
        `${namespace}_web_stash.appscode.com_BackupConfiguration`,
      ],
    );
    const web = await kube.get<BackupConfiguration>(BC, "BackupConfiguration", "web", namespace);
    assert.equal(web.spec.schedule, "*/30 * * * *");
    assert.equal(web.metadata.labels?.[SOURCE_NAME_LABEL], "policies");
    assert.equal(web.metadata.annotations?.["restash.dev/file"], "apps/web.yaml");
    assert.equal(web.metadata.annotations?.[REVISION_ANNOTATION], `main@sha1:${c1}`);
    const db = await kube.get<BackupConfiguration>(BC, "BackupConfiguration", "db", namespace);
    assert.equal(db.spec.schedule, "0 3 * * *");
    const webRepo = await kube.get<Repository>(REPO, "Repository", "web-repo", namespace);
    assert.equal(webRepo.spec.backend.s3!.prefix, `team/${namespace}/web`);
    const managers = (web.metadata.managedFields ?? []).map((m: any) => `${m.manager}/${m.operation}`);
    assert.deepEqual(managers, ["restash/Apply"]);

    // A resync of the same revision writes nothing.
    const rv = web.metadata.resourceVersion;
    await syncNow(ctl, namespace, "policies");
    assert.equal((await kube.get<BackupConfiguration>(BC, "BackupConfiguration", "web", namespace)).metadata.resourceVersion, rv);
    assert.equal((await getSource(kube, namespace, "policies")).status?.lastSyncSummary?.unchanged, 4);

    // Change one file, rename another, delete the third's file: db is pruned (its Repository is kept), web changes.
    await work.write({ "policies/apps/web.yaml": policyYaml("web", '  schedule: "15 * * * *"\n') });
    await work.rename("policies/apps/db.yaml", "policies/moved/db.yaml");
    const c2 = await work.commitAndPush("change web, move db");
    src = await resync("policies");
    assert.equal(src.status?.lastAppliedRevision, `main@sha1:${c2}`);
    assert.equal((await kube.get<BackupConfiguration>(BC, "BackupConfiguration", "web", namespace)).spec.schedule, "15 * * * *");
    const movedDb = await kube.get<BackupConfiguration>(BC, "BackupConfiguration", "db", namespace);
    assert.equal(movedDb.metadata.annotations?.["restash.dev/file"], "moved/db.yaml");
    assert.equal(movedDb.metadata.uid, db.metadata.uid, "a renamed file updates the object in place");

    await work.remove("policies/moved/db.yaml");
    const c3 = await work.commitAndPush("drop db");
    src = await resync("policies");
    assert.equal(src.status?.lastAppliedRevision, `main@sha1:${c3}`);
    assert.equal(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "db", namespace), null);
    const keptRepo = await kube.get<Repository>(REPO, "Repository", "db-repo", namespace);
    assert.equal(keptRepo.metadata.labels?.[SOURCE_NAME_LABEL], undefined, "a kept Repository is released, not deleted");
    assert.deepEqual(
      src.status?.inventory?.entries.map((e) => e.id),
      [`${namespace}_web-repo_stash.appscode.com_Repository`, `${namespace}_web_stash.appscode.com_BackupConfiguration`],
    );

    // Notes on the remote, one per revision, readable with git log --notes.
    const n1 = await noteLines(remote.bare, c1);
    assert.equal(n1.length, 1);
    assert.equal(n1[0].kind, "sync");
    assert.equal(n1[0].result, "Applied");
    assert.equal(n1[0].applied, 4);
    assert.equal(n1[0].revision, `main@sha1:${c1}`);
    const n3 = await noteLines(remote.bare, c3);
    assert.deepEqual(n3[0].pruned, [`${namespace}_db_stash.appscode.com_BackupConfiguration`]);
    const log = await gitAt(remote.bare).raw(["log", `--notes=${NOTES_REF}`, "--format=%H %N", "-1", c2]);
    assert.match(log, /"result":"Applied"/);
  });
});

test("a broken commit applies and prunes nothing, names file, line and field, and the fixed commit applies", async () => {
  await withGitops(await testNamespace("gitops-broken"), async ({ kube, namespace, remote, push, sync, resync }) => {
    const { work, head: good } = await push({ ...webPolicy(), "db.yaml": policyYaml("db") }, "good");
    assert.equal(readyCondition(await sync("p"))?.status, "True");

    // db.yaml removed (would prune) and web.yaml broken: neither may happen.
    await work.remove("db.yaml");
    await work.write({ "web.yaml": policyYaml("web", '  schedule: "75 * * * *"\n'), "extra.yaml": policyYaml("extra", "  unknownField: 1\n") });
    const bad = await work.commitAndPush("broken");
    const src = await resync("p");
    const ready = readyCondition(src)!;
    assert.equal(ready.status, "False");
    assert.equal(ready.reason, "ValidationFailed");
    assert.match(ready.message!, /web\.yaml:8: BackupPolicy .*web field spec\.schedule: "75 \* \* \* \*" is not a valid cron schedule/);
    assert.match(ready.message!, /extra\.yaml:8(:\d+)?: BackupPolicy .*extra field spec\.unknownField: unknown field/);
    assert.equal(src.status?.conditions?.find((c) => c.type === "Stalled")?.status, "True");
    assert.equal(src.status?.lastAppliedRevision, `main@sha1:${good}`);
    assert.equal(src.status?.lastAttemptedRevision, `main@sha1:${bad}`);
    assert.ok(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "db", namespace), "nothing pruned from a bad revision");
    assert.equal(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "extra", namespace), null, "nothing applied from a bad revision");
    assert.equal((await kube.get<BackupConfiguration>(BC, "BackupConfiguration", "web", namespace)).spec.schedule, "*/30 * * * *");
    const note = await noteLines(remote.bare, bad);
    assert.equal(note[0].result, "Failed");
    assert.deepEqual(
      note[0].errors.map((e: any) => [e.file, e.line, e.field]),
      [
        ["extra.yaml", 8, "spec.unknownField"],
        ["web.yaml", 8, "spec.schedule"],
      ],
    );

    await work.write({ "web.yaml": policyYaml("web", '  schedule: "5 * * * *"\n') });
    await work.remove("extra.yaml");
    const fixed = await work.commitAndPush("fixed");
    const after = await resync("p");
    assert.equal(readyCondition(after)?.status, "True");
    assert.equal(
      after.status?.conditions?.find((c) => c.type === "Stalled"),
      undefined,
    );
    assert.equal(after.status?.lastAppliedRevision, `main@sha1:${fixed}`);
    assert.equal(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "db", namespace), null);
    assert.equal((await kube.get<BackupConfiguration>(BC, "BackupConfiguration", "web", namespace)).spec.schedule, "5 * * * *");
    assert.equal((await noteLines(remote.bare, fixed))[0].result, "Applied");
  });
});

test("a force-pushed history is refused until accepted; a vanished branch stalls; an unreachable remote keeps the last revision", async () => {
  await withGitops(await testNamespace("gitops-force"), async ({ kube, namespace, push, sync, resync }) => {
    const { work: a, head: first } = await push(webPolicy(), "first");
    await a.write({ "db.yaml": policyYaml("db") });
    const second = await a.commitAndPush("second");
    assert.equal((await sync("p")).status?.lastAppliedRevision, `main@sha1:${second}`);

    // Rewrite: reset to the first commit, drop db, force-push a different history.
    await a.git.raw(["reset", "-q", "--hard", first]);
    await a.write({ "other.yaml": policyYaml("other") });
    const rewritten = await a.commitAndPush("rewritten", { force: true });
    let src = await resync("p");
    assert.equal(readyCondition(src)?.reason, "HistoryRewritten");
    assert.match(readyCondition(src)!.message!, new RegExp(`${rewritten.slice(0, 12)} does not descend from the applied ${second.slice(0, 12)}`));
    assert.ok(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "db", namespace), "nothing pruned");
    assert.equal(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "other", namespace), null, "nothing applied");

    src = await sync("p", {}, { "restash.dev/accept-history-rewrite": rewritten });
    assert.equal(readyCondition(src)?.status, "True", readyCondition(src)?.message);
    assert.equal(src.status?.lastAppliedRevision, `main@sha1:${rewritten}`);
    assert.ok(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "other", namespace));
    assert.equal(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "db", namespace), null);

    // The branch disappears.
    src = await sync("p", { branch: "gone" }, { "restash.dev/accept-history-rewrite": rewritten });
    assert.equal(readyCondition(src)?.reason, "BranchNotFound");
    assert.match(readyCondition(src)!.message!, /branch "gone" does not exist on file:\/\//);
    assert.equal(src.status?.lastAppliedRevision, `main@sha1:${rewritten}`);
    assert.ok(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "other", namespace), "a vanished branch prunes nothing");

    // The remote is unreachable.
    src = await sync("p", { url: "git://127.0.0.1:1/nothing.git", branch: "main" });
    assert.equal(readyCondition(src)?.reason, "RemoteUnreachable");
    assert.equal(src.status?.conditions?.find((c) => c.type === "Reconciling")?.status, "True");
    assert.ok(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "web", namespace));
  });
});

test("a hand edit is restored and reported; another applier's fields and another source's objects are conflicts, not overwritten", async () => {
  await withGitops(await testNamespace("gitops-drift"), async ({ kube, namespace, remote, push, sync, resync }) => {
    const { work } = await push(webPolicy(), "web");
    await sync("p");

    // kubectl-style hand edit (an Update by another manager) of a field the source set.
    const live = await kube.get<BackupConfiguration>(BC, "BackupConfiguration", "web", namespace);
    await kube.request(await kube.pathOf(live), {
      method: "PATCH",
      body: { spec: { schedule: "0 0 * * *" } },
      contentType: "application/merge-patch+json",
      query: { fieldManager: "kubectl-edit" },
    });
    let src = await resync("p");
    assert.equal(readyCondition(src)?.status, "True", readyCondition(src)?.message);
    assert.equal((await kube.get<BackupConfiguration>(BC, "BackupConfiguration", "web", namespace)).spec.schedule, "*/30 * * * *");
    assert.match(
      src.status!.lastDriftCorrection!.objects.join("\n"),
      /BackupConfiguration .*\/web: .*spec\.schedule.* changed outside Git by kubectl-edit; restored/,
    );
    const driftNote = (await noteLines(remote.bare, shaOfRevision(src.status!.lastAppliedRevision!))).find((l) => l.drift);
    assert.match(driftNote.drift.join("\n"), /spec\.schedule.* changed outside Git by kubectl-edit; restored/);

    // Another server-side applier owns a field of an object Git also wants: a conflict.
    await kube.apply(
      {
        apiVersion: BC,
        kind: "BackupConfiguration",
        metadata: { name: "taken", namespace },
        spec: {
          repository: { name: "taken-repo" },
          schedule: "1 1 * * *",
          target: { ref: { apiVersion: "apps/v1", kind: "Deployment", name: "taken" }, paths: ["/data"] },
          retentionPolicy: { name: "x", keepLast: 1, prune: true },
        },
      } as KubeObject,
      { fieldManager: "argocd-controller" },
    );
    // And a second source in the same namespace already owns "owned".
    await work.write({ "taken.yaml": policyYaml("taken", '  schedule: "2 2 * * *"\n') });
    const c2 = await work.commitAndPush("taken");
    src = await resync("p");
    assert.equal(readyCondition(src)?.reason, "Conflict", readyCondition(src)?.message);
    assert.match(
      src.status!.lastSyncSummary!.conflicts!.join("\n"),
      /BackupConfiguration .*\/taken: .*spec\.schedule.* owned by argocd-controller; not overwritten/,
    );
    assert.equal((await kube.get<BackupConfiguration>(BC, "BackupConfiguration", "taken", namespace)).spec.schedule, "1 1 * * *");
    assert.notEqual(src.status?.lastAppliedRevision, `main@sha1:${c2}`);
  });
});

test("a source only touches what its service account may: without Repository rights nothing from the revision is applied", async () => {
  const onlyBackupConfigurations = { resources: ["backupconfigurations"] };
  await withGitops(
    await testNamespace("gitops-rbac"),
    async ({ kube, namespace, push, sync }) => {
      await push(webPolicy(), "web");
      const ready = readyCondition(await sync("p"))!;
      assert.equal(ready.status, "False");
      assert.equal(ready.reason, "ApplyFailed");
      assert.match(
        ready.message!,
        /Repository .*\/web-repo: 403 .*system:serviceaccount:gitops-rbac-[0-9a-f]+:policy-sync.* cannot patch resource "repositories"/,
      );
      assert.equal(
        await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "web", namespace),
        null,
        "the permitted object is not applied either: all or nothing",
      );
      assert.equal(await kube.getOrNull<Repository>(REPO, "Repository", "web-repo", namespace), null);
    },
    onlyBackupConfigurations,
  );
});

test("two sources in two namespaces each apply their own policies, and one may not claim the other's objects", async () => {
  await withGitops(await testNamespace("gitops-two-a"), async (a) => {
    await withGitops(await testNamespace("gitops-two-b"), async (b) => {
      // One remote (A's) holds both teams' files.
      const { work } = await a.push(
        {
          "team-a/defaults.yaml": defaultsYaml("a-creds"),
          "team-a/web.yaml": policyYaml("web"),
          "team-b/defaults.yaml": defaultsYaml("b-creds"),
          "team-b/db.yaml": policyYaml("db"),
        },
        "two teams",
      );
      assert.equal(readyCondition(await a.sync("team", { path: "team-a" }))?.status, "True");
      assert.equal(readyCondition(await b.sync("team", { url: a.remote.url, path: "team-b" }))?.status, "True");
      assert.equal((await a.kube.get<Repository>(REPO, "Repository", "web-repo", a.namespace)).spec.backend.storageSecretName, "a-creds");
      assert.equal((await b.kube.get<Repository>(REPO, "Repository", "db-repo", b.namespace)).spec.backend.storageSecretName, "b-creds");
      assert.equal(await a.kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "db", a.namespace), null);

      // A second source in namespace A pointing at team-a's files: every object is the first source's.
      const intruder = await a.sync("intruder", { path: "team-a" });
      assert.equal(readyCondition(intruder)?.reason, "Conflict");
      assert.match(intruder.status!.lastSyncSummary!.conflicts!.join("\n"), new RegExp(`belongs to PolicySource ${a.namespace}/team; not overwritten`));
      // B's source cannot write into A's namespace: its service account has no rights there.
      await work.write({
        "team-b/cross.yaml": `apiVersion: restash.dev/v1alpha1\nkind: BackupPolicy\nmetadata:\n  name: cross\n  namespace: ${a.namespace}\nspec:\n  target: { kind: Deployment, name: cross }\n  paths: [/data]\n`,
      });
      await work.commitAndPush("cross-namespace");
      await syncNow(b.ctl, b.namespace, "team");
      const bSrc = await getSource(b.kube, b.namespace, "team");
      assert.equal(readyCondition(bSrc)?.reason, "ApplyFailed");
      assert.equal(await a.kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "cross", a.namespace), null);
    });
  });
});

test("a source polls its remote on its interval, and a suspended source applies nothing until resumed", async () => {
  await withGitops(await testNamespace("gitops-interval"), async ({ kube, namespace, ctl, push, sync }) => {
    const { work } = await push(webPolicy(), "web");
    await sync("p", { interval: "200ms" });

    // No trigger: the interval alone brings the next commit in.
    await work.write({ "db.yaml": policyYaml("db") });
    const polled = await work.commitAndPush("db");
    await eventually(
      "the interval to bring the new commit in",
      async () => (await getSource(kube, namespace, "p")).status?.lastAppliedRevision === `main@sha1:${polled}`,
      30_000,
    );
    assert.ok(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "db", namespace));

    await sync("p", { interval: "200ms", suspend: true });
    await work.write({ "suspended.yaml": policyYaml("suspended") });
    await work.commitAndPush("while suspended");
    await syncNow(ctl, namespace, "p");
    assert.equal(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "suspended", namespace), null, "a suspended source applies nothing");
    assert.equal((await getSource(kube, namespace, "p")).status?.lastAppliedRevision, `main@sha1:${polled}`);

    await sync("p", { interval: "1h", suspend: false });
    assert.ok(await kube.getOrNull<BackupConfiguration>(BC, "BackupConfiguration", "suspended", namespace), "resumed");
  });
});

test("sync outcomes are Events on the PolicySource with the Ready condition's reason; a resync that changes nothing adds none", async () => {
  await withGitops(await testNamespace("gitops-events"), async ({ kube, namespace, ctl, push, sync }) => {
    const events = async () =>
      (await sourceEvents(kube, namespace, "p")).map((e) => ({ type: e.type, reason: e.reason, message: e.message, component: e.source?.component }));
    const { work, head: c1 } = await push(webPolicy(), "web");
    await sync("p");
    let seen = await events();
    assert.deepEqual(seen, [
      {
        type: "Normal",
        reason: "ReconciliationSucceeded",
        message: `Applied revision: main@sha1:${c1} (2 changed, 0 unchanged, 0 pruned)`,
        component: "restash-gitops",
      },
    ]);

    await syncNow(ctl, namespace, "p");
    assert.equal((await events()).length, 1, "an unchanged resync is quiet");

    await work.write({ "web.yaml": policyYaml("web", '  schedule: "75 * * * *"\n') });
    await work.commitAndPush("broken");
    await syncNow(ctl, namespace, "p");
    await syncNow(ctl, namespace, "p");
    seen = await events();
    const warnings = seen.filter((e) => e.type === "Warning");
    assert.equal(warnings.length, 1, "the same failure twice is one Event");
    assert.equal(warnings[0].reason, "ValidationFailed");
    assert.equal(warnings[0].reason, readyCondition(await getSource(kube, namespace, "p"))?.reason);
    assert.match(warnings[0].message, /web\.yaml:8: .*spec\.schedule/);

    await work.write({ "web.yaml": policyYaml("web", '  schedule: "5 * * * *"\n') });
    const fixed = await work.commitAndPush("fixed");
    await syncNow(ctl, namespace, "p");
    seen = await events();
    assert.equal(seen.length, 3);
    assert.ok(
      seen.some((e) => e.type === "Normal" && e.message.startsWith(`Applied revision: main@sha1:${fixed}`)),
      JSON.stringify(seen),
    );
  });
});
