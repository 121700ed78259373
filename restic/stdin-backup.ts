// `command | restic backup --stdin` for database Tasks (Stash: `<pipe cmds> | restic backup
// --stdin --quiet --json --stdin-filename F --host H`). If the command fails, the snapshot restic
// may already have saved from its partial output is forgotten and the backup fails: a truncated
// dump is never reported as a success.
//
//   backupStdin(ctx, opts: StdinBackupOptions) -> Promise<BackupResult>
import { snapshotStatsOf, type BackupResult, type BackupSummary } from "./backup.ts";
import { NothingToBackUpError, ResticFailedError } from "./errors.ts";
import { startPipeCommand } from "./pipe-command.ts";
import { runRestic, type ResticContext } from "./run.ts";

export interface StdinBackupOptions {
  /** The command whose stdout is backed up, e.g. ["pg_dumpall", "-h", host]. */
  command: string[];
  /** Its whole environment (e.g. PGPASSWORD); restic's is never passed on. */
  commandEnv?: Record<string, string | undefined>;
  /** File name inside the snapshot (--stdin-filename); the snapshot path is "/<name>". */
  filename: string;
  host?: string;
  tags?: string[];
}

export async function backupStdin(ctx: ResticContext, opts: StdinBackupOptions): Promise<BackupResult> {
  const cmd = startPipeCommand(opts.command, { env: opts.commandEnv, stdin: "ignore", stdout: "pipe" });
  const args = ["backup", "--stdin", "--stdin-filename", opts.filename, "--json", "--quiet"];
  if (opts.host) args.push("--host", opts.host);
  for (const t of opts.tags ?? []) args.push("--tag", t);
  let summary: BackupSummary | undefined;
  const onLine = (line: string) => {
    if (!line.includes('"summary"')) return;
    try {
      const m = JSON.parse(line) as BackupSummary;
      if (m.message_type === "summary") summary = m;
    } catch {
      /* not a summary */
    }
  };
  let stoppedByUs = false;
  const resticRun = runRestic(ctx, args, { stdin: cmd.child.stdout!, onLine }).catch((e: unknown) => {
    // restic is gone: nobody reads the command's output any more, so it must not block writing it.
    cmd.child.stdout?.destroy();
    if (cmd.child.exitCode === null && cmd.child.signalCode === null) {
      stoppedByUs = true;
      cmd.child.kill("SIGTERM");
    }
    throw e;
  });
  const [cmdResult, resticResult] = await Promise.allSettled([cmd.done, resticRun]);
  if (cmdResult.status === "rejected" && !(stoppedByUs && resticResult.status === "rejected")) {
    if (summary) await runRestic(ctx, ["forget", summary.snapshot_id]).catch(() => {});
    throw cmdResult.reason;
  }
  if (resticResult.status === "rejected") {
    const e = resticResult.reason as unknown;
    if (e instanceof ResticFailedError && e.exitCode === 3 && /no data read/.test(e.message)) {
      if (summary) await runRestic(ctx, ["forget", summary.snapshot_id]).catch(() => {});
      throw new NothingToBackUpError(`stdin of ${opts.command[0]}`, "the command wrote nothing");
    }
    throw e;
  }
  if (!summary) throw new NothingToBackUpError(`stdin of ${opts.command[0]}`, "restic printed no summary");
  if (summary.total_bytes_processed === 0) {
    await runRestic(ctx, ["forget", summary.snapshot_id]).catch(() => {});
    throw new NothingToBackUpError(`stdin of ${opts.command[0]}`, "the command wrote nothing");
  }
  const path = `/${opts.filename.replace(/^\/+/, "")}`;
  return {
    snapshot: snapshotStatsOf(summary, path),
    snapshotId: summary.snapshot_id,
    totalBytes: summary.total_bytes_processed,
    uploadedBytes: summary.data_added,
    processingSeconds: summary.total_duration,
    summary,
  };
}
