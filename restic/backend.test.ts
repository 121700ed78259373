import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { resticBackend, writeBackendFiles, type BackendSpec, type RepositoryLike } from "./backend.ts";
import { secretDataOf } from "../lib/kube/secret-data.ts";
import { InvalidBackendError } from "./errors.ts";
import { tempDir } from "../testing/restic-context.ts";

const repo = (backend: BackendSpec): RepositoryLike => ({
  metadata: { name: "my-repo", namespace: "demo" },
  spec: { backend: { storageSecretName: "my-secret", ...backend } },
});
const base = { RESTIC_PASSWORD: "pw-123456", RESTIC_PROGRESS_FPS: "0.016666", TMPDIR: "/stash-tmp/restic-tmp" };
const cache = ["--cache-dir", "/stash-tmp/restic-cache"];
const dirs = ["/stash-tmp/restic-tmp", "/stash-tmp/restic-cache"];

test("local: the repository is the mount path, prefix empty", () => {
  assert.deepEqual(resticBackend(repo({ local: { mountPath: "/safe/data", subPath: "x", hostPath: { path: "/data" } } }), { RESTIC_PASSWORD: "pw-123456" }), {
    provider: "local",
    repository: "/safe/data",
    redactedRepository: "/safe/data",
    env: { ...base, RESTIC_REPOSITORY: "/safe/data" },
    args: cache,
    files: [],
    dirs: [...dirs, "/safe/data"],
    bucket: "/safe/data",
    prefix: "",
    secrets: ["pw-123456"],
  });
  const mapped = resticBackend(repo({ local: { mountPath: "/safe/data" } }), { RESTIC_PASSWORD: "pw-123456" }, { localPath: (l) => `/host${l.mountPath}` });
  assert.equal(mapped.env.RESTIC_REPOSITORY, "/host/safe/data");
});

test("s3: endpoint/bucket/prefix joined, AWS keys only when present, region, CA file and insecure TLS", () => {
  const secret = {
    RESTIC_PASSWORD: "pw-123456",
    AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
    AWS_SECRET_ACCESS_KEY: "s3cr3t-key",
    CA_CERT_DATA: "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n",
  };
  assert.deepEqual(
    resticBackend(
      repo({ s3: { endpoint: "https://minio.storage.svc:443/", bucket: "stash-backup", prefix: "/demo/deployment", region: "us-west-1", insecureTLS: true } }),
      secret,
      { scratchDir: "/stash-tmp" },
    ),
    {
      provider: "s3",
      repository: "s3:https://minio.storage.svc:443/stash-backup/demo/deployment",
      redactedRepository: "s3:https://minio.storage.svc:443/stash-backup/demo/deployment",
      env: {
        AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
        AWS_DEFAULT_REGION: "us-west-1",
        AWS_SECRET_ACCESS_KEY: "s3cr3t-key",
        RESTIC_PASSWORD: "pw-123456",
        RESTIC_PROGRESS_FPS: "0.016666",
        RESTIC_REPOSITORY: "s3:https://minio.storage.svc:443/stash-backup/demo/deployment",
        TMPDIR: "/stash-tmp/restic-tmp",
      },
      args: [...cache, "--insecure-tls", "--cacert", "/stash-tmp/restic-tmp/ca.crt"],
      files: [{ path: "/stash-tmp/restic-tmp/ca.crt", content: secret.CA_CERT_DATA, mode: 0o600 }],
      dirs,
      bucket: "stash-backup",
      prefix: "/demo/deployment",
      secrets: ["s3cr3t-key", "pw-123456"],
    },
  );
  // IRSA / kube2iam: no keys in the Secret, none exported.
  const irsa = resticBackend(repo({ s3: { endpoint: "s3.amazonaws.com", bucket: "b" } }), { RESTIC_PASSWORD: "pw-123456" });
  assert.deepEqual(irsa.env, { ...base, RESTIC_REPOSITORY: "s3:s3.amazonaws.com/b" });
  assert.deepEqual(irsa.args, cache);
});

test("gcs: gs:<bucket>:/<prefix>, service account key written to a file, maxConnections option", () => {
  const secret = { RESTIC_PASSWORD: "pw-123456", GOOGLE_PROJECT_ID: "my-project", GOOGLE_SERVICE_ACCOUNT_JSON_KEY: '{"type":"service_account"}' };
  assert.deepEqual(resticBackend(repo({ gcs: { bucket: "stash-backup", prefix: "/demo/deployment", maxConnections: 8 } }), secret), {
    provider: "gcs",
    repository: "gs:stash-backup:/demo/deployment",
    redactedRepository: "gs:stash-backup:/demo/deployment",
    env: {
      GOOGLE_APPLICATION_CREDENTIALS: "/stash-tmp/restic-tmp/GOOGLE_SERVICE_ACCOUNT_JSON_KEY",
      GOOGLE_PROJECT_ID: "my-project",
      ...base,
      RESTIC_REPOSITORY: "gs:stash-backup:/demo/deployment",
    },
    args: [...cache, "--option", "gs.connections=8"],
    files: [{ path: "/stash-tmp/restic-tmp/GOOGLE_SERVICE_ACCOUNT_JSON_KEY", content: '{"type":"service_account"}', mode: 0o600 }],
    dirs,
    bucket: "stash-backup",
    prefix: "/demo/deployment",
    secrets: ['{"type":"service_account"}', "%7B%22type%22%3A%22service_account%22%7D", "pw-123456"].sort((a, b) => b.length - a.length),
  });
});

test("azure, swift and b2 map to <scheme>:<container>:/<prefix> with their keys", () => {
  const az = resticBackend(
    repo({ azure: { container: "stashbackup", prefix: "demo", maxConnections: 3 } }),
    { RESTIC_PASSWORD: "pw-123456", AZURE_ACCOUNT_NAME: "acct", AZURE_ACCOUNT_KEY: "az-key-value" },
    { enableCache: false },
  );
  assert.deepEqual(
    [az.repository, az.env.AZURE_ACCOUNT_NAME, az.env.AZURE_ACCOUNT_KEY, az.args],
    ["azure:stashbackup:/demo", "acct", "az-key-value", ["--no-cache", "--option", "azure.connections=3"]],
  );
  assert.deepEqual(az.dirs, ["/stash-tmp/restic-tmp"]);

  const swiftSecret = {
    RESTIC_PASSWORD: "pw-123456",
    OS_AUTH_URL: "https://auth.example/v3",
    OS_USERNAME: "admin",
    OS_PASSWORD: "os-pass-word",
    OS_PROJECT_NAME: "p",
    OS_USER_DOMAIN_NAME: "d",
    OS_PROJECT_DOMAIN_NAME: "d",
    OS_REGION_NAME: "r1",
    UNRELATED: "not exported",
  };
  const sw = resticBackend(repo({ swift: { container: "stash-backup", prefix: "/demo" } }), swiftSecret);
  assert.deepEqual(sw.env, {
    OS_AUTH_URL: "https://auth.example/v3",
    OS_PASSWORD: "os-pass-word",
    OS_PROJECT_DOMAIN_NAME: "d",
    OS_PROJECT_NAME: "p",
    OS_REGION_NAME: "r1",
    OS_USERNAME: "admin",
    OS_USER_DOMAIN_NAME: "d",
    ...base,
    RESTIC_REPOSITORY: "swift:stash-backup:/demo",
  });

  const b2 = resticBackend(repo({ b2: { bucket: "stash-backup", prefix: "/demo", maxConnections: 2 } }), {
    RESTIC_PASSWORD: "pw-123456",
    B2_ACCOUNT_ID: "id-1",
    B2_ACCOUNT_KEY: "b2-key-value",
  });
  assert.deepEqual(
    [b2.repository, b2.env.B2_ACCOUNT_ID, b2.env.B2_ACCOUNT_KEY, b2.args],
    ["b2:stash-backup:/demo", "id-1", "b2-key-value", [...cache, "--option", "b2.connections=2"]],
  );
  assert.throws(() => resticBackend(repo({ b2: { bucket: "x" } }), { RESTIC_PASSWORD: "pw-123456", B2_ACCOUNT_ID: "id" }), {
    message: "Repository demo/my-repo, field Secret my-secret key B2_ACCOUNT_KEY: is required but missing or empty",
  });
});

test("rest: credentials are injected into the URL, redacted for display, and the CA goes to --cacert", () => {
  const secret = { RESTIC_PASSWORD: "pw-123456", REST_SERVER_USERNAME: "stash", REST_SERVER_PASSWORD: "p@ss/word", CA_CERT_DATA: "CA" };
  const b = resticBackend(repo({ rest: { url: "https://rest.example:8000/stash-backup/demo" } }), secret);
  assert.deepEqual(b, {
    provider: "rest",
    repository: "rest:https://stash:p%40ss%2Fword@rest.example:8000/stash-backup/demo",
    redactedRepository: "rest:https://<redacted>@rest.example:8000/stash-backup/demo",
    env: { ...base, RESTIC_REPOSITORY: "rest:https://stash:p%40ss%2Fword@rest.example:8000/stash-backup/demo" },
    args: [...cache, "--cacert", "/stash-tmp/restic-tmp/ca.crt"],
    files: [{ path: "/stash-tmp/restic-tmp/ca.crt", content: "CA", mode: 0o600 }],
    dirs,
    bucket: "rest.example:8000",
    prefix: "/stash-backup/demo",
    secrets: ["https://stash:p%40ss%2Fword@rest.example:8000/stash-backup/demo", "p%40ss%2Fword", "pw-123456", "p@ss/word"],
  });
  const userOnly = resticBackend(repo({ rest: { url: "http://rest:8000/r" } }), { RESTIC_PASSWORD: "pw-123456", REST_SERVER_USERNAME: "stash" });
  assert.equal(userOnly.repository, "rest:http://stash@rest:8000/r");
  const anon = resticBackend(repo({ rest: { url: "http://rest:8000/r" } }), { RESTIC_PASSWORD: "pw-123456" });
  assert.deepEqual([anon.repository, anon.redactedRepository], ["rest:http://rest:8000/r", "rest:http://rest:8000/r"]);
});

test("bad specs and secrets fail naming the Repository and the field, never a secret value", () => {
  const cases: [RepositoryLike, Record<string, string>, string][] = [
    [repo({ s3: { endpoint: "e", bucket: "b" } }), {}, "Repository demo/my-repo, field Secret my-secret key RESTIC_PASSWORD: is required but missing or empty"],
    [
      repo({}),
      { RESTIC_PASSWORD: "pw-123456" },
      "Repository demo/my-repo, field spec.backend: sets no provider (one of local, s3, gcs, azure, swift, b2, rest)",
    ],
    [
      repo({ s3: { endpoint: "e", bucket: "b" }, gcs: { bucket: "b" } }),
      { RESTIC_PASSWORD: "pw-123456" },
      "Repository demo/my-repo, field spec.backend: sets 2 providers (s3, gcs); exactly one is allowed",
    ],
    [
      repo({ s3: { endpoint: "", bucket: "b" } }),
      { RESTIC_PASSWORD: "pw-123456" },
      "Repository demo/my-repo, field spec.backend.s3.endpoint: is required but missing or empty",
    ],
    [
      repo({ gcs: { bucket: "b", maxConnections: -1 } }),
      { RESTIC_PASSWORD: "pw-123456" },
      "Repository demo/my-repo, field spec.backend.gcs.maxConnections: must be a positive integer, got -1",
    ],
    [repo({ rest: { url: "not a url" } }), { RESTIC_PASSWORD: "pw-123456" }, "Repository demo/my-repo, field spec.backend.rest.url: is not a valid URL"],
    [{ metadata: { name: "r", namespace: "n" } }, { RESTIC_PASSWORD: "pw-123456" }, "Repository n/r, field spec.backend: is missing"],
  ];
  for (const [r, s, message] of cases) {
    assert.throws(
      () => resticBackend(r, s),
      (e: unknown) => {
        assert.ok(e instanceof InvalidBackendError);
        assert.equal(e.kind, "Stalled");
        assert.equal(e.message, message);
        assert.ok(!e.message.includes("pw-123456"));
        return true;
      },
    );
  }
});

test("Secret data is decoded from base64 and stringData wins", () => {
  assert.deepEqual(
    secretDataOf({ data: { RESTIC_PASSWORD: Buffer.from("a-pass").toString("base64"), X: Buffer.from("x").toString("base64") }, stringData: { X: "y" } }),
    { RESTIC_PASSWORD: "a-pass", X: "y" },
  );
});

test("backend files are written with mode 0600 and the scratch directories created", async () => {
  const scratch = tempDir("backend");
  const b = resticBackend(repo({ s3: { endpoint: "http://e", bucket: "b" } }), { RESTIC_PASSWORD: "pw-123456", CA_CERT_DATA: "PEM" }, { scratchDir: scratch });
  await writeBackendFiles(b);
  const ca = join(scratch, "restic-tmp/ca.crt");
  assert.equal(readFileSync(ca, "utf8"), "PEM");
  assert.equal(statSync(ca).mode & 0o777, 0o600);
  assert.ok(statSync(join(scratch, "restic-cache")).isDirectory());
});
