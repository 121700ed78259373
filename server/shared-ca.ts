// One CA for every replica: the caBundle in the webhook configurations and the APIService is the
// CA's, and each replica registers it; with a CA per replica the last one to start would break the
// others (the API server would reject their serving certificates). The CA lives in a Secret of the
// operator's namespace; the first replica creates it, the others (and restarts) load it. The key
// never leaves the Secret and this process: nothing here logs it.
import { createCA, loadCA, type CertificateAuthority } from "../lib/pki.ts";
import { isConflict, type Kube, type KubeObject } from "../lib/kube/client.ts";
import type { Logger } from "../lib/logger.ts";
import type { V1Secret } from "@kubernetes/client-node";

export interface SharedCAOptions {
  namespace: string;
  name: string;
  /** A CA expiring within this many days is replaced (default 30); replicas pick the new one up on restart. */
  renewWithinDays?: number;
  log?: Logger;
}

const CA_DAYS = 3650;

type Secret = KubeObject & Pick<V1Secret, "data" | "type">;

const encode = (ca: CertificateAuthority) => ({
  "tls.crt": Buffer.from(ca.certPem).toString("base64"),
  "tls.key": Buffer.from(ca.keyPem).toString("base64"),
});

async function fromSecret(secret: Secret, where: string): Promise<CertificateAuthority> {
  const crt = secret.data?.["tls.crt"];
  const key = secret.data?.["tls.key"];
  if (!crt || !key) throw new Error(`Secret ${where}: data has no tls.crt and tls.key (the operator's serving CA)`);
  try {
    return await loadCA(Buffer.from(crt, "base64").toString(), Buffer.from(key, "base64").toString());
  } catch (e) {
    throw new Error(`Secret ${where}: tls.crt/tls.key are not a CA certificate and its key: ${(e as Error).message}`, { cause: e });
  }
}

/** The operator's serving CA, loaded from its Secret or created there by the first replica. */
export async function sharedCA(kube: Kube, o: SharedCAOptions): Promise<CertificateAuthority> {
  const where = `${o.namespace}/${o.name}`;
  for (let attempt = 0; attempt < 5; attempt++) {
    const existing = await kube.getOrNull<Secret>("v1", "Secret", o.name, o.namespace);
    if (!existing) {
      const ca = await createCA("restash-operator-ca", CA_DAYS);
      try {
        await kube.create({
          apiVersion: "v1",
          kind: "Secret",
          type: "kubernetes.io/tls",
          metadata: { name: o.name, namespace: o.namespace, labels: { "app.kubernetes.io/name": "restash", "app.kubernetes.io/component": "serving-ca" } },
          data: encode(ca),
        });
        o.log?.info("serving CA created", { secret: where, notAfter: ca.cert.notAfter.toISOString() });
        return ca;
      } catch (e) {
        if (isConflict(e)) continue; // another replica created it first: load theirs
        throw e;
      }
    }
    const ca = await fromSecret(existing, where);
    const renewAt = ca.cert.notAfter.getTime() - (o.renewWithinDays ?? 30) * 86_400_000;
    if (Date.now() < renewAt) {
      o.log?.info("serving CA loaded", { secret: where, notAfter: ca.cert.notAfter.toISOString() });
      return ca;
    }
    const fresh = await createCA("restash-operator-ca", CA_DAYS);
    try {
      // resourceVersion makes the patch conditional: two replicas renewing at once, one wins.
      await kube.mergePatch(existing, { metadata: { resourceVersion: existing.metadata?.resourceVersion }, data: encode(fresh) });
      o.log?.info("serving CA renewed", { secret: where, expired: ca.cert.notAfter.toISOString(), notAfter: fresh.cert.notAfter.toISOString() });
      return fresh;
    } catch (e) {
      if (isConflict(e)) continue;
      throw e;
    }
  }
  throw new Error(`Secret ${where}: the serving CA kept changing while loading it; retry`);
}
