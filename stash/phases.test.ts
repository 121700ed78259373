import { test } from "node:test";
import assert from "node:assert/strict";
import { backupInvokerPhase, backupSessionPhase, backupTargetPhase, goDuration, parseGoDuration, restoreSessionPhase } from "./phases.ts";
import { sessionsToDelete } from "./history.ts";
import { ruleForHost, validateRules } from "./restore-rules.ts";

const c = (type: string, status: "True" | "False" | "Unknown") => ({ type, status });

test("BackupConfiguration phase follows Stash's order: NotReady before Invalid before Ready", () => {
  assert.equal(backupInvokerPhase([c("ValidationPassed", "False")]), "NotReady", "Repository conditions unknown");
  assert.equal(backupInvokerPhase([c("RepositoryFound", "True"), c("BackendSecretFound", "True"), c("ValidationPassed", "False")]), "Invalid");
  assert.equal(
    backupInvokerPhase([c("RepositoryFound", "True"), c("BackendSecretFound", "True"), c("ValidationPassed", "True"), c("CronJobCreated", "True")]),
    "Ready",
  );
  assert.equal(
    backupInvokerPhase([c("RepositoryFound", "True"), c("BackendSecretFound", "False"), c("ValidationPassed", "True"), c("CronJobCreated", "True")]),
    "NotReady",
  );
  assert.equal(backupInvokerPhase([c("ValidationPassed", "True"), c("CronJobCreated", "True")], "VolumeSnapshotter"), "Ready");
});

test("a target is Pending without totalHosts, Running until every host reports, then Failed if any host failed", () => {
  assert.equal(backupTargetPhase({}), "Pending");
  assert.equal(backupTargetPhase({ totalHosts: 2, stats: [{ hostname: "a", phase: "Succeeded" }] }), "Running");
  assert.equal(backupTargetPhase({ totalHosts: 2, stats: [{ phase: "Succeeded" }, { phase: "Failed" }] }), "Failed");
  assert.equal(backupTargetPhase({ totalHosts: 1, stats: [{ phase: "Succeeded" }] }), "Succeeded");
  assert.equal(backupTargetPhase({ conditions: [c("BackupExecutorEnsured", "False")] }), "Failed");
});

test("a BackupSession is final only once metrics are pushed, and failed post-backup actions fail it", () => {
  const done = { totalHosts: 1, stats: [{ phase: "Succeeded" }] };
  assert.equal(backupSessionPhase({}), "Pending");
  assert.equal(backupSessionPhase({ targets: [done] }), "Running", "metrics not pushed yet");
  assert.equal(backupSessionPhase({ targets: [done], conditions: [c("MetricsPushed", "True")] }), "Succeeded");
  assert.equal(backupSessionPhase({ targets: [done], conditions: [c("MetricsPushed", "True"), c("RetentionPolicyApplied", "False")] }), "Failed");
  assert.equal(backupSessionPhase({ targets: [done], conditions: [c("MetricsPushed", "False")] }), "Failed");
  assert.equal(backupSessionPhase({ conditions: [c("BackupSkipped", "True"), c("MetricsPushed", "True")] }), "Skipped");
  assert.equal(backupSessionPhase({ targets: [{ totalHosts: 1 }], conditions: [c("DeadlineExceeded", "True"), c("MetricsPushed", "True")] }), "Failed");
});

test("a RestoreSession is Running until metrics are pushed after every host reported", () => {
  const base = [
    c("RepositoryFound", "True"),
    c("BackendSecretFound", "True"),
    c("RestoreTargetFound", "True"),
    c("ValidationPassed", "True"),
    c("RestoreExecutorEnsured", "True"),
  ];
  assert.equal(restoreSessionPhase({ conditions: base }), "Pending");
  assert.equal(restoreSessionPhase({ conditions: base, totalHosts: 1 }), "Running");
  assert.equal(restoreSessionPhase({ conditions: base, totalHosts: 1, stats: [{ phase: "Succeeded" }] }), "Running");
  assert.equal(restoreSessionPhase({ conditions: [...base, c("MetricsPushed", "True")], totalHosts: 1, stats: [{ phase: "Succeeded" }] }), "Succeeded");
  assert.equal(restoreSessionPhase({ conditions: [...base, c("MetricsPushed", "True")], totalHosts: 1, stats: [{ phase: "Failed" }] }), "Failed");
  assert.equal(restoreSessionPhase({ conditions: [c("ValidationPassed", "False")] }), "Invalid");
});

test("backupHistoryLimit keeps the newest sessions and always the last completed one", () => {
  const s = (name: string, ts: string, phase?: string) => ({ metadata: { name, creationTimestamp: ts }, status: phase ? { phase } : {} });
  const sessions = [
    s("a", "2026-01-01T00:00:01Z", "Succeeded"),
    s("b", "2026-01-01T00:00:02Z", "Failed"),
    s("c", "2026-01-01T00:00:03Z", "Skipped"),
    s("d", "2026-01-01T00:00:04Z"),
  ];
  assert.deepEqual(sessionsToDelete(sessions, 1).sort(), ["a", "c"], "b is the last completed; d is running");
  assert.deepEqual(sessionsToDelete(sessions, 3), ["a"]);
  assert.deepEqual(sessionsToDelete(sessions, 0).sort(), ["a", "b", "c"]);
});

test("restore rules: one catch-all rule at most, a host in one rule, snapshots and paths exclusive", () => {
  assert.equal(validateRules([{ paths: ["/a"] }, { targetHosts: ["h1"], snapshots: ["abcd1234"] }]), null);
  assert.deepEqual(validateRules([{ paths: ["/a"] }, { paths: ["/b"] }]), {
    field: "spec.target.rules[1].targetHosts",
    message: "at most one rule may have empty targetHosts",
  });
  assert.deepEqual(
    validateRules([
      { targetHosts: ["h"], paths: ["/a"] },
      { targetHosts: ["h"], paths: ["/b"] },
    ]),
    { field: "spec.target.rules[1].targetHosts", message: 'host "h" is already matched by rule 0' },
  );
  assert.deepEqual(validateRules([{ paths: ["/a"], snapshots: ["x"] }]), {
    field: "spec.target.rules[0]",
    message: "snapshots and paths cannot be used together in a rule",
  });
  const rules = [{ targetHosts: ["host-1"], paths: ["/one"] }, { paths: ["/all"] }];
  assert.deepEqual(ruleForHost(rules, "host-1")?.paths, ["/one"]);
  assert.deepEqual(ruleForHost(rules, "host-0")?.paths, ["/all"]);
  assert.equal(ruleForHost([{ targetHosts: ["x"] }], "y"), undefined);
});

test("Go durations round-trip as Stash writes them", () => {
  assert.equal(goDuration(0), "0s");
  assert.equal(goDuration(61_400), "1m1s");
  assert.equal(goDuration(3_723_000), "1h2m3s");
  assert.equal(parseGoDuration("1h30m"), 5_400_000);
  assert.equal(parseGoDuration("500ms"), 500);
  assert.ok(Number.isNaN(parseGoDuration("1d")));
  assert.ok(Number.isNaN(parseGoDuration("")));
});
