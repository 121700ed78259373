// A batch's global exec hook runs in the operator's own pod, as Stash runs it: the pods/exec request
// goes to the real API server for the pod POD_NAME names (with no kubelet the API server refuses it,
// and the condition says why); an operator outside a pod says POD_NAME is not set. httpGet from the
// operator pod's own address. Run through runGlobalHook, the function both batch controllers call.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { testNamespace } from "../../testing/cluster.ts";
import { cleanupAfterFile } from "../../testing/e2e.ts";
import { globalHookSummary, operatorExecutor, runGlobalHook } from "./global-hooks.ts";

const { defer } = cleanupAfterFile();

const batch = (namespace: string) => ({ apiVersion: "stash.appscode.com/v1beta1", kind: "BackupBatch", metadata: { name: "nightly", namespace } });

test("a global exec hook is a pods/exec request for the operator's own pod; outside a pod it fails naming POD_NAME", async () => {
  const { kube, namespace } = await testNamespace("ghooks");
  const pod = "restash-operator-5d8f-abcde";
  // The operator's pod as the API server stores it (nothing runs it: there is no kubelet).
  await kube.apply({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: pod, namespace },
    spec: {
      containers: [
        { name: "operator", image: "restash" },
        { name: "pushgateway", image: "pushgateway" },
      ],
    },
  });
  const summary = globalHookSummary({ name: "nightly-1700000000", namespace }, batch(namespace), "Running");
  const hook = { exec: { command: ["/bin/sh", "-c", "echo {{ .Invoker.Name }} > /tmp/marker"] } };

  const inPod = await runGlobalHook("preBackup", hook, summary, operatorExecutor(kube, { name: pod, namespace }));
  assert.equal(inPod.type, "GlobalPreBackupHookSucceeded");
  assert.equal(inPod.status, false);
  assert.equal(inPod.reason, "GlobalPreBackupHookExecutionFailed");
  assert.match(
    inPod.message,
    new RegExp(
      `^Failed to execute global PreBackup Hook\\. Reason: exec in ${namespace}/${pod} container operator was refused by the API server: .*pod ${pod} does not have a host assigned`,
    ),
  );

  const named = await runGlobalHook(
    "preBackup",
    { containerName: "sidecar", exec: { command: ["true"] } },
    summary,
    operatorExecutor(kube, { name: pod, namespace }),
  );
  assert.match(named.message, /has no container sidecar \(has operator, pushgateway\)/);

  const local = await runGlobalHook("preBackup", hook, summary, operatorExecutor(kube, undefined));
  assert.equal(local.status, false);
  assert.match(local.message, /exec hooks run in the executor pod, but POD_NAME is not set/);
});

test("a global httpGet without a host goes to the operator pod's own address (POD_IP)", async () => {
  const { kube, namespace } = await testNamespace("ghooks-http");
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url ?? "");
    res.end("ok");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.2", r));
  defer(() => new Promise((r) => server.close(r)));
  const port = (server.address() as AddressInfo).port;
  const summary = globalHookSummary({ name: "nightly-1700000000", namespace }, batch(namespace), "Succeeded");
  const o = await runGlobalHook(
    "postBackup",
    { executionPolicy: "OnSuccess", httpGet: { port, path: "/done" } },
    summary,
    operatorExecutor(kube, { ip: "127.0.0.2", namespace }),
  );
  assert.deepEqual(
    [o.status, o.reason, o.message],
    [true, "GlobalPostBackupHookExecutedSuccessfully", "Global PostBackup hook has been executed successfully"],
  );
  assert.deepEqual(seen, ["/done"]);
});
