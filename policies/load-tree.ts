// Reads the policy files of one revision from a directory (a Git checkout or a local path):
// every *.yaml/*.yml under `path`, hidden entries skipped, symlinks followed only while they stay
// inside the repository, and files over the size limit refused.
import { lstat, readdir, readFile, realpath, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import type { PolicyFile, SourceError } from "./model.ts";

export const DEFAULT_MAX_FILE_SIZE = 256 * 1024;

export interface LoadTreeOptions {
  /** Repository root: symlinks may not point outside it. */
  root: string;
  /** Directory inside root holding the policies ("." for all). */
  path?: string;
  maxFileSize?: number;
}

export interface LoadedTree {
  files: PolicyFile[];
  errors: SourceError[];
}

const isYaml = (name: string) => name.endsWith(".yaml") || name.endsWith(".yml");

export async function loadTree(opts: LoadTreeOptions): Promise<LoadedTree> {
  const max = opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
  const rootReal = await realpath(opts.root);
  const base = join(rootReal, opts.path ?? ".");
  const files: PolicyFile[] = [];
  const errors: SourceError[] = [];
  const rel = (p: string) => relative(base, p).split(sep).join("/");
  const inside = (p: string) => p === rootReal || p.startsWith(rootReal + sep);

  try {
    const st = await stat(base);
    if (!st.isDirectory()) {
      errors.push({ file: opts.path ?? ".", line: 1, message: "the policy path is not a directory" });
      return { files, errors };
    }
  } catch {
    errors.push({ file: opts.path ?? ".", line: 1, message: "the policy path does not exist in this revision" });
    return { files, errors };
  }
  if (!inside(await realpath(base))) {
    errors.push({ file: opts.path ?? ".", line: 1, message: "the policy path leaves the repository" });
    return { files, errors };
  }

  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    await Promise.all(
      entries.map(async (e) => {
        if (e.name.startsWith(".")) return;
        const full = join(dir, e.name);
        let target = full;
        let isDir = e.isDirectory();
        let isFile = e.isFile();
        if (e.isSymbolicLink()) {
          try {
            target = await realpath(full);
          } catch {
            if (isYaml(e.name)) errors.push({ file: rel(full), line: 1, message: "symlink points to nothing" });
            return;
          }
          if (!inside(target)) {
            errors.push({ file: rel(full), line: 1, message: "symlink leaves the repository; refused" });
            return;
          }
          const st = await stat(target);
          isDir = st.isDirectory();
          isFile = st.isFile();
          // A link to a directory would be read twice (or loop); only file links are followed.
          if (isDir) {
            errors.push({ file: rel(full), line: 1, message: "symlink to a directory; refused (link the files instead)" });
            return;
          }
        }
        if (isDir) return walk(full);
        if (!isFile || !isYaml(e.name)) return;
        const st = await lstat(target);
        if (st.size > max) {
          errors.push({ file: rel(full), line: 1, message: `file is ${st.size} bytes, over the ${max}-byte limit` });
          return;
        }
        files.push({ path: rel(full), content: await readFile(target, "utf8") });
      }),
    );
  };
  await walk(base);
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  errors.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return { files, errors };
}
