// One real control plane per test process, shared by every test file in it; a fresh namespace
// per test. The suite runs with --test-isolation=none, so the whole suite shares one.
import { randomBytes } from "node:crypto";
import { after } from "node:test";
import { startControlPlane, type ControlPlane } from "../local/control-plane.ts";
import { installCRDs } from "../schema/install.ts";
import { Kube } from "../lib/kube/client.ts";

let shared: Promise<ControlPlane> | undefined;

// Whoever imports the harness gets the control plane stopped after the last test of the process.
after(() => stopControlPlane());

/** The process-wide control plane, started on first use with restash's CRDs installed. */
export function controlPlane(): Promise<ControlPlane> {
  shared ??= (async () => {
    const cp = await startControlPlane({ log: process.env.RESTASH_TEST_VERBOSE ? (l) => console.error(l) : undefined });
    await installCRDs(Kube.fromFile(cp.kubeconfig));
    return cp;
  })();
  return shared;
}

/** Stops the shared control plane (the process exit hook also does it, as a last resort). */
export async function stopControlPlane(): Promise<void> {
  if (!shared) return;
  const cp = await shared.catch(() => undefined);
  shared = undefined;
  await cp?.stop();
}

export interface TestCluster {
  cp: ControlPlane;
  kube: Kube;
  namespace: string;
}

/** A namespace of its own for one test, in the shared control plane. */
export async function testNamespace(prefix = "t"): Promise<TestCluster> {
  const cp = await controlPlane();
  const kube = Kube.fromFile(cp.kubeconfig);
  const namespace = `${prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .slice(0, 40)}-${randomBytes(3).toString("hex")}`;
  await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
  return { cp, kube, namespace };
}
