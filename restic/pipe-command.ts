// A command at one end of a restic pipe (a database dump feeding `backup --stdin`, a restore
// tool reading `dump`). It gets only the environment the caller gives it: restic's secrets
// (RESTIC_PASSWORD, cloud keys) never reach it.
//
//   startPipeCommand(cmd, { env, stdin? }) -> PipeCommand { child, done: Promise<void> }
import { spawn, type ChildProcess } from "node:child_process";
import { PipeCommandError } from "./errors.ts";
import { baseEnv, childEnv } from "../lib/child-env.ts";

export interface PipeCommandOptions {
  /** The command's whole environment (default: PATH and HOME of this process). */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** "pipe" when the command reads restic's output. */
  stdin: "pipe" | "ignore";
  stdout: "pipe" | "ignore";
}

export interface PipeCommand {
  child: ChildProcess;
  /** Resolves on exit 0; rejects with PipeCommandError otherwise (with the stderr tail). */
  done: Promise<void>;
}

export function startPipeCommand(command: string[], opts: PipeCommandOptions): PipeCommand {
  if (command.length === 0) throw new PipeCommandError("(empty)", null, null, "no command given");
  const env = childEnv(opts.env ?? baseEnv());
  const child = spawn(command[0], command.slice(1), { env, cwd: opts.cwd, stdio: [opts.stdin, opts.stdout, "pipe"] });
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (c: string) => {
    stderr = (stderr + c).slice(-4096);
  });
  const name = command[0];
  const done = new Promise<void>((resolve, reject) => {
    child.on("error", (e) => reject(new PipeCommandError(name, null, null, e.message)));
    child.on("close", (code, signal) => {
      if (code === 0) resolve();
      else reject(new PipeCommandError(name, code, signal, stderr.trim().split("\n").slice(-3).join("; ")));
    });
  });
  done.catch(() => {}); // observed by the caller; avoid an unhandled rejection in between
  return { child, done };
}
