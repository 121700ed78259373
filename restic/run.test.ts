import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFile } from "node:fs/promises";
import { createLogger } from "../lib/logger.ts";
import { classifyFailure, redactText } from "./run.ts";
import { ensureRepository } from "./init.ts";
import { backup } from "./backup.ts";
import { snapshots } from "./snapshots.ts";
import { BackendUnreachableError, RepositoryLockedError, RepositoryNotFoundError, ResticFailedError, WrongPasswordError } from "./errors.ts";
import { contextFor, localRepoContext, restRepoContext, s3RepoContext, tempDir } from "../testing/restic-context.ts";
import { freePort } from "../local/control-plane.ts";

test("restic failures map to typed errors by exit code and message", () => {
  assert.ok(classifyFailure("r", "snapshots", 12, "Fatal: wrong password or no key found") instanceof WrongPasswordError);
  assert.ok(
    classifyFailure("r", "cat", 10, "Fatal: repository does not exist: unable to open config file: stat /x/config: no such file or directory") instanceof
      RepositoryNotFoundError,
  );
  const locked = classifyFailure(
    "r",
    "forget",
    11,
    '{"message_type":"exit_error","code":11,"message":"unable to create lock in backend: repository is already locked by PID 7 on vm by root"}',
  );
  assert.ok(locked instanceof RepositoryLockedError);
  assert.equal(locked.kind, "Waiting");
  assert.match(locked.message, /already locked by PID 7 on vm/);
  assert.ok(
    classifyFailure("r", "init", 1, "Fatal: create repository failed: dial tcp 127.0.0.1:9: connect: connection refused") instanceof BackendUnreachableError,
  );
  const other = classifyFailure("r", "backup", 1, "Fatal: something odd");
  assert.ok(other instanceof ResticFailedError);
  assert.equal(other.message, "restic backup failed (exit 1): Fatal: something odd");
});

test("redaction removes secret values and URL credentials", () => {
  assert.equal(
    redactText("open rest:http://user:hunter22@host:1/x failed, password hunter22", ["hunter22"]),
    "open rest:http://<redacted>@host:1/x failed, password <redacted>",
  );
  assert.equal(redactText("s3:https://u:p@h/b", []), "s3:https://<redacted>@h/b");
});

test("a wrong password fails with WrongPasswordError and the password appears in no message or log", async () => {
  const t = await localRepoContext("wrong-pw");
  await ensureRepository(t.ctx);
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", write: (l) => lines.push(l) });
  const badSecret = { RESTIC_PASSWORD: "definitely-wrong-password" };
  const bad = { ...(await contextFor(t.repo, badSecret, t.work)), logger };
  await assert.rejects(snapshots(bad), (e: unknown) => {
    assert.ok(e instanceof WrongPasswordError, String(e));
    assert.equal(e.kind, "Stalled");
    assert.equal(e.exitCode, 12);
    assert.doesNotMatch(e.message, /definitely-wrong-password/);
    return true;
  });
  // ensureRepository must not "fix" a wrong password by initialising a second repository.
  await assert.rejects(ensureRepository(bad), WrongPasswordError);
  assert.ok(lines.length > 0);
  assert.ok(lines.every((l) => !l.includes("definitely-wrong-password") && !l.includes(t.secret.RESTIC_PASSWORD)));
});

test("REST credentials are injected into the URL and never logged; a wrong REST password is an unreachable backend", async () => {
  const t = await restRepoContext("rest-auth");
  const lines: string[] = [];
  const ctx = { ...t.ctx, logger: createLogger({ level: "debug", write: (l) => lines.push(l) }) };
  await ensureRepository(ctx);
  const src = join(t.work, "f.txt");
  await writeFile(src, "hello\n");
  await backup(ctx, { path: src });
  assert.ok(
    lines.some((l) => l.includes("<redacted>@127.0.0.1")),
    lines.join("\n"),
  );
  assert.ok(lines.every((l) => !l.includes(t.secret.REST_SERVER_PASSWORD) && !l.includes(t.secret.RESTIC_PASSWORD)));
  const wrong = await contextFor(t.repo, { ...t.secret, REST_SERVER_PASSWORD: "not-the-rest-password" }, tempDir("rest-auth2"));
  await assert.rejects(snapshots(wrong), (e: unknown) => {
    assert.ok(e instanceof BackendUnreachableError, String(e));
    assert.doesNotMatch(e.message, /not-the-rest-password/);
    return true;
  });
});

test("an unreachable REST server or S3 endpoint fails fast with BackendUnreachableError", async () => {
  const port = await freePort();
  const work = tempDir("unreachable");
  const rest = await contextFor(
    { metadata: { name: "gone", namespace: "ns" }, spec: { backend: { rest: { url: `http://127.0.0.1:${port}/repo` } } } },
    { RESTIC_PASSWORD: "x-password" },
    work,
  );
  const started = Date.now();
  await assert.rejects(ensureRepository(rest), (e: unknown) => {
    assert.ok(e instanceof BackendUnreachableError, String(e));
    assert.match(e.message, /connection refused/);
    return true;
  });
  const s3 = await contextFor(
    { metadata: { name: "gone-s3", namespace: "ns" }, spec: { backend: { s3: { endpoint: `http://127.0.0.1:${port}`, bucket: "nowhere" } } } },
    { RESTIC_PASSWORD: "x-password", AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "s3-secret-value" },
    work,
  );
  await assert.rejects(snapshots(s3), (e: unknown) => e instanceof BackendUnreachableError && !e.message.includes("s3-secret-value"));
  assert.ok(Date.now() - started < 120_000);
});

test("a missing S3 bucket is a repository not found, and init creates it", async () => {
  const t = await s3RepoContext("s3-nobucket");
  const s3 = t.repo.spec!.backend!.s3!;
  const repo = { ...t.repo, spec: { backend: { ...t.repo.spec!.backend!, s3: { ...s3, bucket: `${s3.bucket}-new` } } } };
  const ctx = await contextFor(repo, t.secret, t.work);
  await assert.rejects(snapshots(ctx), RepositoryNotFoundError);
  assert.deepEqual(await ensureRepository(ctx), { created: true });
  assert.deepEqual(await snapshots(ctx), []);
});

test("a REST server over TLS is trusted through CA_CERT_DATA and refused without it", async () => {
  const { createCA, issueCertificate } = await import("../lib/pki.ts");
  const { startRestServer } = await import("../testing/services.ts");
  const ca = await createCA("restash-test-ca");
  const cert = await issueCertificate(ca, { commonName: "127.0.0.1", ipAddresses: ["127.0.0.1"], usage: "server" });
  const server = await startRestServer({ tls: { ...cert, caPem: ca.certPem } });
  try {
    const work = tempDir("rest-tls");
    const repo = { metadata: { name: "tls", namespace: "ns" }, spec: { backend: { rest: { url: server.repoUrl("tls-repo") } } } };
    const secret = { RESTIC_PASSWORD: "tls-password", REST_SERVER_USERNAME: server.username!, REST_SERVER_PASSWORD: server.password! };
    const trusted = await contextFor(repo, { ...secret, CA_CERT_DATA: ca.certPem }, work);
    assert.ok(trusted.backend.args.includes("--cacert"));
    assert.deepEqual(await ensureRepository(trusted), { created: true });
    const untrusted = await contextFor(repo, secret, tempDir("rest-tls2"));
    await assert.rejects(snapshots(untrusted), (e: unknown) => e instanceof BackendUnreachableError && /certificate|x509/.test(e.message));
  } finally {
    await server.stop();
  }
});
