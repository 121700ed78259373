// The one way restic is started. Secrets travel only in the environment (never in argv, which
// any local user can read in /proc); everything restic prints is redacted before it reaches a
// log line or an error; failures become the typed errors of errors.ts by exit code first
// (restic >= 0.17: 10 no repository, 11 locked, 12 wrong password, 3 incomplete backup) and by
// message second.
//
// Public interface:
//   interface ResticContext { backend; bin?; baseEnv?; logger?; signal?; hostname? }
//   runRestic(ctx, args, opts?) -> Promise<RunResult>   (throws a ResticError unless exit code is allowed)
//   classifyFailure(repository, verb, exitCode, stderr, secrets) -> ResticError   (pure)
//   redactText(text, secrets) -> string                                          (pure)
import { spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { redact } from "../lib/errors.ts";
import type { Logger } from "../lib/logger.ts";
import type { ResticBackend } from "./backend.ts";
import { BackendUnreachableError, RepositoryLockedError, RepositoryNotFoundError, ResticFailedError, WrongPasswordError, type ResticError } from "./errors.ts";
import { baseEnv, childEnv } from "../lib/child-env.ts";

export interface ResticContext {
  /** From resticBackend(): URL, env, global flags, secrets to redact. Files must be written already (writeBackendFiles). */
  backend: ResticBackend;
  /** The restic binary; default "restic" found on PATH. */
  bin?: string;
  /** Environment restic starts from (PATH, HOME, ...); default PATH and HOME of this process. The backend's env is laid over it. */
  baseEnv?: Record<string, string | undefined>;
  logger?: Logger;
  /** Aborting sends SIGINT (restic removes its lock), then SIGKILL 10 s later. */
  signal?: AbortSignal;
  /**
   * restic retries a failing backend for up to 15 minutes. After this many "retrying" messages
   * the run is stopped and fails with BackendUnreachableError. Default 4 (about 8 s of backoff).
   */
  maxBackendRetries?: number;
}

export interface RunOptions {
  /** Data for restic's stdin (stdin backups). Default: none. */
  stdin?: Readable;
  /** Raw stdout goes here instead of being collected (dump). */
  stdout?: Writable;
  /** Called for every stdout line (JSON messages); the line is not kept unless `keepStdout`. */
  onLine?: (line: string) => void;
  keepStdout?: boolean;
  /** Exit codes that are not failures (backup allows 3 and reports it itself). Default [0]. */
  okExitCodes?: number[];
  /** Extra environment for this call only (e.g. RESTIC_PROGRESS_FPS). */
  env?: Record<string, string>;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  /** Redacted. */
  stderr: string;
  durationMs: number;
}

const STDERR_KEEP = 64 * 1024;

/** Every secret value and any user:password@ in a URL replaced by "<redacted>". */
export function redactText(text: string, secrets: Iterable<string>): string {
  return redact(text, secrets).replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s:@]+(:[^/\s@]*)?@/gi, "$1<redacted>@");
}

/** The last meaningful lines of restic's stderr (its "Fatal: ..." and exit_error messages first). */
function detailOf(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const messages: string[] = [];
  for (const l of lines) {
    if (l.startsWith("{")) {
      try {
        const m = JSON.parse(l) as { message_type?: string; message?: string; error?: { message?: string } };
        if (m.message_type === "exit_error" && m.message) messages.push(m.message.replace(/\n/g, "; "));
        else if (m.message_type === "error" && m.error?.message) messages.push(m.error.message);
        continue;
      } catch {
        /* not JSON: keep the line */
      }
    }
    messages.push(l);
  }
  const fatal = messages.filter((m) => /^Fatal:|unable to|error|failed|denied|refused/i.test(m));
  const pick = (fatal.length ? fatal : messages).slice(-3).join("; ");
  return pick.length > 600 ? pick.slice(0, 600) + "…" : pick || "(no output)";
}

const UNREACHABLE =
  /connection refused|no such host|dial tcp|i\/o timeout|network is unreachable|TLS handshake|x509:|certificate|tls: |Access Denied|AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|401 Unauthorized|403 Forbidden|unexpected HTTP response \((401|403)\)|connection reset|context deadline exceeded|server gave HTTP response to HTTPS client/i;

/** Maps a failed restic run to a typed error. Pure; `stderr` must already be redacted. */
export function classifyFailure(repository: string, verb: string, exitCode: number | null, stderr: string): ResticError {
  const detail = detailOf(stderr);
  const code = exitCode ?? undefined;
  if (exitCode === 12 || /wrong password or no key found/i.test(stderr)) return new WrongPasswordError(repository, code);
  if (exitCode === 11 || /repository is already locked|unable to create lock/i.test(stderr)) return new RepositoryLockedError(repository, detail, [], code);
  if (exitCode === 10 || /repository does not exist|Is there a repository at the following location|The specified bucket does not exist/i.test(stderr)) {
    if (UNREACHABLE.test(stderr) && !/The specified bucket does not exist|no such file or directory/i.test(stderr))
      return new BackendUnreachableError(repository, detail, code);
    return new RepositoryNotFoundError(repository, code);
  }
  if (UNREACHABLE.test(stderr)) return new BackendUnreachableError(repository, detail, code);
  return new ResticFailedError(verb, exitCode, detail);
}

/**
 * Runs `restic <args...>` with the backend's env and global flags. Resolves on an allowed exit
 * code; otherwise throws the classified ResticError (messages redacted).
 */
export async function runRestic(ctx: ResticContext, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const { backend } = ctx;
  const secrets = backend.secrets;
  const verb = args[0] ?? "";
  const argv = [...args, ...backend.args];
  // The caller's base, else the program's (lib/child-env.ts): PATH to find restic, HOME for its config.
  const env = childEnv(ctx.baseEnv ?? baseEnv());
  Object.assign(env, backend.env, opts.env ?? {});
  const log = ctx.logger?.child({ component: "restic", verb, repository: backend.redactedRepository });
  log?.addSecrets(secrets);
  log?.debug("restic start", { args: redactText(argv.join(" "), secrets) });

  const started = performance.now();
  const child = spawn(ctx.bin ?? "restic", argv, { env, stdio: [opts.stdin ? "pipe" : "ignore", "pipe", "pipe"] });
  const out = child.stdout!;
  const errStream = child.stderr!;
  let stdout = "";
  let stderr = "";
  let partial = "";
  const keep = opts.keepStdout ?? (!opts.onLine && !opts.stdout);

  if (opts.stdout) {
    const dest = opts.stdout;
    out.pipe(dest, { end: false });
    // The reader went away (a restore command that exited early): discard the rest, or restic
    // would block on a full pipe forever. The reader's own exit status reports the failure.
    const discard = () => {
      out.unpipe(dest);
      out.resume();
    };
    dest.once("error", discard);
    dest.once("close", discard);
  } else {
    out.setEncoding("utf8");
    out.on("data", (chunk: string) => {
      if (keep) stdout += chunk;
      if (opts.onLine) {
        const parts = (partial + chunk).split("\n");
        partial = parts.pop() ?? "";
        for (const p of parts) if (p) opts.onLine(p);
      }
    });
  }
  let killTimer: NodeJS.Timeout | undefined;
  let retries = 0;
  let missingBucket = false;
  let gaveUp: string | undefined;
  const maxRetries = ctx.maxBackendRetries ?? 4;
  errStream.setEncoding("utf8");
  errStream.on("data", (chunk: string) => {
    stderr += chunk;
    if (stderr.length > STDERR_KEEP * 2) stderr = stderr.slice(-STDERR_KEEP);
    for (const line of chunk.split("\n")) {
      if (!/returned error, retrying after/.test(line)) continue;
      retries++;
      // A missing bucket never appears by itself: stop at once, the caller may `init` (which creates it).
      if (/bucket does not exist|NoSuchBucket/i.test(line)) missingBucket = true;
      if ((retries > maxRetries || missingBucket) && gaveUp === undefined) {
        gaveUp = line.replace(/, retrying after [^:]*:/, ":").trim();
        child.kill("SIGINT");
        killTimer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      }
    }
  });
  if (opts.stdin && child.stdin) {
    child.stdin.on("error", () => {}); // restic may exit before reading everything; its exit code says why
    opts.stdin.pipe(child.stdin);
  }

  const onAbort = () => {
    child.kill("SIGINT");
    killTimer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  };
  ctx.signal?.addEventListener("abort", onAbort, { once: true });

  const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.on("error", (e) => reject(new ResticFailedError(verb, null, `cannot start ${ctx.bin ?? "restic"}: ${e.message}`)));
    child.on("close", (code, sig) => resolve([code, sig]));
  }).finally(() => {
    ctx.signal?.removeEventListener("abort", onAbort);
    if (killTimer) clearTimeout(killTimer);
  });
  if (partial && opts.onLine) opts.onLine(partial);
  const durationMs = performance.now() - started;
  const cleanErr = redactText(stderr, secrets);
  const code = exitCode ?? (signal ? 128 : -1);
  const ok = (opts.okExitCodes ?? [0]).includes(code) && !signal;
  log?.debug("restic exit", { exitCode: code, signal, ms: Math.round(durationMs) });
  if (!ok) {
    const err = missingBucket
      ? new RepositoryNotFoundError(backend.redactedRepository, code)
      : gaveUp !== undefined
        ? new BackendUnreachableError(backend.redactedRepository, `gave up after ${retries} retries: ${redactText(gaveUp, secrets)}`, code)
        : signal
          ? new ResticFailedError(verb, null, `killed by ${signal}${ctx.signal?.aborted ? " (aborted)" : ""}`)
          : classifyFailure(backend.redactedRepository, verb, exitCode, cleanErr);
    // A missing repository is an answer the caller expects (and acts on: init), not a failure to report.
    if (err instanceof RepositoryNotFoundError) log?.debug("restic: no repository yet", { exitCode: code });
    else log?.warn("restic failed", { exitCode: code, error: err.message });
    throw err;
  }
  return { exitCode: code, stdout, stderr: cleanErr, durationMs };
}
