// `restic dump <snapshot|latest> <file> | command` for database restores (Stash: `dump --quiet
// <snap> <file> [--host] [--path] | <cmds>`). Both ends must succeed.
//
//   dump(ctx, opts: DumpOptions) -> Promise<void>
import { ResticFailedError } from "./errors.ts";
import { startPipeCommand } from "./pipe-command.ts";
import { runRestic, type ResticContext } from "./run.ts";

export interface DumpOptions {
  /** Snapshot id (short or full) or "latest" (narrowed by host and path). */
  snapshot: string;
  /** The file inside the snapshot, e.g. "/dumpfile.sql". */
  file: string;
  host?: string;
  path?: string;
  /** The command reading the file on its stdin, e.g. ["psql", "-h", host]. */
  command: string[];
  commandEnv?: Record<string, string | undefined>;
}

export async function dump(ctx: ResticContext, opts: DumpOptions): Promise<void> {
  const cmd = startPipeCommand(opts.command, { env: opts.commandEnv, stdin: "pipe", stdout: "ignore" });
  const args = ["dump", "--quiet", opts.snapshot, opts.file];
  if (opts.host) args.push("--host", opts.host);
  if (opts.path) args.push("--path", opts.path);
  const stdin = cmd.child.stdin!;
  stdin.on("error", () => {}); // the command may exit early; its exit code says why
  const resticRun = runRestic(ctx, args, { stdout: stdin }).finally(() => stdin.end());
  const [r, c] = await Promise.allSettled([resticRun, cmd.done]);
  if (r.status === "rejected" && c.status === "rejected") {
    // Both failed: a typed restic failure (password, backend, snapshot) is the cause; a generic one
    // is most likely restic losing its reader because the command failed first.
    throw r.reason instanceof ResticFailedError ? c.reason : r.reason;
  }
  if (r.status === "rejected") throw r.reason;
  if (c.status === "rejected") throw c.reason;
}
