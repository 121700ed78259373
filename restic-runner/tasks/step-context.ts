// What every Task step shares: its dependencies (API client, logger, clock, restic binary), the
// Repository + storage Secret → restic setup, and the wrapper that turns a data step's outcome
// into its output file and exit code (a failure is also reported to the session at once, since in
// a real Job a failed init-container means update-status never runs).
import { errorMessage, redact } from "../../lib/errors.ts";
import type { V1Secret } from "@kubernetes/client-node";
import type { Kube } from "../../lib/kube/client.ts";
import type { Repository } from "../../schema/types.generated.ts";
import type { Logger } from "../../lib/logger.ts";
import { goDuration } from "../../stash/phases.ts";
import { V1ALPHA1 } from "../../stash/names.ts";
import { resticBackend, writeBackendFiles } from "../../restic/backend.ts";
import { secretDataOf } from "../../lib/kube/secret-data.ts";
import type { ResticContext } from "../../restic/run.ts";
import { boolArg, parseStepArgs, type StepArgs } from "./step-args.ts";
import { writeStepOutput, type StepOutput } from "./step-output.ts";

export interface StepDeps {
  kube: Kube;
  log: Logger;
  /** Milliseconds since the epoch; default Date.now. */
  now?: () => number;
  /** restic binary; default "restic" on PATH. */
  resticBin?: string;
  /** Environment the step's child processes start from (PATH, HOME). Default: this process's PATH and HOME. */
  baseEnv?: Record<string, string | undefined>;
}

/** A runner subcommand of a Task step: argv after the subcommand name → exit code. */
export type StepHandler = (argv: string[], deps: StepDeps) => Promise<number>;

export const DEFAULT_OUTPUT_DIR = "/stash-tmp/output";
export const DEFAULT_SCRATCH_DIR = "/stash-tmp";

export function namespaceOf(args: StepArgs): string {
  return args.namespace || "default";
}

/** The Repository the step uses, its storage Secret, and a restic context for it (files written). */
export async function openRepository(args: StepArgs, deps: StepDeps, secrets: string[]): Promise<{ repo: Repository; restic: ResticContext }> {
  const name = args.repository;
  const ns = args["repository-namespace"] || namespaceOf(args);
  if (!name) throw new Error("flag --repository is empty: the invoker names no Repository (spec.repository.name)");
  const repo = await deps.kube.getOrNull<Repository>(V1ALPHA1, "Repository", name, ns);
  if (!repo) throw new Error(`Repository ${ns}/${name} not found`);
  const secretName = repo.spec?.backend?.storageSecretName;
  const secret = secretName ? await deps.kube.getOrNull<V1Secret>("v1", "Secret", secretName, ns) : null;
  if (!secret) throw new Error(`Repository ${ns}/${name}: storage Secret ${ns}/${secretName ?? "<spec.backend.storageSecretName is empty>"} not found`);
  const backend = resticBackend(repo, secretDataOf(secret), {
    scratchDir: args["scratch-dir"] || DEFAULT_SCRATCH_DIR,
    enableCache: boolArg(args, "enable-cache", true),
  });
  secrets.push(...backend.secrets);
  deps.log.addSecrets(backend.secrets);
  await writeBackendFiles(backend);
  return { repo, restic: { backend, bin: deps.resticBin, baseEnv: deps.baseEnv, logger: deps.log } };
}

/** What a data step body fills in besides the phase: snapshots, conditions, Repository statistics. */
export type StepResult = Pick<StepOutput, "snapshots" | "numbers" | "conditions" | "repository">;

/**
 * Runs a data step: parses flags, runs `body`, writes the output file, reports a failure to the
 * session right away, and returns the exit code (0 only on success). `secrets` collects values the
 * body learns (passwords) so no message carries them.
 */
export async function runDataStep(
  kind: StepOutput["kind"],
  command: string,
  argv: string[],
  deps: StepDeps,
  body: (args: StepArgs, secrets: string[], result: StepResult) => Promise<void>,
  reportFailure: (args: StepArgs, out: StepOutput, deps: StepDeps) => Promise<void>,
): Promise<number> {
  const now = deps.now ?? Date.now;
  const started = now();
  const args = parseStepArgs(argv);
  const secrets: string[] = [];
  const log = deps.log.child({ step: command });
  let out: StepOutput;
  // Filled in as the body goes: a failure keeps what was settled before it (e.g. the conditions).
  const result: StepResult = {};
  const hostname = args.hostname || "host-0";
  try {
    await body(args, secrets, result);
    out = { kind, command, hostname, phase: "Succeeded", duration: goDuration(now() - started), ...result };
  } catch (e) {
    const error = redact(errorMessage(e), secrets);
    log.error("step failed", { error });
    out = {
      kind,
      command,
      hostname,
      phase: "Failed",
      duration: goDuration(now() - started),
      error,
      ...(result.conditions?.length ? { conditions: result.conditions } : {}),
    };
  }
  await writeStepOutput(args["output-dir"] || DEFAULT_OUTPUT_DIR, out);
  if (out.phase === "Failed") {
    try {
      await reportFailure(args, out, deps);
    } catch (e) {
      log.error("could not report the failure to the session", { error: redact(errorMessage(e), secrets) });
    }
    return 1;
  }
  log.info("step succeeded", { snapshots: out.snapshots?.map((s) => s.name) });
  return 0;
}
