// Who is asking: the aggregator (kube-apiserver's front proxy) presents a client certificate signed
// by the front-proxy CA and passes the authenticated user in X-Remote-User / X-Remote-Group /
// X-Remote-Extra-*. Those headers are believed only on a connection whose certificate verified
// against that CA (and, when allowed names are configured, whose CN is one of them).
import type { TLSSocket } from "node:tls";
import type { IncomingMessage } from "node:http";

export interface UserInfo {
  username: string;
  groups: string[];
  extra: Record<string, string[]>;
}

export interface FrontProxyConfig {
  /** PEM of the CA that signs the aggregator's client certificate (requestheader-client-ca-file). */
  caPem: string;
  /** Accepted CNs (requestheader-allowed-names); empty accepts any CN that CA signed. */
  allowedNames: string[];
  usernameHeaders: string[];
  groupHeaders: string[];
  extraHeaderPrefixes: string[];
}

export const DEFAULT_FRONT_PROXY_HEADERS = {
  usernameHeaders: ["X-Remote-User"],
  groupHeaders: ["X-Remote-Group"],
  extraHeaderPrefixes: ["X-Remote-Extra-"],
};

export type AuthResult = { ok: true; user: UserInfo } | { ok: false; reason: string };

function headerValues(req: IncomingMessage, name: string): string[] {
  const v = req.headersDistinct?.[name.toLowerCase()];
  return (v ?? [])
    .flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter(Boolean);
}

export function authenticate(req: IncomingMessage, cfg: FrontProxyConfig): AuthResult {
  const socket = req.socket as TLSSocket;
  if (typeof socket.getPeerCertificate !== "function") return { ok: false, reason: "not a TLS connection" };
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return { ok: false, reason: "no client certificate: requests must come through the Kubernetes API server" };
  if (!socket.authorized) return { ok: false, reason: `client certificate not signed by the front-proxy CA (${socket.authorizationError})` };
  const cn = typeof cert.subject?.CN === "string" ? cert.subject.CN : "";
  if (cfg.allowedNames.length > 0 && !cfg.allowedNames.includes(cn)) {
    return { ok: false, reason: `client certificate CN ${JSON.stringify(cn)} is not an allowed front-proxy name` };
  }
  const username = cfg.usernameHeaders.map((h) => headerValues(req, h)[0]).find(Boolean);
  if (!username) return { ok: false, reason: "no user in the request headers" };
  const groups = cfg.groupHeaders.flatMap((h) => headerValues(req, h));
  const extra: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(req.headersDistinct ?? {})) {
    for (const prefix of cfg.extraHeaderPrefixes) {
      if (!name.startsWith(prefix.toLowerCase())) continue;
      const key = decodeURIComponent(name.slice(prefix.length)).toLowerCase();
      extra[key] = [...(extra[key] ?? []), ...(values ?? [])];
    }
  }
  return { ok: true, user: { username, groups, extra } };
}
