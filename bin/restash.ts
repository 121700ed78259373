#!/usr/bin/env node
// restash: one entrypoint for everything the image runs and people type. The image runs
// `node bin/restash.ts`; the installed `restash` command (package.json's bin) is bin/restash.cjs,
// which checks the Node version first and then runs main() below.
//   restash operator ...                       the operator (bin/operator.ts)
//   restash validate|render|plan ...           policy review (cli/restash.ts)
//   restash create-backupsession|run-backup|restore|run-hook|<task step> ...   the runner (restic-runner/main.ts)
import { runOperator } from "./operator.ts";
import { runCli } from "../cli/restash.ts";
import { main as runRunner } from "../restic-runner/main.ts";
import { metricsForPushgateway } from "../restic-runner/commands/runner-metrics.ts";

const CLI = new Set(["validate", "render", "plan"]);

export async function restash(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "operator") return runOperator(rest, env);
  if (command && CLI.has(command)) {
    return runCli(argv, { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), env, cwd: process.cwd() });
  }
  if (!command || command === "help" || command === "--help") {
    process.stdout.write(
      "usage: restash <command>\n  operator                      run the operator\n  validate|render|plan <dir>    review a policy directory\n" +
        "  create-backupsession | run-backup | restore | run-hook | backup-pvc | restore-pvc | backup-postgres | restore-postgres | update-status\n" +
        "                                the runner (CronJob, sidecar, Jobs, init-container, Task steps and their hook containers)\n",
    );
    return command ? 0 : 2;
  }
  return runRunner(argv, { env, metricsFor: metricsForPushgateway });
}

/** Runs restash as this process: its arguments, its environment, its exit code. */
export function main(): void {
  restash(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`restash: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}

if (import.meta.main) main();
