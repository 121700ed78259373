// Stash's retention policy -> `restic forget` (stash-behaviour.md section 6). The post-backup
// action passes no --host, so the policy applies to every host/path group of the repository.
// kept = sum of |keep| over the JSON groups (Repository status.snapshotCount), removed = sum of
// |remove| (status.snapshotsRemovedOnLastCleanup).
//
//   retentionArgs(policy) -> string[]                        (pure)
//   forget(ctx, policy, opts?) -> Promise<ForgetResult>
//   forgetResultOf(stdout) -> ForgetResult                   (pure)
import { stalled } from "../lib/errors.ts";
import { runRestic, type ResticContext } from "./run.ts";

/** Stash RetentionPolicy (stash.appscode.com/v1alpha1). */
export interface RetentionPolicy {
  name: string;
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  keepTags?: string[];
  prune: boolean;
  dryRun?: boolean;
}

export interface ForgetGroup {
  host: string;
  paths: string[];
  tags: string[] | null;
  keep: string[];
  remove: string[];
}

export interface ForgetResult {
  kept: number;
  removed: number;
  groups: ForgetGroup[];
}

/** The flags for a policy: keep-* only when > 0, every keep-tag, --prune, --dry-run. */
export function retentionArgs(policy: RetentionPolicy): string[] {
  const args: string[] = [];
  const n: [keyof RetentionPolicy, string][] = [
    ["keepLast", "--keep-last"],
    ["keepHourly", "--keep-hourly"],
    ["keepDaily", "--keep-daily"],
    ["keepWeekly", "--keep-weekly"],
    ["keepMonthly", "--keep-monthly"],
    ["keepYearly", "--keep-yearly"],
  ];
  for (const [field, flag] of n) {
    const v = policy[field];
    if (typeof v === "number" && v > 0) args.push(flag, String(Math.trunc(v)));
  }
  for (const t of policy.keepTags ?? []) args.push("--keep-tag", t);
  if (policy.prune) args.push("--prune");
  if (policy.dryRun) args.push("--dry-run");
  return args;
}

interface RawSnap {
  id: string;
}
interface RawGroup {
  host?: string;
  paths?: string[] | null;
  tags?: string[] | null;
  keep?: RawSnap[] | null;
  remove?: RawSnap[] | null;
}

/** Parses forget's JSON (the first line that is a JSON array; prune may print text after it). */
export function forgetResultOf(stdout: string): ForgetResult {
  const line = stdout.split("\n").find((l) => l.trim().startsWith("["));
  const raw: RawGroup[] = line ? (JSON.parse(line) as RawGroup[]) : [];
  const groups = raw.map((g) => ({
    host: g.host ?? "",
    paths: g.paths ?? [],
    tags: g.tags ?? null,
    keep: (g.keep ?? []).map((s) => s.id),
    remove: (g.remove ?? []).map((s) => s.id),
  }));
  return {
    kept: groups.reduce((a, g) => a + g.keep.length, 0),
    removed: groups.reduce((a, g) => a + g.remove.length, 0),
    groups,
  };
}

export interface ForgetOptions {
  /** Narrow to one host / paths / tags (Stash's post-backup action passes none). */
  host?: string;
  paths?: string[];
  tags?: string[];
}

/**
 * Applies the policy. A policy with no keep rule would make restic refuse (or, with some flags,
 * remove everything): it throws before running anything.
 */
export async function forget(ctx: ResticContext, policy: RetentionPolicy, opts: ForgetOptions = {}): Promise<ForgetResult> {
  const flags = retentionArgs(policy);
  if (!flags.some((f) => f.startsWith("--keep-"))) {
    throw stalled("InvalidRetentionPolicy", `policy ${policy.name} has no keep rule (keepLast, keepHourly, ..., keepTags); refusing to forget`, {
      field: "spec.retentionPolicy",
    });
  }
  const args = ["forget", "--json", ...flags];
  if (opts.host) args.push("--host", opts.host);
  for (const p of opts.paths ?? []) args.push("--path", p);
  for (const t of opts.tags ?? []) args.push("--tag", t);
  const res = await runRestic(ctx, args);
  return forgetResultOf(res.stdout);
}
