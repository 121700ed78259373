// The operator server's own TLS identity: a CA restash generates, and a serving certificate it
// signs. The serving certificate is renewed before it expires (or on demand) and the HTTPS server
// swaps its secure context, so rotation needs no restart. The CA outlives many serving
// certificates, so the caBundle registered in webhook configurations and the APIService stays valid.
import { X509Certificate } from "node:crypto";
import { createCA, issueCertificate, type CertificateAuthority, type KeyPair } from "../lib/pki.ts";

export interface ServingCertsOptions {
  /** DNS SANs; the Service name `<svc>.<ns>.svc` must be among them for the aggregator. */
  dnsNames?: string[];
  ipAddresses?: string[];
  /** Lifetime of each serving certificate. */
  validDays?: number;
  /** Bring your own CA (e.g. loaded from a Secret) instead of generating one. */
  ca?: CertificateAuthority;
}

export interface ServingCerts {
  /** PEM of the CA that signs the serving certificates. */
  readonly caPem: string;
  /** base64 of caPem, as webhook configurations and APIServices want it. */
  readonly caBundle: string;
  readonly dnsNames: string[];
  readonly ipAddresses: string[];
  current(): KeyPair;
  /** When the current serving certificate expires. */
  notAfter(): Date;
  /** Issues a fresh serving certificate and tells every listener. */
  rotate(): Promise<KeyPair>;
  /** Called with each new serving certificate; returns an unsubscribe function. */
  onRotate(listener: (pair: KeyPair) => void): () => void;
}

export const DEFAULT_DNS_NAMES = ["localhost"];
export const DEFAULT_IP_ADDRESSES = ["127.0.0.1"];

export async function createServingCerts(opts: ServingCertsOptions = {}): Promise<ServingCerts> {
  const ca = opts.ca ?? (await createCA("restash-operator-ca", 3650));
  const dnsNames = [...new Set([...DEFAULT_DNS_NAMES, ...(opts.dnsNames ?? [])])];
  const ipAddresses = [...new Set([...DEFAULT_IP_ADDRESSES, ...(opts.ipAddresses ?? [])])];
  const issue = () =>
    issueCertificate(ca, { commonName: dnsNames[dnsNames.length - 1], dnsNames, ipAddresses, usage: "server", validDays: opts.validDays ?? 90 });
  let pair = await issue();
  const listeners = new Set<(p: KeyPair) => void>();
  return {
    caPem: ca.certPem,
    caBundle: Buffer.from(ca.certPem).toString("base64"),
    dnsNames,
    ipAddresses,
    current: () => pair,
    notAfter: () => new Date(new X509Certificate(pair.certPem).validTo),
    async rotate() {
      pair = await issue();
      for (const l of listeners) l(pair);
      return pair;
    },
    onRotate(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** Milliseconds until a certificate valid until `notAfter` should be renewed: `renewBeforeMs` ahead of expiry, or now. */
export function renewalDelayMs(notAfter: Date, now: Date, renewBeforeMs: number): number {
  return Math.max(0, notAfter.getTime() - renewBeforeMs - now.getTime());
}
