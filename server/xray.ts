// Stash's start-up "xray": a dry-run create of a Repository the validating webhook must refuse
// (wipeOut with a local backend). Refused means the webhooks are live; admitted means they are
// not (yet): the API server picks up webhook configurations a moment after they are written.
import { ApiError, type Kube } from "../lib/kube/client.ts";

export const XRAY_REPOSITORY = "test-repository-for-webhook-xray";

export function xrayRepository(namespace: string) {
  return {
    apiVersion: "stash.appscode.com/v1alpha1",
    kind: "Repository",
    metadata: { name: XRAY_REPOSITORY, namespace },
    spec: { wipeOut: true, backend: { storageSecretName: "xray", local: { mountPath: "/safe/data", hostPath: { path: "/tmp/xray" } } } },
  };
}

/** Resolves once the validating webhook refuses the xray Repository; throws after timeoutMs. */
export async function webhookXray(kube: Kube, namespace: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const path = `/apis/stash.appscode.com/v1alpha1/namespaces/${namespace}/repositories`;
  for (;;) {
    try {
      await kube.request(path, { method: "POST", body: xrayRepository(namespace), query: { dryRun: "All" } });
    } catch (e) {
      if (e instanceof ApiError && /wipe out operation is not supported for local backend/.test(e.message)) return;
      if (!(e instanceof ApiError) || e.code >= 500) throw e;
    }
    if (Date.now() > deadline)
      throw new Error(`validating webhook is not active in namespace ${namespace} after ${timeoutMs} ms: the xray Repository was admitted`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
