// The push webhook: POST /hooks/<namespace>/<name>, body signed with HMAC-SHA256 under the
// PolicySource Secret's `webhookSecret` (GitHub's X-Hub-Signature-256 or X-Signature: sha256=…).
// A valid push to a branch queues the source at once; pushes to refs/notes/* are ignored so the
// sync's own note pushes cannot loop.
import { createHmac, timingSafeEqual } from "node:crypto";
import express, { type Router } from "express";
import type { Kube, KubeObject } from "../../lib/kube/client.ts";
import type { Logger } from "../../lib/logger.ts";
import { POLICY_SOURCE_API, POLICY_SOURCE_KIND, type PolicySource } from "../../policies/policy-source.ts";

export const WEBHOOK_SECRET_KEY = "webhookSecret";

export function signBody(body: Buffer | string, key: string): string {
  return "sha256=" + createHmac("sha256", key).update(body).digest("hex");
}

export function signatureValid(body: Buffer, key: string, header: string | undefined): boolean {
  if (!header) return false;
  const want = Buffer.from(signBody(body, key));
  const got = Buffer.from(header.trim());
  return want.length === got.length && timingSafeEqual(want, got);
}

export interface ReceiverOptions {
  kube: Kube;
  log: Logger;
  /** Queue the source now. */
  trigger: (namespace: string, name: string) => void;
  maxBodyBytes?: number;
}

export function receiverRouter(opts: ReceiverOptions): Router {
  const router = express.Router();
  router.post("/hooks/:namespace/:name", express.raw({ type: () => true, limit: opts.maxBodyBytes ?? 1024 * 1024 }), async (req, res) => {
    const { namespace, name } = req.params as { namespace: string; name: string };
    const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    try {
      const src = await opts.kube.getOrNull<PolicySource>(POLICY_SOURCE_API, POLICY_SOURCE_KIND, name, namespace);
      const secretName = src?.spec.secretRef?.name;
      const secret = secretName ? await opts.kube.getOrNull<KubeObject>("v1", "Secret", secretName, namespace) : null;
      const data = (secret?.data ?? {}) as Record<string, string>;
      const key = data[WEBHOOK_SECRET_KEY] ? Buffer.from(data[WEBHOOK_SECRET_KEY], "base64").toString("utf8") : undefined;
      // Unknown source, no key, or a bad signature all answer the same, so the endpoint reveals nothing.
      const header = (req.get("x-hub-signature-256") ?? req.get("x-signature")) || undefined;
      if (!src || !key || !signatureValid(body, key, header)) {
        res.status(401).json({ error: "signature does not match" });
        return;
      }
      let ref: string | undefined;
      try {
        ref = JSON.parse(body.toString("utf8"))?.ref;
      } catch {
        ref = undefined;
      }
      if (ref && !ref.startsWith("refs/heads/")) {
        res.status(202).json({ ignored: `not a branch push: ${ref}` });
        return;
      }
      opts.trigger(namespace, name);
      opts.log.info("push webhook accepted", { policySource: `${namespace}/${name}`, ref });
      res.status(202).json({ queued: `${namespace}/${name}` });
    } catch (e) {
      opts.log.warn("push webhook failed", { policySource: `${namespace}/${name}`, error: (e as Error).message });
      res.status(500).json({ error: "internal error" });
    }
  });
  return router;
}
