// The PostgreSQL steps' way in: the AppBinding named by --appbinding and its Secret, read through
// the API, turned into libpq flags and environment (the password only ever in PGPASSWORD), and a
// wait until the server answers (--wait-timeout seconds).
import { spawn } from "node:child_process";
import type { V1Secret } from "@kubernetes/client-node";
import type { AppBinding } from "../../schema/types.generated.ts";
import { APPBINDING_API_VERSION, appBindingConnection, appBindingSecretRef, type DbConnection } from "../../stash/tasks/app-binding.ts";
import { intArg, type StepArgs } from "./step-args.ts";
import { namespaceOf, type StepDeps } from "./step-context.ts";
import { TaskError } from "../../stash/tasks/task-errors.ts";
import { baseEnv, childEnv } from "../../lib/child-env.ts";

export async function postgresConnection(args: StepArgs, deps: StepDeps, secrets: string[]): Promise<DbConnection> {
  const name = args.appbinding;
  const ns = args["appbinding-namespace"] || namespaceOf(args);
  if (!name) throw new TaskError("AppBindingNotFound", "flag --appbinding is empty: the target names no AppBinding (spec.target.ref)");
  const ab = await deps.kube.getOrNull<AppBinding>(APPBINDING_API_VERSION, "AppBinding", name, ns);
  if (!ab) throw new TaskError("AppBindingNotFound", `AppBinding ${ns}/${name} not found`, { object: { kind: "AppBinding", namespace: ns, name } });
  const s = appBindingSecretRef(ab);
  const secret = await deps.kube.getOrNull<V1Secret>("v1", "Secret", s.name, s.namespace);
  const conn = appBindingConnection(ab, secret);
  secrets.push(conn.password);
  deps.log.addSecrets([conn.password]);
  return conn;
}

/** libpq connection flags (never the password). */
export function libpqArgs(conn: DbConnection): string[] {
  return ["-h", conn.host, "-p", String(conn.port), "-U", conn.user];
}

/** libpq environment: PGPASSWORD and, when the AppBinding says so, PGSSLMODE. */
export function libpqEnv(conn: DbConnection): Record<string, string> {
  const env: Record<string, string> = { PGPASSWORD: conn.password, PGCONNECT_TIMEOUT: "10" };
  if (conn.sslmode) env.PGSSLMODE = conn.sslmode;
  return env;
}

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs a libpq client to completion; stdin is fed from `input` when given. */
export function runClient(
  bin: string,
  argv: string[],
  env: Record<string, string>,
  base: Record<string, string | undefined> | undefined,
  input?: string,
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const fullEnv = childEnv(base ?? baseEnv());
    Object.assign(fullEnv, env);
    const child = spawn(bin, argv, { env: fullEnv, stdio: [input === undefined ? "ignore" : "pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (c: string) => (stderr = (stderr + c).slice(-32 * 1024)));
    child.on("error", (e) => reject(new Error(`cannot start ${bin}: ${e.message}`)));
    child.on("close", (code, signal) => resolve({ code, signal, stderr }));
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** Polls `SELECT 1` once a second until the server answers or --wait-timeout seconds pass. */
export async function waitForPostgres(conn: DbConnection, args: StepArgs, deps: StepDeps): Promise<void> {
  const timeoutMs = (intArg(args, "wait-timeout") || 0) * 1000;
  const now = deps.now ?? Date.now;
  const deadline = now() + timeoutMs;
  for (;;) {
    const r = await runClient("psql", [...libpqArgs(conn), "-X", "-d", conn.database || "postgres", "-c", "SELECT 1"], libpqEnv(conn), deps.baseEnv);
    if (r.code === 0) return;
    if (now() >= deadline)
      throw new Error(`PostgreSQL at ${conn.host}:${conn.port} is not ready: ${r.stderr.trim().split("\n").at(-1) ?? `psql exited ${r.code}`}`);
    await new Promise((res) => setTimeout(res, 1000));
  }
}
