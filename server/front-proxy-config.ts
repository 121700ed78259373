// The aggregator's front-proxy settings, read the way extension API servers read them: from the
// ConfigMap kube-system/extension-apiserver-authentication that kube-apiserver publishes.
import type { Kube } from "../lib/kube/client.ts";
import { DEFAULT_FRONT_PROXY_HEADERS, type FrontProxyConfig } from "../snapshot-api/front-proxy-auth.ts";

const list = (v: string | undefined, fallback: string[]): string[] => {
  if (!v) return fallback;
  try {
    const parsed = JSON.parse(v);
    return Array.isArray(parsed) ? parsed.map(String) : fallback;
  } catch {
    return fallback;
  }
};

/** Pure: the ConfigMap's data as a FrontProxyConfig (undefined when it has no request-header CA). */
export function frontProxyFromConfigMap(data: Record<string, string> | undefined): FrontProxyConfig | undefined {
  const caPem = data?.["requestheader-client-ca-file"];
  if (!caPem) return undefined;
  return {
    caPem,
    allowedNames: list(data["requestheader-allowed-names"], []),
    usernameHeaders: list(data["requestheader-username-headers"], DEFAULT_FRONT_PROXY_HEADERS.usernameHeaders),
    groupHeaders: list(data["requestheader-group-headers"], DEFAULT_FRONT_PROXY_HEADERS.groupHeaders),
    extraHeaderPrefixes: list(data["requestheader-extra-headers-prefix"], DEFAULT_FRONT_PROXY_HEADERS.extraHeaderPrefixes),
  };
}

export async function readFrontProxyConfig(kube: Kube): Promise<FrontProxyConfig> {
  const cm = await kube.get("v1", "ConfigMap", "extension-apiserver-authentication", "kube-system");
  const cfg = frontProxyFromConfigMap(cm.data as Record<string, string> | undefined);
  if (!cfg)
    throw new Error(
      "ConfigMap kube-system/extension-apiserver-authentication has no requestheader-client-ca-file: the API server runs without the aggregation layer flags",
    );
  return cfg;
}
