// Stash's InitializeBackendRepository pre-backup action: open the repository, create it when
// there is none. A wrong password or an unreachable backend is an error, never a reason to init
// (that would fork a second repository beside the first).
//
//   repositoryExists(ctx) -> Promise<boolean>
//   ensureRepository(ctx) -> Promise<{ created: boolean }>
import { RepositoryNotFoundError } from "./errors.ts";
import { runRestic, type ResticContext } from "./run.ts";

/** True if a repository opens at the URL with the password; false if there is none. */
export async function repositoryExists(ctx: ResticContext): Promise<boolean> {
  try {
    await runRestic(ctx, ["cat", "config", "--no-lock"]);
    return true;
  } catch (e) {
    if (e instanceof RepositoryNotFoundError) return false;
    throw e;
  }
}

/** Opens the repository or initialises it (restic creates a missing S3 bucket itself). */
export async function ensureRepository(ctx: ResticContext): Promise<{ created: boolean }> {
  if (await repositoryExists(ctx)) return { created: false };
  try {
    await runRestic(ctx, ["init"]);
  } catch (e) {
    // Another host initialised it between our check and our init (StatefulSet replicas start together).
    if (await repositoryExists(ctx).catch(() => false)) return { created: false };
    throw e;
  }
  return { created: true };
}
