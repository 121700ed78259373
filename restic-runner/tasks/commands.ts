// The runner subcommands a Task step runs, by the name the catalog Functions pass as the first
// argument. restic-runner/main.ts (the image entrypoint) dispatches them.
import { backupPostgresStep } from "./backup-postgres.ts";
import { backupPvcStep } from "./backup-pvc.ts";
import { restorePostgresStep } from "./restore-postgres.ts";
import { restorePvcStep } from "./restore-pvc.ts";
import type { StepHandler } from "./step-context.ts";
import { updateStatusStep } from "./update-status.ts";

export type { StepDeps, StepHandler } from "./step-context.ts";

export const TASK_COMMANDS: Readonly<Record<string, StepHandler>> = Object.freeze({
  "backup-pvc": backupPvcStep,
  "restore-pvc": restorePvcStep,
  "backup-postgres": backupPostgresStep,
  "restore-postgres": restorePostgresStep,
  "update-status": updateStatusStep,
});
