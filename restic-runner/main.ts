// The restash runner: one program, `node restic-runner/main.ts <command> [--flag=value ...]`.
// Commands: create-backupsession (the trigger CronJob), run-backup (the sidecar, or a backup Job
// with --backupsession), restore (the init-container or restore Job), run-hook (the hook
// containers of a Task pod), and the Task steps
// (backup-pvc, restore-pvc, backup-postgres, restore-postgres, update-status).
// Talks to the API server through KUBECONFIG, or the in-cluster config in a pod.
//
// Environment: KUBECONFIG; POD_NAME / NODE_NAME (host names); POD_NAMESPACE; RESTASH_SCRATCH_DIR
// (default /stash-tmp); RESTASH_PATH_MAP "podPath=hostDir,..." (where a pod path is on this
// machine when the runner is not in a pod); RESTIC_BIN (default restic on PATH).
import { readFileSync } from "node:fs";
import { Kube } from "../lib/kube/client.ts";
import { createLogger, type Level } from "../lib/logger.ts";
import { parseStepArgs } from "./tasks/step-args.ts";
import { TASK_COMMANDS } from "./tasks/commands.ts";
import { createBackupSession } from "./commands/create-backupsession.ts";
import { backupForSession, runBackupSidecar, type RunnerMetrics, type TargetFlags } from "./commands/run-backup.ts";
import { restoreForSession } from "./commands/restore.ts";
import { runHookCommand } from "./commands/run-hook.ts";
import { runnerMetrics } from "./commands/runner-metrics.ts";
import { parsePathMap, runnerNamespace, type RunnerDeps } from "./commands/runner-deps.ts";
import { configureBaseEnv, pickBaseEnv } from "../lib/child-env.ts";

const USAGE = `usage: restic-runner <command> [flags]
  create-backupsession --invoker-name=N --invoker-kind=BackupConfiguration
  run-backup --invoker-name --invoker-kind --target-name --target-namespace --target-kind [--backupsession=S] [--enable-cache] [--pushgateway-url]
  restore --invoker-name --invoker-kind=RestoreSession --target-name --target-namespace --target-kind
  run-hook --hook-type=preBackup|postBackup|preRestore|postRestore --backupsession=S|--restoresession=R --target-kind --target-name [--target-namespace] [--hostname] [--output-dir]
  ${Object.keys(TASK_COMMANDS).join(" | ")}  (Task steps)`;

function saNamespace(): string | undefined {
  try {
    return readFileSync("/var/run/secrets/kubernetes.io/serviceaccount/namespace", "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

export interface MainOptions {
  env?: Record<string, string | undefined>;
  /** Builds the metrics pusher for a pushgateway URL (stash/metrics.ts). */
  metricsFor?: (pushgatewayUrl: string) => RunnerMetrics;
  signal?: AbortSignal;
}

export async function main(argv: string[], o: MainOptions = { metricsFor: (url) => runnerMetrics(url) }): Promise<number> {
  const env = o.env ?? process.env;
  const [command, ...rest] = argv;
  const log = createLogger({ level: (env.RESTASH_LOG_LEVEL as Level) ?? "info", fields: { component: "restic-runner", command } });
  if (!command || command === "help" || command === "--help") {
    process.stderr.write(USAGE + "\n");
    return command ? 0 : 2;
  }
  // Without @kubernetes/client-node (lib/kube/config.ts): every sidecar and Job saves its ~80 MiB.
  const kube = Kube.fromDefault();
  const step = TASK_COMMANDS[command];
  if (step) return step(rest, { kube, log, resticBin: env.RESTIC_BIN, baseEnv: pickBaseEnv(env) });

  const a = parseStepArgs(rest);
  const deps: RunnerDeps = {
    kube,
    log,
    now: Date.now,
    env,
    resticBin: env.RESTIC_BIN,
    scratchDir: a["scratch-dir"] || env.RESTASH_SCRATCH_DIR || "/stash-tmp",
    mapPath: parsePathMap(a["path-map"] ?? env.RESTASH_PATH_MAP),
    progressIntervalMs: env.RESTASH_PROGRESS_INTERVAL_MS ? Number(env.RESTASH_PROGRESS_INTERVAL_MS) : undefined,
  };
  const ctxNs = kube.contextNamespace();
  const flags: TargetFlags = {
    invokerName: a["invoker-name"] ?? "",
    invokerKind: a["invoker-kind"] ?? "",
    targetName: a["target-name"] ?? "",
    targetNamespace: a["target-namespace"] || runnerNamespace(a.namespace, env, ctxNs, saNamespace()),
    targetKind: a["target-kind"] ?? "",
    enableCache: a["enable-cache"] !== "false",
    pushgatewayUrl: a["pushgateway-url"] || undefined,
  };
  const metrics = a["metrics-enabled"] !== "false" && flags.pushgatewayUrl && o.metricsFor ? o.metricsFor(flags.pushgatewayUrl) : undefined;
  const need = (...names: string[]) => {
    for (const n of names) if (!a[n]) throw new Error(`flag --${n} is required for ${command}`);
  };
  switch (command) {
    case "create-backupsession":
      need("invoker-name");
      await createBackupSession(deps, runnerNamespace(a.namespace, env, ctxNs, saNamespace()), flags.invokerKind || "BackupConfiguration", flags.invokerName);
      return 0;
    case "run-backup": {
      need("invoker-name", "invoker-kind", "target-name", "target-kind");
      if (a.backupsession) {
        const r = await backupForSession(deps, flags, a.backupsession, metrics);
        // 75 (EX_TEMPFAIL): another pod holds the workload's backup lease; try again later.
        return r === "Failed" ? 1 : r === "locked" ? 75 : 0;
      }
      const ac = new AbortController();
      const stop = () => ac.abort();
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
      o.signal?.addEventListener("abort", stop, { once: true });
      await runBackupSidecar(deps, flags, ac.signal, metrics);
      return 0;
    }
    case "restore": {
      need("invoker-name", "target-name", "target-kind");
      const r = await restoreForSession(deps, { ...flags, invokerKind: flags.invokerKind || "RestoreSession" }, metrics);
      return r === "Failed" ? 1 : 0;
    }
    case "run-hook":
      // Stash's hook executor in a Task pod (pre-task-hook / post-task-hook containers).
      return runHookCommand(deps, rest);
    default:
      process.stderr.write(`unknown command ${JSON.stringify(command)}\n${USAGE}\n`);
      return 2;
  }
}

if (import.meta.main) {
  configureBaseEnv(process.env);
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`restic-runner: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
