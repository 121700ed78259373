// A real PostgreSQL server for tests: initdb + pg_ctl in a temp dir, listening on a free
// 127.0.0.1 port with password (scram) authentication, stopped by stop() or at process exit.
// PostgreSQL refuses to run as root, so as root the server runs as the `postgres` (or `nobody`)
// user, which owns the temp dir.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { basename, join } from "node:path";

export interface Postgres {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Runs SQL with psql (-X -A -t, ON_ERROR_STOP) and returns its trimmed stdout. */
  psql(sql: string, database?: string): Promise<string>;
  stop(): Promise<void>;
}

/** Where the PostgreSQL binaries are: $RESTASH_TOOLS_DIR, ~/.cache/restash/tools, or PATH. */
export function pgBin(name: string): string {
  for (const dir of [process.env.RESTASH_TOOLS_DIR, join(homedir(), ".cache/restash/tools")]) {
    if (!dir || !existsSync(join(dir, name))) continue;
    // The real path, since the tools dir may sit under a home the server's user cannot enter;
    // but not for Debian's pg_wrapper, which needs to be called by the program's name.
    const real = realpathSync(join(dir, name));
    return basename(real) === name ? real : join(dir, name);
  }
  return name;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function runAsIds(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  for (const user of ["postgres", "nobody"]) {
    const r = spawnSync("id", ["-u", user], { encoding: "utf8" });
    const g = spawnSync("id", ["-g", user], { encoding: "utf8" });
    if (r.status === 0 && g.status === 0) return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
  }
  throw new Error("running as root and neither a postgres nor a nobody user exists: PostgreSQL refuses to run as root");
}

/** Starts a fresh server (about a second). */
export async function startPostgres(): Promise<Postgres> {
  const dir = mkdtempSync(join(tmpdir(), "restash-pg-"));
  const ids = runAsIds();
  const own = (p: string) => {
    if (ids.uid !== undefined) chownSync(p, ids.uid, ids.gid!);
  };
  own(dir);
  const password = randomBytes(12).toString("hex");
  const pwfile = join(dir, "pwfile");
  writeFileSync(pwfile, password + "\n", { mode: 0o600 });
  own(pwfile);
  const data = join(dir, "data");
  const opts = { ...ids, stdio: "pipe" as const, env: { PATH: process.env.PATH ?? "", LC_ALL: "C" } };
  execFileSync(
    pgBin("initdb"),
    ["-D", data, "-U", "postgres", `--pwfile=${pwfile}`, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"],
    opts,
  );
  rmSync(pwfile);
  const port = await freePort();
  const log = join(dir, "server.log");
  const serverOpts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  execFileSync(pgBin("pg_ctl"), ["-D", data, "-o", serverOpts, "-l", log, "-w", "-t", "60", "start"], opts);

  let stopped = false;
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    spawnSync(pgBin("pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"], opts);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", stopSync);

  const pg: Postgres = {
    host: "127.0.0.1",
    port,
    user: "postgres",
    password,
    psql(sql, database = "postgres") {
      return new Promise((resolve, reject) => {
        const child = spawn(
          pgBin("psql"),
          ["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", database],
          {
            env: { PATH: process.env.PATH ?? "", PGPASSWORD: password },
            stdio: ["pipe", "pipe", "pipe"],
          },
        );
        let out = "";
        let err = "";
        child.stdout.on("data", (c) => (out += c));
        child.stderr.on("data", (c) => (err += c));
        child.on("error", reject);
        child.on("close", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`psql exited ${code}: ${err.trim()}`))));
        child.stdin.end(sql);
      });
    },
    async stop() {
      process.removeListener("exit", stopSync);
      stopSync();
    },
  };
  return pg;
}
