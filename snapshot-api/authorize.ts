// Authorisation of each Snapshot API request with a SubjectAccessReview, so the cluster's RBAC on
// `snapshots` decides. Decisions are cached briefly (as kube's webhook authorizer does) so a list
// storm costs one review, not one per request.
import type { V1SubjectAccessReview } from "@kubernetes/client-node";
import type { Kube } from "../lib/kube/client.ts";
import type { UserInfo } from "./front-proxy-auth.ts";
import { GROUP, RESOURCE, VERSION } from "./api-group.ts";

export interface AccessRequest {
  verb: string;
  namespace?: string;
  name?: string;
}

export type Decision = { allowed: true } | { allowed: false; reason: string };

export interface Authorizer {
  authorize(user: UserInfo, req: AccessRequest): Promise<Decision>;
}

export interface SarAuthorizerOptions {
  allowedTtlMs?: number;
  deniedTtlMs?: number;
  now?: () => number;
}

export function sarAuthorizer(kube: Kube, opts: SarAuthorizerOptions = {}): Authorizer {
  const now = opts.now ?? Date.now;
  const cache = new Map<string, { decision: Decision; until: number }>();
  return {
    async authorize(user, req) {
      const key = JSON.stringify([user.username, [...user.groups].sort(), user.extra, req.verb, req.namespace ?? "", req.name ?? ""]);
      const hit = cache.get(key);
      if (hit && hit.until > now()) return hit.decision;
      const sar = await kube.request<V1SubjectAccessReview>("/apis/authorization.k8s.io/v1/subjectaccessreviews", {
        method: "POST",
        body: {
          apiVersion: "authorization.k8s.io/v1",
          kind: "SubjectAccessReview",
          spec: {
            user: user.username,
            groups: user.groups,
            extra: user.extra,
            resourceAttributes: { group: GROUP, version: VERSION, resource: RESOURCE, verb: req.verb, namespace: req.namespace, name: req.name },
          },
        },
      });
      const decision: Decision = sar?.status?.allowed ? { allowed: true } : { allowed: false, reason: String(sar?.status?.reason ?? "") };
      if (cache.size > 10_000) cache.clear();
      cache.set(key, { decision, until: now() + (decision.allowed ? (opts.allowedTtlMs ?? 10_000) : (opts.deniedTtlMs ?? 1_000)) });
      return decision;
    },
  };
}

/** The API server's own wording for a refusal. */
export function forbiddenMessage(user: UserInfo, req: AccessRequest): string {
  const what = req.name ? `${RESOURCE}.${GROUP} ${JSON.stringify(req.name)}` : `${RESOURCE}.${GROUP}`;
  const where = req.namespace ? ` in the namespace ${JSON.stringify(req.namespace)}` : " at the cluster scope";
  return `${what} is forbidden: User ${JSON.stringify(user.username)} cannot ${req.verb} resource ${JSON.stringify(RESOURCE)} in API group ${JSON.stringify(GROUP)}${where}`;
}
