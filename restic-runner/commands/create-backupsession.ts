// `create-backupsession --invoker-name --invoker-kind`: what the trigger CronJob runs. Creates
// `<invoker>-<unix seconds>` with Stash's labels; a name taken in the same second moves to the next.
import { V1BETA1 } from "../../stash/names.ts";
import { newBackupSession } from "../../stash/new-backup-session.ts";
import type { BackupInvoker } from "../../stash/invoker-targets.ts";
import type { RunnerDeps } from "./runner-deps.ts";

export async function createBackupSession(deps: RunnerDeps, namespace: string, invokerKind: string, invokerName: string): Promise<string> {
  if (!invokerName) throw new Error("flag --invoker-name is required");
  const kind = invokerKind || "BackupConfiguration";
  const invoker = await deps.kube.getOrNull<BackupInvoker>(V1BETA1, kind, invokerName, namespace);
  if (!invoker) throw new Error(`${kind} ${namespace}/${invokerName} not found (flag --invoker-name)`);
  let seconds = Math.floor(deps.now() / 1000);
  for (let i = 0; ; i++) {
    const bs = newBackupSession(invoker, seconds);
    try {
      await deps.kube.create(bs);
      const name = bs.metadata.name ?? "";
      deps.log.info("created BackupSession", { name, namespace });
      return name;
    } catch (e) {
      if ((e as { code?: unknown } | undefined)?.code !== 409 || i > 5) throw e;
      seconds++;
    }
  }
}
