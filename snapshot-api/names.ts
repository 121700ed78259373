// Snapshot names as Stash forms them: `<repository>-<first 8 hex of the restic id>`, the repository
// part shortened so the whole fits 63 characters; and the reverse, for get and delete.
import { nameWithSuffix } from "../stash/names.ts";

export const SHORT_ID_LENGTH = 8;

export function snapshotName(repositoryName: string, snapshotId: string): string {
  return nameWithSuffix(repositoryName, snapshotId.slice(0, SHORT_ID_LENGTH));
}

export interface ParsedSnapshotName {
  repository: string;
  shortId: string;
}

/** undefined when the name cannot be a snapshot name (too short, or the last part is not 8 hex characters). */
export function parseSnapshotName(name: string): ParsedSnapshotName | undefined {
  const dash = name.lastIndexOf("-");
  if (name.length < SHORT_ID_LENGTH + 2 || dash < 1) return undefined;
  const shortId = name.slice(dash + 1);
  if (!/^[0-9a-f]{8}$/.test(shortId)) return undefined;
  return { repository: name.slice(0, dash), shortId };
}

/**
 * Whether `name` is the name of the snapshot `snapshotId` in the Repository `repositoryName`.
 * Matching on the whole formed name (not on a parsed prefix) keeps truncated long names working.
 */
export function nameMatches(name: string, repositoryName: string, snapshotId: string): boolean {
  return snapshotName(repositoryName, snapshotId) === name;
}
