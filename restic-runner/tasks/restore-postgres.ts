// `restore-postgres`: the data step of the postgres-restore Task. `restic dump` of the dump file
// streams into psql against the database the AppBinding describes. psql goes on after an SQL
// error, so its stderr is read: errors other than "already exists" (which replaying a
// pg_dumpall into a live server always produces for its own roles) fail the restore.
import { spawn } from "node:child_process";
import { PipeCommandError } from "../../restic/errors.ts";
import { splitDriverArgs } from "./backup-pvc.ts";
import { libpqArgs, libpqEnv, postgresConnection, waitForPostgres } from "./postgres-connection.ts";
import { runRestic } from "../../restic/run.ts";
import { snapshots } from "../../restic/snapshots.ts";
import { SnapshotNotFoundError } from "../../restic/errors.ts";
import { listArg } from "./step-args.ts";
import { openRepository, runDataStep, type StepHandler } from "./step-context.ts";
import { applyStepOutput } from "./update-status.ts";
import { baseEnv, childEnv } from "../../lib/child-env.ts";

/** The SQL errors in psql's stderr that make a restore fail. */
export function fatalSqlErrors(stderr: string): string[] {
  return stderr
    .split("\n")
    .filter((l) => /\bERROR:/.test(l) && !/already exists/.test(l))
    .map((l) => l.trim());
}

export const restorePostgresStep: StepHandler = (argv, deps) =>
  runDataStep(
    "restore",
    "restore-postgres",
    argv,
    deps,
    async (args, secrets) => {
      const conn = await postgresConnection(args, deps, secrets);
      await waitForPostgres(conn, args, deps);
      const { restic } = await openRepository(args, deps, secrets);
      const id = listArg(args.snapshots)[0];
      const host = args["source-hostname"] || args.hostname || "host-0";
      const found = id ? await snapshots(restic, { ids: [id] }) : await snapshots(restic, { host, latest: 1 });
      const snap = found.sort((a, b) => (a.time < b.time ? -1 : 1)).at(-1);
      if (!snap) throw new SnapshotNotFoundError(id ? `id ${id}` : `host ${host}`);
      const file = snap.paths[0];
      const env = childEnv(deps.baseEnv ?? baseEnv());
      Object.assign(env, libpqEnv(conn));
      const psql = spawn("psql", [...libpqArgs(conn), "-X", "-q", "-d", args.database || conn.database || "postgres", ...splitDriverArgs(args["pg-args"])], {
        env,
        stdio: ["pipe", "ignore", "pipe"],
      });
      let stderr = "";
      psql.stderr.setEncoding("utf8");
      psql.stderr.on("data", (c: string) => (stderr = (stderr + c).slice(-256 * 1024)));
      psql.stdin.on("error", () => {}); // psql may exit early; its exit code says why
      const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
        psql.on("error", (e) => reject(new Error(`cannot start psql: ${e.message}`)));
        psql.on("close", (code, signal) => resolve([code, signal]));
      });
      // psql's stderr decides about SQL errors (see fatalSqlErrors), so it is started here rather than through restic/dump.ts.
      try {
        await runRestic(restic, ["dump", "--quiet", snap.id, file], { stdout: psql.stdin });
      } finally {
        psql.stdin.end();
      }
      const [code, signal] = await exited;
      if (code !== 0) throw new PipeCommandError("psql", code, signal, stderr.trim().split("\n").slice(-3).join("; "));
      const fatal = fatalSqlErrors(stderr);
      if (fatal.length)
        throw new Error(`psql reported ${fatal.length} SQL error(s) while restoring snapshot ${snap.id.slice(0, 8)}: ${fatal.slice(0, 3).join("; ")}`);
    },
    applyStepOutput,
  );
