// Repository spec.wipeOut: deletes the backend data under bucket/prefix when the Repository is
// deleted (Stash lists and deletes objects through stow). S3 (AWS, MinIO, ...) is done here with
// signed ListObjectsV2 + DeleteObject requests; other providers report that they are not
// supported instead of pretending. Local and B2 are refused by validation, as in Stash.
import { createHash, createHmac } from "node:crypto";
import type { V1Secret } from "@kubernetes/client-node";
import type { Kube } from "../../lib/kube/client.ts";
import type { Repository } from "../../schema/types.generated.ts";
import { secretDataOf } from "../../lib/kube/secret-data.ts";

interface S3Creds {
  accessKey: string;
  secretKey: string;
  region: string;
}

/** AWS Signature V4 headers for one S3 request with an empty body. */
export function signS3(method: string, url: URL, creds: S3Creds, now: Date): Record<string, string> {
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
  const day = amzDate.slice(0, 8);
  const payloadHash = createHash("sha256").update("").digest("hex");
  const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const query = [...url.searchParams.entries()]
    .map(([k, v]) => [enc(k), enc(v)])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const headers: Record<string, string> = { host: url.host, "x-amz-content-sha256": payloadHash, "x-amz-date": amzDate };
  const signed = Object.keys(headers).sort();
  const canonical = `${method}\n${url.pathname}\n${query}\n${signed.map((h) => `${h}:${headers[h]}\n`).join("")}\n${signed.join(";")}\n${payloadHash}`;
  const scope = `${day}/${creds.region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, createHash("sha256").update(canonical).digest("hex")].join("\n");
  const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data).digest();
  const kSigning = hmac(hmac(hmac(hmac(`AWS4${creds.secretKey}`, day), creds.region), "s3"), "aws4_request");
  const signature = createHmac("sha256", kSigning).update(toSign).digest("hex");
  return { ...headers, authorization: `AWS4-HMAC-SHA256 Credential=${creds.accessKey}/${scope}, SignedHeaders=${signed.join(";")}, Signature=${signature}` };
}

const encodeKey = (key: string) =>
  key
    .split("/")
    .map((p) => encodeURIComponent(p))
    .join("/");

async function s3(method: string, url: URL, creds: S3Creds): Promise<string> {
  const res = await fetch(url, { method, headers: signS3(method, url, creds, new Date()) });
  const text = await res.text();
  if (!res.ok) throw new Error(`S3 ${method} ${url.pathname}: HTTP ${res.status} ${/<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? ""}`.trim());
  return text;
}

/** Deletes every object under the Repository's bucket/prefix; returns how many. */
export async function wipeS3(repo: Repository, secretData: Record<string, string>): Promise<number> {
  const spec = repo.spec.backend.s3!;
  const where = `Repository ${repo.metadata.namespace}/${repo.metadata.name}`;
  if (!secretData.AWS_ACCESS_KEY_ID || !secretData.AWS_SECRET_ACCESS_KEY)
    throw new Error(`${where}: wipeOut needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the storage Secret`);
  const creds = { accessKey: secretData.AWS_ACCESS_KEY_ID, secretKey: secretData.AWS_SECRET_ACCESS_KEY, region: spec.region || "us-east-1" };
  const endpoint = /^https?:\/\//.test(spec.endpoint) ? spec.endpoint : `https://${spec.endpoint}`;
  const base = new URL(`${endpoint.replace(/\/$/, "")}/${spec.bucket}`);
  const prefix = spec.prefix ? `${spec.prefix.replace(/^\/|\/$/g, "")}/` : "";
  let deleted = 0;
  for (let token: string | undefined; ;) {
    const list = new URL(base);
    list.searchParams.set("list-type", "2");
    if (prefix) list.searchParams.set("prefix", prefix);
    if (token) list.searchParams.set("continuation-token", token);
    const xml = await s3("GET", list, creds);
    const keys = [...xml.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) =>
      m[1]
        .replace(/&amp;/g, "&")
        .replace(/&lt;/g, "<")
        .replace(/&gt;/g, ">")
        .replace(/&quot;/g, '"')
        .replace(/&apos;/g, "'"),
    );
    for (const key of keys) {
      await s3("DELETE", new URL(`${base.toString()}/${encodeKey(key)}`), creds);
      deleted++;
    }
    token = /<IsTruncated>true<\/IsTruncated>/.test(xml) ? /<NextContinuationToken>([^<]+)<\/NextContinuationToken>/.exec(xml)?.[1] : undefined;
    if (!token) return deleted;
  }
}

/** ctx.wipeOut for the operator: reads the storage Secret and deletes the backend data. */
export function wipeOutWith(kube: Kube): (repo: Repository) => Promise<void> {
  return async (repo) => {
    const backend: Repository["spec"]["backend"] = repo.spec?.backend ?? {};
    const where = `Repository ${repo.metadata.namespace}/${repo.metadata.name}`;
    if (!backend.s3)
      throw new Error(
        `${where}, field spec.wipeOut: deleting backend data is supported for s3 only (this Repository uses ${Object.keys(backend)
          .filter((k) => k !== "storageSecretName")
          .join(",")})`,
      );
    const secret = await kube.getOrNull<V1Secret>("v1", "Secret", backend.storageSecretName!, repo.metadata.namespace!);
    if (!secret)
      throw new Error(`${where}: storage Secret ${repo.metadata.namespace}/${backend.storageSecretName} not found; cannot wipe out the backend data`);
    await wipeS3(repo, secretDataOf(secret));
  };
}
