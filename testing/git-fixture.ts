// Test helper: real Git repositories on disk. A bare "remote", and work clones that commit and
// push (or force-push) the way people do. Used by the sync tests and the benchmark.
import { mkdtemp, mkdir, writeFile, rm, rename as fsRename, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { SimpleGit } from "simple-git";
import { gitAt } from "../reconciler/gitops/git-source.ts";

const IDENTITY = { GIT_AUTHOR_NAME: "Test", GIT_AUTHOR_EMAIL: "test@example.com", GIT_COMMITTER_NAME: "Test", GIT_COMMITTER_EMAIL: "test@example.com" };

export interface WorkClone {
  dir: string;
  git: SimpleGit;
  write(files: Record<string, string>): Promise<void>;
  remove(...paths: string[]): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  link(path: string, target: string): Promise<void>;
  /** Commits everything and pushes; returns the new head. */
  commitAndPush(message: string, opts?: { force?: boolean }): Promise<string>;
  head(): Promise<string>;
}

export interface GitRemote {
  /** The bare repository's path; its file:// URL is `url`. */
  bare: string;
  url: string;
  root: string;
  clone(name?: string): Promise<WorkClone>;
  cleanup(): Promise<void>;
}

export async function createRemote(branch = "main"): Promise<GitRemote> {
  const root = await mkdtemp(join(tmpdir(), "restash-git-"));
  const bare = join(root, "remote.git");
  await mkdir(bare);
  await gitAt(bare).raw(["init", "--bare", "-q", `--initial-branch=${branch}`]);
  let n = 0;
  const url = `file://${bare}`;
  return {
    bare,
    url,
    root,
    async clone(name = `clone-${++n}`) {
      const dir = join(root, name);
      await mkdir(dir);
      const git = gitAt(dir, IDENTITY);
      await git.raw(["init", "-q", `--initial-branch=${branch}`]);
      await git.addRemote("origin", url);
      try {
        await git.raw(["fetch", "-q", "origin", `${branch}`]);
        await git.raw(["reset", "-q", "--hard", `origin/${branch}`]);
      } catch {
        /* empty remote */
      }
      const c: WorkClone = {
        dir,
        git,
        async write(files) {
          for (const [p, content] of Object.entries(files)) {
            await mkdir(dirname(join(dir, p)), { recursive: true });
            await writeFile(join(dir, p), content);
          }
        },
        async remove(...paths) {
          for (const p of paths) await rm(join(dir, p), { force: true, recursive: true });
        },
        async rename(from, to) {
          await mkdir(dirname(join(dir, to)), { recursive: true });
          await fsRename(join(dir, from), join(dir, to));
        },
        async link(p, target) {
          await mkdir(dirname(join(dir, p)), { recursive: true });
          await symlink(target, join(dir, p));
        },
        async commitAndPush(message, opts = {}) {
          await git.raw(["add", "-A"]);
          await git.raw(["commit", "-q", "--allow-empty", "-m", message]);
          await git.raw(["push", "-q", ...(opts.force ? ["--force"] : []), "origin", `HEAD:refs/heads/${branch}`]);
          return c.head();
        },
        head: () => git.revparse(["HEAD"]),
      };
      return c;
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}
