// `backup-postgres`: the data step of the postgres-backup Task. restic runs pg_dumpall (default)
// or pg_dump against the database the AppBinding describes and stores its stdout as one file;
// a dump command that fails fails the backup (restic keeps no snapshot of it).
import { splitDriverArgs } from "./backup-pvc.ts";
import { initializeRepository, postBackupActions, snapshotNumbers } from "./post-backup.ts";
import { libpqEnv, postgresConnection, waitForPostgres } from "./postgres-connection.ts";
import { backupStdin } from "../../restic/stdin-backup.ts";
import { openRepository, runDataStep, type StepHandler } from "./step-context.ts";
import type { OutputCondition } from "./step-output.ts";
import { applyStepOutput } from "./update-status.ts";
import { baseEnv } from "../../lib/child-env.ts";

export const DUMP_FILE = "dumpfile.sql";

/** The dump command line (no password: it travels in PGPASSWORD). Throws naming the flag on a bad --backup-cmd. */
export function dumpCommand(
  backupCmd: string | undefined,
  conn: { host: string; port: number; user: string; database?: string },
  database: string | undefined,
  pgArgs: string | undefined,
): string[] {
  const cmd = backupCmd || "pg_dumpall";
  const base = ["-h", conn.host, "-p", String(conn.port), "-U", conn.user];
  if (cmd === "pg_dumpall") return ["pg_dumpall", ...base, ...splitDriverArgs(pgArgs)];
  if (cmd === "pg_dump") {
    const db = database || conn.database;
    if (!db) throw new Error("flag --backup-cmd=pg_dump needs a database: set the Task param `database` or the AppBinding's clientConfig path");
    return ["pg_dump", ...base, "-d", db, ...splitDriverArgs(pgArgs)];
  }
  throw new Error(`flag --backup-cmd: must be pg_dumpall or pg_dump, got ${JSON.stringify(cmd)} (Task param backupCMD)`);
}

export const backupPostgresStep: StepHandler = (argv, deps) =>
  runDataStep(
    "backup",
    "backup-postgres",
    argv,
    deps,
    async (args, secrets, result) => {
      const conn = await postgresConnection(args, deps, secrets);
      const command = dumpCommand(args["backup-cmd"], conn, args.database, args["pg-args"]);
      await waitForPostgres(conn, args, deps);
      const { restic } = await openRepository(args, deps, secrets);
      const conditions: OutputCondition[] = (result.conditions = []);
      await initializeRepository(restic, conditions, secrets);
      const host = args.hostname || "host-0";
      const base = baseEnv();
      const commandEnv = { PATH: deps.baseEnv?.PATH ?? base.PATH, HOME: deps.baseEnv?.HOME ?? base.HOME, ...libpqEnv(conn) };
      const r = await backupStdin(restic, { command, commandEnv, filename: DUMP_FILE, host });
      result.snapshots = [r.snapshot];
      result.numbers = [snapshotNumbers(r)];
      result.repository = await postBackupActions(restic, args, conditions, secrets);
    },
    applyStepOutput,
  );
