import { test } from "node:test";
import assert from "node:assert/strict";
import { dumpCommand } from "./backup-postgres.ts";
import { fatalSqlErrors } from "./restore-postgres.ts";
import { libpqEnv } from "./postgres-connection.ts";

const conn = { host: "pg.demo.svc", port: 5432, user: "postgres", password: "pw-123456", database: "shop" };

test("the dump command is pg_dumpall by default, pg_dump of one database on request, and never carries the password", () => {
  assert.deepEqual(dumpCommand(undefined, conn, undefined, ""), ["pg_dumpall", "-h", "pg.demo.svc", "-p", "5432", "-U", "postgres"]);
  assert.deepEqual(dumpCommand("pg_dump", conn, "orders", "--clean --if-exists"), [
    "pg_dump",
    "-h",
    "pg.demo.svc",
    "-p",
    "5432",
    "-U",
    "postgres",
    "-d",
    "orders",
    "--clean",
    "--if-exists",
  ]);
  assert.deepEqual(dumpCommand("pg_dump", conn, undefined, ""), ["pg_dump", "-h", "pg.demo.svc", "-p", "5432", "-U", "postgres", "-d", "shop"]);
  assert.throws(() => dumpCommand("mysqldump", conn, undefined, ""), {
    message: 'flag --backup-cmd: must be pg_dumpall or pg_dump, got "mysqldump" (Task param backupCMD)',
  });
  assert.throws(() => dumpCommand("pg_dump", { ...conn, database: undefined }, undefined, ""), /needs a database/);
  assert.deepEqual(libpqEnv({ ...conn, sslmode: "disable" }), { PGPASSWORD: "pw-123456", PGCONNECT_TIMEOUT: "10", PGSSLMODE: "disable" });
});

test("replaying a dump fails on SQL errors, except the 'already exists' a live server answers to its own roles", () => {
  const stderr = [
    'psql:<stdin>:14: ERROR:  role "postgres" already exists',
    'psql:<stdin>:90: ERROR:  relation "items" does not exist',
    "NOTICE: something",
  ].join("\n");
  assert.deepEqual(fatalSqlErrors(stderr), ['psql:<stdin>:90: ERROR:  relation "items" does not exist']);
  assert.deepEqual(fatalSqlErrors('psql:<stdin>:14: ERROR:  role "postgres" already exists\n'), []);
});
