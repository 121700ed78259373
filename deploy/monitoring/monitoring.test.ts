// The alert rules as Prometheus reads them: `promtool check rules` (syntax, PromQL, templates) and
// `promtool test rules` (alerts.test.yaml: each alert fires when it should and only then), with
// the promtool scripts/install-tools.sh builds from the Prometheus module.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { toolsDir } from "../../testing/services.ts";

const dir = import.meta.dirname;

function promtool(...args: string[]): string {
  try {
    return execFileSync(join(toolsDir(), "promtool"), args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e: any) {
    assert.fail(`promtool ${args.join(" ")} exited ${e.status}:\n${e.stdout ?? ""}${e.stderr ?? ""}`);
  }
}

test("the alert rules pass promtool check rules", () => {
  assert.match(promtool("check", "rules", "alerts.rules.yaml"), /SUCCESS: 7 rules found/);
});

test("every alert passes its promtool unit tests (backup too old or never succeeded, failed sessions, sync stalled, integrity, reconcile errors)", () => {
  const alerts = [...readFileSync(join(dir, "alerts.rules.yaml"), "utf8").matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
  const tested = new Set([...readFileSync(join(dir, "alerts.test.yaml"), "utf8").matchAll(/alertname: (\w+)/g)].map((m) => m[1]));
  assert.deepEqual(
    alerts.filter((a) => !tested.has(a)),
    [],
    "every alert has a unit test",
  );
  assert.match(promtool("test", "rules", "alerts.test.yaml"), /SUCCESS/);
});
