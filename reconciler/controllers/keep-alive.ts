// client-node's KubeConfig.applyToHTTPSOptions hands out an https.Agent without keep-alive, so
// every API call opens a connection and pays a TLS handshake and a new SecureContext: at 1,000 objects that dominates
// the operator's CPU and memory. This wraps a Kube so all its requests share one keep-alive agent
// with the same TLS settings. (Belongs in lib/kube/client.ts; kept here until it moves there.)
import { Agent } from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";
import { Kube } from "../../lib/kube/client.ts";

export function withKeepAlive(kube: Kube, maxSockets = 16): Kube {
  const base = kube.kc;
  let shared: Agent | undefined;
  const kc = Object.create(base) as KubeConfig;
  kc.applyToHTTPSOptions = async (opts: any) => {
    await base.applyToHTTPSOptions(opts);
    const fresh = opts.agent as Agent | undefined;
    // Kube.request writes a DELETE body without Content-Length (Node does not chunk DELETE), which
    // only works when the connection closes after it: DELETE keeps the non-pooled agent.
    if (fresh && opts.method !== "DELETE") {
      shared ??= new Agent({ ...(fresh as any).options, keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: "lifo" });
      opts.agent = shared;
    }
  };
  return kube.impersonation ? new Kube(kc, kube.impersonation) : new Kube(kc);
}
