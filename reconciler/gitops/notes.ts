// Status written back to Git as notes under refs/notes/restash: one JSON object per line, lines
// sorted and unique, so a `cat_sort_uniq` merge of two writers' notes keeps both. Pushed without
// force; a rejected push is fetched, merged and retried (Argo CD's hydrator loop).
import { writeFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { GitRepo } from "./git-source.ts";
import { classifyGitError } from "./git-source.ts";

export const NOTES_REF = "restash";
const LOCAL = `refs/notes/${NOTES_REF}`;
const FETCHED = `refs/notes/${NOTES_REF}-remote`;

export interface NoteError {
  file: string;
  line: number;
  field?: string;
  message: string;
}

/** One line of a note. `time` first so sorted lines read in time order. */
export interface NoteRecord {
  time: string;
  kind: "sync" | "backup";
  source: string;
  revision: string;
  [key: string]: unknown;
}

const MAX_LINE = 16 * 1024;

/** One JSON line, keys in a fixed order, capped so a note never grows without bound. */
export function noteLine(r: NoteRecord): string {
  const { time, kind, source, revision, ...rest } = r;
  let line = JSON.stringify({ time, kind, source, revision, ...rest });
  if (line.length > MAX_LINE) {
    const trimmed: Record<string, unknown> = { time, kind, source, revision, truncated: true };
    for (const [k, v] of Object.entries(rest)) if (!Array.isArray(v)) trimmed[k] = v;
    line = JSON.stringify(trimmed);
  }
  return line;
}

export function mergeNoteText(existing: string, lines: string[]): string {
  const all = new Set(
    existing
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean),
  );
  for (const l of lines) all.add(l);
  return [...all].sort().join("\n") + "\n";
}

async function refExists(repo: GitRepo, ref: string): Promise<boolean> {
  try {
    await repo.git.raw(["rev-parse", "--verify", "--quiet", ref]);
    return true;
  } catch {
    return false;
  }
}

/** Brings the remote's notes into the local ref (fetch + cat_sort_uniq merge). */
export async function syncNotesFromRemote(repo: GitRepo): Promise<void> {
  try {
    await repo.remote(() => repo.git.raw(["fetch", "--no-tags", "origin", `+${LOCAL}:${FETCHED}`]));
  } catch (e) {
    if (/couldn't find remote ref/i.test(String((e as Error).message))) return; // no notes pushed yet
    throw classifyGitError(e, repo, "fetching notes from");
  }
  if (!(await refExists(repo, LOCAL))) {
    await repo.git.raw(["update-ref", LOCAL, FETCHED]);
    return;
  }
  await repo.git.raw(["notes", `--ref=${NOTES_REF}`, "merge", "-q", "-s", "cat_sort_uniq", FETCHED]);
}

export interface WriteNoteOptions {
  attempts?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** Adds lines to the note on `sha` and pushes the notes ref; concurrent writers are merged. */
export async function writeNote(repo: GitRepo, sha: string, records: NoteRecord[], opts: WriteNoteOptions = {}): Promise<void> {
  const attempts = opts.attempts ?? 8;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const lines = records.map(noteLine);
  let delay = 50;
  for (let i = 1; ; i++) {
    await syncNotesFromRemote(repo);
    const existing = await repo.git.raw(["notes", `--ref=${NOTES_REF}`, "show", sha]).catch(() => "");
    const text = mergeNoteText(existing, lines);
    if (text !== mergeNoteText(existing, [])) {
      const tmp = join(repo.dir, ".git", `restash-note-${randomBytes(4).toString("hex")}`);
      await writeFile(tmp, text);
      try {
        await repo.git.raw(["notes", `--ref=${NOTES_REF}`, "add", "-f", "-F", tmp, sha]);
      } finally {
        await rm(tmp, { force: true });
      }
    }
    try {
      await repo.remote(() => repo.git.raw(["push", "--quiet", "origin", `${LOCAL}:${LOCAL}`]));
      return;
    } catch (e) {
      const msg = String((e as Error).message);
      const retryable = /fetch first|non-fast-forward|rejected|reference already exists|incorrect old value|failed to update ref|cannot lock ref/i.test(msg);
      if (!retryable || i >= attempts) throw classifyGitError(e, repo, "pushing notes to");
      await sleep(delay);
      delay = Math.min(1000, delay * 2);
    }
  }
}

/** The note lines on `sha`, parsed (after bringing in the remote's notes). */
export async function readNote(repo: GitRepo, sha: string): Promise<NoteRecord[]> {
  const text = await repo.git.raw(["notes", `--ref=${NOTES_REF}`, "show", sha]).catch(() => "");
  return text
    .split("\n")
    .filter((l) => l.trim().startsWith("{"))
    .map((l) => JSON.parse(l));
}
