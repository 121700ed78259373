// Support for the end-to-end tests: start the runner exactly as the sidecar, init-container or
// CronJob would (same args from the objects the operator wrote, same environment), a fixture
// tree, and a tree hash. Test support only: real processes, real restic, real API server.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import type { TestContext } from "node:test";

export const MAIN = resolve(import.meta.dirname, "../restic-runner/main.ts");

export interface RunnerProcess {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  /** SIGKILL to the whole process group (the runner and its restic). */
  kill9: () => void;
  stop: () => Promise<void>;
}

export function startRunner(args: string[], env: Record<string, string | undefined>): RunnerProcess {
  const proc = spawn(process.execPath, [MAIN, ...args], { env: env as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
  const group = (sig: NodeJS.Signals) => {
    try {
      process.kill(-proc.pid!, sig);
    } catch {
      /* gone */
    }
  };
  return {
    proc,
    output: () => out,
    exited,
    kill9: () => group("SIGKILL"),
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      group("SIGTERM");
      const t = setTimeout(() => group("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Runs the runner to completion; resolves with exit code and output. */
export async function runRunner(args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; output: string }> {
  const r = startRunner(args, env);
  const code = await r.exited;
  return { code, output: r.output() };
}

/**
 * A real HTTP server for Stash's httpGet/httpPost hooks, closed after the test: it records each call
 * as "METHOD /path body" (with ` [note()]` when `note` is given, e.g. what the hook saw on disk) and
 * answers 500 to paths under /fail, 200 to the rest.
 */
export async function hookServer(t: Pick<TestContext, "after">, note?: () => string): Promise<{ calls: string[]; port: number }> {
  const calls: string[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      calls.push(`${req.method} ${req.url}${body ? ` ${body}` : ""}${note ? ` [${note()}]` : ""}`);
      res.statusCode = req.url?.startsWith("/fail") ? 500 : 200;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => server.close());
  return { calls, port: (server.address() as AddressInfo).port };
}

/** Deterministic pseudo-random bytes (xorshift), so fixture content is reproducible. */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/**
 * A tree with nested dirs, text and binary files, empty files, unicode names, symlinks, modes and
 * one large file of `bigMiB` MiB.
 */
export function makeFixtureTree(root: string, bigMiB = 20): void {
  mkdirSync(join(root, "a/b/c"), { recursive: true });
  mkdirSync(join(root, "empty-dir"), { recursive: true });
  mkdirSync(join(root, "ünïcødé/日本語"), { recursive: true });
  writeFileSync(join(root, "README.txt"), "hello restash\n".repeat(100));
  writeFileSync(join(root, "a/b/c/deep.txt"), "deep\n");
  writeFileSync(join(root, "a/empty.txt"), "");
  writeFileSync(join(root, "a/b/bin.dat"), bytes(64 * 1024, 7));
  writeFileSync(join(root, "ünïcødé/日本語/ファイル.txt"), "こんにちは\n");
  writeFileSync(join(root, "script.sh"), "#!/bin/sh\necho hi\n");
  chmodSync(join(root, "script.sh"), 0o755);
  writeFileSync(join(root, "secret.key"), "k\n");
  chmodSync(join(root, "secret.key"), 0o600);
  symlinkSync("a/b/c/deep.txt", join(root, "link-to-deep"));
  symlinkSync("does-not-exist", join(root, "dangling-link"));
  // The large file is written in 1 MiB chunks of distinct content.
  const big = join(root, "big.bin");
  writeFileSync(big, "");
  for (let i = 0; i < bigMiB; i++) writeFileSync(big, bytes(1 << 20, 1000 + i), { flag: "a" });
}

/** A hash of a tree: every entry's relative path, type, permission bits and content or link target. */
export function treeHash(root: string): string {
  const h = createHash("sha256");
  const walk = (rel: string) => {
    const abs = join(root, rel);
    const names = readdirSync(abs).sort();
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      const st = lstatSync(join(root, r));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) h.update(`L ${r} ${readlinkSync(join(root, r))}\n`);
      else if (st.isDirectory()) {
        h.update(`D ${r} ${mode}\n`);
        walk(r);
      } else
        h.update(
          `F ${r} ${mode} ${createHash("sha256")
            .update(readFileSync(join(root, r)))
            .digest("hex")}\n`,
        );
    }
  };
  walk("");
  return h.digest("hex");
}
