// For tests: one operator server per test process, registered with the shared control plane. Its
// webhooks only see namespaces (and cluster-scoped objects) carrying this process's scope label,
// so other engineers' tests in the same control plane are never intercepted.
import { randomBytes } from "node:crypto";
import { controlPlane } from "./cluster.ts";
import { Kube } from "../lib/kube/client.ts";
import type { ControlPlane } from "../local/control-plane.ts";
import { startOperatorServer, type OperatorServer } from "../server/operator-server.ts";
import { webhookXray } from "../server/xray.ts";

export const SCOPE_LABEL = "restash.dev/operator-server-test";

export interface TestOperator {
  cp: ControlPlane;
  kube: Kube;
  server: OperatorServer;
  scope: Record<string, string>;
  /** A fresh namespace the webhooks apply to (label it yourself with more labels if needed). */
  namespace(prefix: string, labels?: Record<string, string>): Promise<string>;
}

let shared: Promise<TestOperator> | undefined;

export function testOperator(): Promise<TestOperator> {
  shared ??= (async () => {
    const cp = await controlPlane();
    const kube = Kube.fromFile(cp.kubeconfig);
    const id = randomBytes(4).toString("hex");
    const scope = { [SCOPE_LABEL]: id };
    const service = { namespace: "kube-system", name: `restash-operator-${id}` };
    const server = await startOperatorServer({ kube, service, inject: { image: "restash/runner:test" }, index: { errorRetryMs: 500 }, unref: true });
    await server.registerWithApiServer({
      webhookConfigName: `restash-test-${id}`,
      webhookScope: { namespaceSelector: { matchLabels: scope }, clusterObjectSelector: { matchLabels: scope } },
      apiServiceService: { ...service, externalName: true },
    });
    const namespace = async (prefix: string, labels: Record<string, string> = {}) => {
      const name = `${prefix
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, "-")
        .slice(0, 40)}-${randomBytes(3).toString("hex")}`;
      await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels: { ...scope, ...labels } } });
      return name;
    };
    // Webhook configurations take effect a moment after they are written: wait until they bite.
    await webhookXray(kube, await namespace("xray"));
    return { cp, kube, server, scope, namespace };
  })();
  return shared;
}

/** Stops the shared operator server (call from a file-level after(), before stopControlPlane). */
export async function stopTestOperator(): Promise<void> {
  if (!shared) return;
  const op = await shared.catch(() => undefined);
  shared = undefined;
  await op?.server.stop();
}
