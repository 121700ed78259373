import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer as createHttpServer, type IncomingMessage } from "node:http";
import { createServer as createTcpServer } from "node:net";
import type { AddressInfo } from "node:net";
import { buildExecRequest, executeHook, hookDecision, renderTemplate, HookTemplateError, type HookSummary } from "./hooks.ts";
import { freePort } from "../local/control-plane.ts";

const ok: HookSummary = {
  Name: "deployment-backup-1700000000",
  Namespace: "demo",
  Invoker: { APIGroup: "stash.appscode.com", Kind: "BackupConfiguration", Name: "deployment-backup" },
  Target: { APIVersion: "apps/v1", Kind: "Deployment", Name: "stash-demo", Namespace: "demo" },
  Status: { Phase: "Succeeded", Duration: "12s" },
  RetryLeft: 0,
};
const failed: HookSummary = { ...ok, Status: { Phase: "Failed", Duration: "3s", Error: "restic: repository is locked" }, RetryLeft: 2 };

test("post hooks run by executionPolicy and phase; pre hooks always run", () => {
  const table: [Parameters<typeof hookDecision>[0], string, number, boolean][] = [
    ["Always", "Succeeded", 0, true],
    ["Always", "Failed", 0, true],
    [undefined, "Failed", 0, true],
    ["OnSuccess", "Succeeded", 0, true],
    ["OnSuccess", "Failed", 0, false],
    ["OnFailure", "Failed", 1, true],
    ["OnFailure", "Succeeded", 0, false],
    ["OnFinalRetryFailure", "Failed", 0, true],
    ["OnFinalRetryFailure", "Failed", 2, false],
    ["OnFinalRetryFailure", "Succeeded", 0, false],
  ];
  for (const [policy, phase, retryLeft, run] of table) {
    assert.equal(hookDecision(policy, { hook: "postBackup", phase, retryLeft }).run, run, `${policy} ${phase} ${retryLeft}`);
  }
  assert.deepEqual(hookDecision("OnSuccess", { hook: "postBackup", phase: "Failed" }), {
    run: false,
    message: 'Skipping executing postBackup. Reason: executionPolicy is "OnSuccess" but phase is "Failed".',
  });
  assert.deepEqual(hookDecision("OnFailure", { hook: "preBackup", phase: "Running" }), { run: true });
  assert.equal(hookDecision("OnFinalRetryFailure", { hook: "postRestore", phase: "Failed", retryLeft: 0 }).run, false);
  assert.throws(() => hookDecision("Sometimes" as never, { hook: "postBackup", phase: "Failed" }), /unknown executionPolicy "Sometimes"/);
});

test("hook templates render Stash's Summary with the Go template subset the docs use", () => {
  const slack =
    '{"text":"{{if eq .Status.Phase `Succeeded`}}:white_check_mark: Backup succeeded for {{ .Namespace }}/{{.Target.Name}}{{else}}:x: Backup failed for {{ .Namespace }}/{{.Target.Name}} Reason: {{.Status.Error}}.{{end}}"}';
  assert.equal(renderTemplate(slack, ok), '{"text":":white_check_mark: Backup succeeded for demo/stash-demo"}');
  assert.equal(renderTemplate(slack, failed), '{"text":":x: Backup failed for demo/stash-demo Reason: restic: repository is locked."}');
  assert.equal(
    renderTemplate("  {{ .Invoker.Kind }}/{{ .Invoker.Name }} took {{ .Status.Duration }}, {{ .RetryLeft }} retries left  ", failed),
    "BackupConfiguration/deployment-backup took 3s, 2 retries left",
  );
  assert.equal(renderTemplate('{{- if ne .Status.Phase "Succeeded" -}}  FAIL  {{- else if .Status.Error }}odd{{ else }}ok{{ end }}', ok), "ok");
  assert.equal(
    renderTemplate('{{ .Status.Phase | upper }} {{ .Status.Error | default "none" }} {{ .Target.Kind | quote }}', ok),
    'SUCCEEDED none "Deployment"',
  );
  assert.equal(renderTemplate('{{ if and (eq .Status.Phase "Failed") (not .RetryLeft) }}final{{ else }}again{{ end }}', failed), "again");
  assert.equal(renderTemplate('{{ if or (eq .Target.Kind "StatefulSet" "Deployment") false }}yes{{ end }}', ok), "yes");
  assert.equal(renderTemplate("no template here  ", ok), "no template here  ");
  assert.throws(() => renderTemplate("{{ .Status.Nope }}", ok), HookTemplateError);
  assert.throws(() => renderTemplate("{{ if .Name }}x", ok), /missing \{\{ end \}\}/);
  assert.throws(() => renderTemplate("{{ range .Name }}x{{ end }}", ok), /range .* not supported/);
});

test("an exec hook becomes a request for the named or the first container with a rendered command", () => {
  const pod = { namespace: "demo", name: "app-0", containers: ["app", "sidecar"] };
  assert.deepEqual(buildExecRequest({ exec: { command: ["/bin/sh", "-c", "echo {{ .Status.Phase }} > /data/phase"] } }, ok, pod), {
    namespace: "demo",
    pod: "app-0",
    container: "app",
    command: ["/bin/sh", "-c", "echo Succeeded > /data/phase"],
  });
  assert.equal(buildExecRequest({ containerName: "sidecar", exec: { command: ["true"] } }, ok, pod).container, "sidecar");
  assert.throws(() => buildExecRequest({ containerName: "db", exec: { command: ["true"] } }, ok, pod), /has no container db \(has app, sidecar\)/);
});

test("an exec hook runs through the caller's pod exec and fails on a non-zero exit", async () => {
  const pod = { namespace: "demo", name: "app-0", containers: ["app"] };
  const seen: string[][] = [];
  const exec = async (r: { command: string[] }) => {
    seen.push(r.command);
    return r.command[0] === "false" ? { exitCode: 1, stderr: "boom" } : { exitCode: 0 };
  };
  assert.equal((await executeHook({ exec: { command: ["echo", "{{ .Name }}"] } }, ok, { exec, pod })).action, "exec");
  assert.deepEqual(seen, [["echo", "deployment-backup-1700000000"]]);
  await assert.rejects(executeHook({ exec: { command: ["false"] } }, ok, { exec, pod }), /exited with code 1: boom/);
  await assert.rejects(executeHook({ exec: { command: ["true"] } }, ok), /exec hooks need a pod/);
});

test("httpGet and httpPost hooks hit a real HTTP server with path, headers, rendered body and form", async () => {
  const got: { method: string; url: string; headers: IncomingMessage["headers"]; body: string }[] = [];
  const server = createHttpServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c));
    req.on("end", () => {
      got.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      res.statusCode = req.url === "/fail" ? 500 : req.url === "/moved" ? 302 : 200;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  try {
    const r1 = await executeHook({ httpGet: { port, path: "/ready", httpHeaders: [{ name: "X-Token", value: "secret-token-value" }] } }, ok);
    assert.deepEqual(r1, { action: "httpGet", description: `GET http://127.0.0.1:${port}/ready`, statusCode: 200 });
    assert.equal(got[0].headers["x-token"], "secret-token-value");

    await executeHook(
      {
        httpPost: {
          host: "127.0.0.1",
          port: String(port),
          path: "notify",
          body: '{"phase":"{{ .Status.Phase }}","target":"{{ .Target.Name }}"}',
          httpHeaders: [{ name: "Content-Type", value: "application/json" }],
        },
      },
      failed,
    );
    assert.deepEqual([got[1].method, got[1].url, got[1].body], ["POST", "/notify", '{"phase":"Failed","target":"stash-demo"}']);

    await executeHook(
      {
        httpPost: {
          port: "web",
          path: "/form",
          form: [
            { key: "phase", values: ["done"] },
            { key: "tag", values: ["a", "b c"] },
          ],
        },
      },
      ok,
      { resolvePort: (n) => (n === "web" ? port : undefined) },
    );
    assert.equal(got[2].body, "phase=done&tag=a&tag=b+c");
    assert.equal(got[2].headers["content-type"], "application/x-www-form-urlencoded");

    assert.equal((await executeHook({ httpGet: { port, path: "/moved" } }, ok)).statusCode, 302);
    await assert.rejects(executeHook({ httpGet: { port, path: "/fail", httpHeaders: [{ name: "X-Token", value: "secret-token-value" }] } }, ok), (e: Error) => {
      assert.match(e.message, /GET http:\/\/127\.0\.0\.1:\d+\/fail answered HTTP 500/);
      assert.doesNotMatch(e.message, /secret-token-value/);
      return true;
    });
    await assert.rejects(executeHook({ httpGet: { port: "web" } }, ok), /named port "web" cannot be resolved/);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test("a tcpSocket hook succeeds on an open port and fails on a closed one", async () => {
  const server = createTcpServer((s) => s.end());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  try {
    assert.deepEqual(await executeHook({ tcpSocket: { port } }, ok), { action: "tcpSocket", description: `tcp 127.0.0.1:${port}` });
  } finally {
    await new Promise((r) => server.close(r));
  }
  const closed = await freePort();
  await assert.rejects(executeHook({ tcpSocket: { host: "127.0.0.1", port: closed } }, ok), /is not open: .*ECONNREFUSED/);
  await assert.rejects(executeHook({ tcpSocket: { port: 1 }, httpGet: { port: 1 } }, ok), /exactly one of .* it has httpGet, tcpSocket/);
});
