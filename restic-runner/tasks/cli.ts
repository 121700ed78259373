// Runs one Task step as its container would: `node restic-runner/tasks/cli.ts <command> --flag=…`.
// Config comes from the process once, here: the kubeconfig (KUBECONFIG or in-cluster) and the
// log level. The exit code is the step's.
import { Kube } from "../../lib/kube/client.ts";
import { createLogger, type Level } from "../../lib/logger.ts";
import { TASK_COMMANDS } from "./commands.ts";

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [command, ...rest] = argv;
  const handler = command ? TASK_COMMANDS[command] : undefined;
  if (!handler) {
    process.stderr.write(`usage: cli.ts <${Object.keys(TASK_COMMANDS).join("|")}> [--flag=value ...]\n`);
    return 2;
  }
  const log = createLogger({ level: (env.RESTASH_LOG_LEVEL as Level) || "info", fields: { command } });
  return handler(rest, { kube: Kube.fromDefault(), log, baseEnv: { PATH: env.PATH, HOME: env.HOME } });
}

if (import.meta.main) {
  main(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
