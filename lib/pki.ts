// A small certificate authority: the local control plane, the webhook server and the Snapshot API
// server all need certificates, and the operator rotates its own without a restart.
import "reflect-metadata"; // @peculiar/x509 (through tsyringe) needs the Reflect polyfill loaded first
import * as x509 from "@peculiar/x509";
import { webcrypto } from "node:crypto";

type CryptoKeyPair = webcrypto.CryptoKeyPair;
// @peculiar/x509 is typed against the DOM's Crypto; Node's webcrypto is the same API.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

export interface KeyPair {
  certPem: string;
  keyPem: string;
}

export interface CertificateAuthority extends KeyPair {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}

export interface IssueOptions {
  commonName: string;
  organizations?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  usage: "server" | "client" | "both";
  validDays?: number;
}

function pemKey(pkcs8: ArrayBuffer): string {
  const b64 = Buffer.from(pkcs8)
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .replace(/\n$/, "");
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
    .toString("hex")
    .replace(/^[89a-f]/, "1");
}

function subject(cn: string, orgs: string[] = []): string {
  const esc = (v: string) => v.replace(/([,+"\\<>;=])/g, "\\$1");
  return [`CN=${esc(cn)}`, ...orgs.map((o) => `O=${esc(o)}`)].join(", ");
}

async function exportKey(keys: CryptoKeyPair): Promise<string> {
  return pemKey(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey as webcrypto.CryptoKey));
}

export async function createCA(commonName: string, validDays = 365): Promise<CertificateAuthority> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: subject(commonName),
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + validDays * 86_400_000),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys, certPem: cert.toString("pem") + "\n", keyPem: await exportKey(keys) };
}

export async function issueCertificate(ca: CertificateAuthority, opts: IssueOptions): Promise<KeyPair> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
  const now = Date.now();
  const eku: string[] = [];
  if (opts.usage !== "client") eku.push(x509.ExtendedKeyUsage.serverAuth);
  if (opts.usage !== "server") eku.push(x509.ExtendedKeyUsage.clientAuth);
  const san = [
    ...(opts.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(opts.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension(eku, false),
    await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
  ];
  if (san.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(san, false));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: subject(opts.commonName, opts.organizations),
    issuer: ca.cert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (opts.validDays ?? 365) * 86_400_000),
    signingKey: ca.keys.privateKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions,
  });
  return { certPem: cert.toString("pem") + "\n", keyPem: await exportKey(keys) };
}

/** A bare key pair (PEM public key and PKCS#8 private key), e.g. for service-account token signing. */
export async function createSigningKey(): Promise<{ publicPem: string; keyPem: string }> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
  const spki = Buffer.from(await webcrypto.subtle.exportKey("spki", keys.publicKey as webcrypto.CryptoKey)).toString("base64");
  const publicPem = `-----BEGIN PUBLIC KEY-----\n${spki.replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END PUBLIC KEY-----\n`;
  return { publicPem, keyPem: await exportKey(keys) };
}

/** A CA from its PEM certificate and PKCS#8 key (as createCA wrote them), e.g. kept in a Secret. */
export async function loadCA(certPem: string, keyPem: string): Promise<CertificateAuthority> {
  const cert = new x509.X509Certificate(certPem);
  const der = Buffer.from(keyPem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, ""), "base64");
  const privateKey = await webcrypto.subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]);
  const publicKey = await cert.publicKey.export({ name: "ECDSA", namedCurve: "P-256" }, ["verify"]);
  const keys = { privateKey, publicKey } as CryptoKeyPair;
  // The key must be the certificate's: sign with it and verify with the certificate's public key.
  const data = new TextEncoder().encode("restash");
  const sig = await webcrypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, data);
  if (!(await webcrypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, publicKey as webcrypto.CryptoKey, sig, data))) {
    throw new Error("the CA key does not belong to the CA certificate");
  }
  return { cert, keys, certPem, keyPem };
}
