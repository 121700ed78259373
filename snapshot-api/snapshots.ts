// get, list and delete of Snapshots over the index. Label selectors are evaluated against each
// Snapshot's own labels (the Repository's labels plus `repository` and `hostname`), so
// `repository=a,hostname=b` means both, unlike Stash, which matched the whole selector against
// each partial label set and so found nothing for a combined selector. Requirements that do not
// involve `hostname` are checked on the Repository first, so unselected repositories are never listed.
import type { Kube } from "../lib/kube/client.ts";
import type { Repository } from "../schema/types.generated.ts";
import { isNotFound } from "../lib/kube/client.ts";
import { parseSelector, matches, SelectorError, type Requirement } from "../lib/kube/label-selector.ts";
import { ResticError } from "../restic/errors.ts";
import type { SnapshotIndex } from "./snapshot-index.ts";
import type { SnapshotSource } from "./restic-source.ts";
import { BackendSecretMissingError } from "./restic-source.ts";
import { snapshotObject, type ResticSnapshotJson, type Snapshot } from "./snapshot-object.ts";
import { nameMatches, parseSnapshotName, snapshotName } from "./names.ts";
import { ApiStatusError, badRequest, notFound, unavailable } from "./status.ts";
import type { TableRowInput } from "./table.ts";

const REPOSITORY_API = "stash.appscode.com/v1alpha1";

export interface SnapshotsDeps {
  kube: Kube;
  index: SnapshotIndex;
  source: SnapshotSource;
}

export interface ListQuery {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

interface FieldReq {
  field: "metadata.name" | "metadata.namespace";
  value: string;
  equal: boolean;
}

export function parseFieldSelector(sel: string | undefined): FieldReq[] {
  if (!sel?.trim()) return [];
  return sel.split(",").map((part) => {
    const m = /^\s*([a-zA-Z.]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(part);
    if (!m) throw badRequest(`invalid field selector ${JSON.stringify(part)}`);
    if (m[1] !== "metadata.name" && m[1] !== "metadata.namespace") {
      throw badRequest(`field label not supported: ${m[1]} (snapshots support metadata.name and metadata.namespace)`);
    }
    return { field: m[1], value: m[3], equal: m[2] !== "!=" };
  });
}

const fieldOk = (reqs: FieldReq[], o: Snapshot) =>
  reqs.every((r) => ((r.field === "metadata.name" ? o.metadata.name : o.metadata.namespace) === r.value) === r.equal);

/** Turns a backend failure into the answer a client should get: 503 with the reason. */
export function backendFailure(repo: Repository, e: unknown): ApiStatusError {
  if (e instanceof ApiStatusError) return e;
  const who = `Repository ${repo.metadata.namespace}/${repo.metadata.name}`;
  const message = e instanceof ResticError || e instanceof BackendSecretMissingError || e instanceof Error ? e.message : String(e);
  return unavailable(message.includes(who) ? message : `${who}: ${message}`);
}

export interface SnapshotRecord extends TableRowInput {
  object: Snapshot;
  sizeBytes?: number;
}

function record(repo: Repository, s: ResticSnapshotJson): SnapshotRecord {
  const ref = { namespace: repo.metadata.namespace!, name: repo.metadata.name!, labels: (repo.metadata.labels ?? {}) as Record<string, string> };
  return { object: snapshotObject(ref, s), sizeBytes: s.summary?.total_bytes_processed };
}

async function snapshotsOf(deps: SnapshotsDeps, repo: Repository): Promise<ResticSnapshotJson[]> {
  try {
    return await deps.index.snapshotsOf(repo);
  } catch (e) {
    throw backendFailure(repo, e);
  }
}

export async function listSnapshots(deps: SnapshotsDeps, q: ListQuery): Promise<SnapshotRecord[]> {
  let reqs: Requirement[];
  try {
    reqs = parseSelector(q.labelSelector);
  } catch (e) {
    if (e instanceof SelectorError) throw badRequest(e.message);
    throw e;
  }
  const fields = parseFieldSelector(q.fieldSelector);
  const repoReqs = reqs.filter((r) => r.key !== "hostname");
  const repos = (await deps.kube.list<Repository>(REPOSITORY_API, "Repository", q.namespace)).items.filter((repo) => {
    const labels = { ...((repo.metadata.labels ?? {}) as Record<string, string>), repository: repo.metadata.name! };
    return matches(repoReqs, labels) && !repo.metadata.deletionTimestamp;
  });
  const results = await Promise.allSettled(repos.map((repo) => snapshotsOf(deps, repo)));
  const failed = results.flatMap((r) => (r.status === "rejected" ? [r.reason as ApiStatusError] : []));
  if (failed.length > 0) {
    const shown = failed
      .slice(0, 3)
      .map((f) => f.message)
      .join("; ");
    throw unavailable(
      `cannot list snapshots of ${failed.length} of ${repos.length} repositories: ${shown}${failed.length > 3 ? `; and ${failed.length - 3} more` : ""}`,
    );
  }
  const out: SnapshotRecord[] = [];
  repos.forEach((repo, i) => {
    const snaps = (results[i] as PromiseFulfilledResult<ResticSnapshotJson[]>).value;
    for (const s of snaps) {
      const rec = record(repo, s);
      if (matches(reqs, rec.object.metadata.labels as Record<string, string>) && fieldOk(fields, rec.object)) out.push(rec);
    }
  });
  out.sort((a, b) => String(a.object.metadata.name).localeCompare(String(b.object.metadata.name)));
  return out;
}

/** The Repository a snapshot name belongs to (long names are truncated, so the prefix may be cut). */
async function repositoryFor(deps: SnapshotsDeps, namespace: string, name: string): Promise<{ repo: Repository; shortId: string }> {
  const parsed = parseSnapshotName(name);
  if (!parsed) throw notFound(name);
  try {
    const repo = await deps.kube.get<Repository>(REPOSITORY_API, "Repository", parsed.repository, namespace);
    return { repo, shortId: parsed.shortId };
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  if (name.length === 63) {
    const repos = (await deps.kube.list<Repository>(REPOSITORY_API, "Repository", namespace)).items;
    const repo = repos.find((r) => snapshotName(r.metadata.name!, parsed.shortId) === name);
    if (repo) return { repo, shortId: parsed.shortId };
  }
  throw notFound(name);
}

export async function getSnapshot(deps: SnapshotsDeps, namespace: string, name: string): Promise<SnapshotRecord> {
  const { repo, shortId } = await repositoryFor(deps, namespace, name);
  const snaps = await snapshotsOf(deps, repo);
  const s = snaps.find((x) => x.id.startsWith(shortId) && nameMatches(name, repo.metadata.name!, x.id));
  if (!s) throw notFound(name);
  return record(repo, s);
}

/** Forgets the snapshot with prune, then waits for the index to show the repository without it. */
export async function deleteSnapshot(deps: SnapshotsDeps, namespace: string, name: string): Promise<SnapshotRecord> {
  const rec = await getSnapshot(deps, namespace, name);
  const { repo } = await repositoryFor(deps, namespace, name);
  try {
    await deps.source.forget(repo, String(rec.object.metadata.uid));
  } catch (e) {
    throw backendFailure(repo, e);
  } finally {
    deps.index.invalidate(namespace, repo.metadata.name!);
  }
  await deps.index.snapshotsOf(repo).catch(() => {});
  return rec;
}
