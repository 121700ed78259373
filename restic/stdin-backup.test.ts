import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { readFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import { writeSeededFile } from "../fixtures/data/generate.ts";
import { backupStdin } from "./stdin-backup.ts";
import { dump } from "./dump.ts";
import { ensureRepository } from "./init.ts";
import { snapshots } from "./snapshots.ts";
import { NothingToBackUpError, PipeCommandError, SnapshotNotFoundError } from "./errors.ts";
import { restore } from "./restore.ts";
import { s3RepoContext, localRepoContext } from "../testing/restic-context.ts";

const sha = async (p: string) =>
  createHash("sha256")
    .update(await readFile(p))
    .digest("hex");

test("a command's stdout is backed up with --stdin and dumped back into another command byte for byte", async () => {
  const t = await s3RepoContext("stdin");
  await ensureRepository(t.ctx);
  const src = join(t.work, "dump.sql");
  await writeSeededFile(src, 3 * 1024 * 1024 + 17, "stdin");
  const res = await backupStdin(t.ctx, { command: ["cat", src], commandEnv: { PATH: process.env.PATH }, filename: "dumpfile.sql", host: "pg-0" });
  assert.equal(res.snapshot.path, "/dumpfile.sql");
  assert.equal(res.totalBytes, 3 * 1024 * 1024 + 17);
  const out = join(t.work, "back.sql");
  await dump(t.ctx, {
    snapshot: "latest",
    file: "/dumpfile.sql",
    host: "pg-0",
    command: ["sh", "-c", `cat > '${out}'`],
    commandEnv: { PATH: process.env.PATH },
  });
  assert.equal(await sha(out), await sha(src));
});

test("the dump command gets only the environment it is given, never restic's secrets", async () => {
  const t = await localRepoContext("stdin-env");
  await ensureRepository(t.ctx);
  await backupStdin(t.ctx, { command: ["sh", "-c", "env"], commandEnv: { PATH: process.env.PATH, PGPASSWORD: "db-pass" }, filename: "env.txt" });
  const out = join(t.work, "env.txt");
  await dump(t.ctx, { snapshot: "latest", file: "/env.txt", command: ["sh", "-c", `cat > '${out}'`], commandEnv: { PATH: process.env.PATH } });
  const text = await readFile(out, "utf8");
  assert.match(text, /PGPASSWORD=db-pass/);
  assert.doesNotMatch(text, /RESTIC_PASSWORD|RESTIC_REPOSITORY/);
  assert.ok(!text.includes(t.secret.RESTIC_PASSWORD));
});

test("a failing dump command fails the backup and leaves no snapshot behind", async () => {
  const t = await localRepoContext("stdin-fail");
  await ensureRepository(t.ctx);
  await assert.rejects(
    backupStdin(t.ctx, { command: ["sh", "-c", "echo partial; echo 'connection to db failed' >&2; exit 3"], filename: "db.sql" }),
    (e: unknown) => e instanceof PipeCommandError && /sh exited with code 3: connection to db failed/.test(e.message),
  );
  await assert.rejects(backupStdin(t.ctx, { command: ["true"], filename: "db.sql" }), NothingToBackUpError);
  assert.deepEqual(await snapshots(t.ctx), []);
});

test("restoring a snapshot that does not exist is SnapshotNotFoundError", async () => {
  const t = await localRepoContext("no-snap");
  await ensureRepository(t.ctx);
  await assert.rejects(restore(t.ctx, { snapshot: "latest", target: join(t.work, "r") }), SnapshotNotFoundError);
  await assert.rejects(restore(t.ctx, { snapshot: "deadbeef", target: join(t.work, "r") }), SnapshotNotFoundError);
});

test("a dump into a command that fails reports the command's failure; a wrong password is reported as such", async () => {
  const t = await localRepoContext("dump-fail");
  await ensureRepository(t.ctx);
  await backupStdin(t.ctx, { command: ["sh", "-c", "head -c 2000000 /dev/zero"], filename: "zeros.bin" });
  await assert.rejects(
    dump(t.ctx, { snapshot: "latest", file: "/zeros.bin", command: ["sh", "-c", "head -c 10 >/dev/null; echo 'psql: syntax error' >&2; exit 2"] }),
    (e: unknown) => e instanceof PipeCommandError && /exited with code 2: psql: syntax error/.test(e.message),
  );
  const { contextFor } = await import("../testing/restic-context.ts");
  const { WrongPasswordError } = await import("./errors.ts");
  const bad = await contextFor(t.repo, { RESTIC_PASSWORD: "not-it" }, t.work);
  await assert.rejects(dump(bad, { snapshot: "latest", file: "/zeros.bin", command: ["sh", "-c", "cat >/dev/null"] }), WrongPasswordError);
  await assert.rejects(backupStdin(bad, { command: ["sh", "-c", "head -c 50000000 /dev/zero"], filename: "z.bin" }), WrongPasswordError);
});
