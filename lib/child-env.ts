// The environment a child process (restic, psql, pg_dump, a pipe command) starts from: only PATH,
// to find the binary, and HOME, for its config and cache, never the parent's whole environment
// (credentials reach a child only through the variables its caller adds). A program's entrypoint
// configures it once from the environment it parsed; until then (tests, library use) it is read
// from process.env when asked, never at import.

export type BaseEnv = Readonly<Record<string, string | undefined>>;

let configured: BaseEnv | undefined;

/** PATH and HOME of `env`: the base a child process of a program with that environment gets. */
export function pickBaseEnv(env: Readonly<Record<string, string | undefined>>): BaseEnv {
  return { PATH: env.PATH, HOME: env.HOME };
}

/** Called once by a program's entrypoint with the environment it parsed; `undefined` goes back to process.env. */
export function configureBaseEnv(env: Readonly<Record<string, string | undefined>> | undefined): void {
  configured = env ? pickBaseEnv(env) : undefined;
}

/** The configured base environment (PATH and HOME of the process when none was configured). */
export function baseEnv(): BaseEnv {
  return configured ?? pickBaseEnv(process.env);
}

/** An env for spawn: the parts laid over each other in order, unset (undefined) values left out. */
export function childEnv(...parts: (Readonly<Record<string, string | undefined>> | undefined)[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const part of parts) for (const [k, v] of Object.entries(part ?? {})) if (v !== undefined) env[k] = v;
  return env;
}
