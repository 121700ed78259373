// `npm run bench -- <name> [args...]`: runs bench/<name>.ts with the args, on this Node, with the
// terminal's stdio, and exits with its code. With no name it lists the benches (each file's first
// header comment line); an unknown name lists them too, names the closest one and exits 2.
import { spawn } from "node:child_process";
import { globSync, readFileSync } from "node:fs";
import { constants } from "node:os";
import { basename, join, resolve } from "node:path";

export const BENCH_DIR = resolve(import.meta.dirname, "../bench");

export interface Bench {
  name: string;
  file: string;
  /** The first line of the file's header comment. */
  summary: string;
}

export function listBenches(dir = BENCH_DIR): Bench[] {
  return globSync("*.ts", { cwd: dir })
    .filter((f) => !f.endsWith(".test.ts"))
    .sort()
    .map((f) => {
      const file = join(dir, f);
      const comment = readFileSync(file, "utf8")
        .split("\n")
        .find((l) => l.startsWith("//"));
      return { name: basename(f, ".ts"), file, summary: comment?.replace(/^\/\/\s?/, "").trim() ?? "" };
    });
}

export function formatList(benches: Bench[]): string {
  const width = Math.max(0, ...benches.map((b) => b.name.length));
  return "usage: npm run bench -- <name> [args...]   (runs bench/<name>.ts)\n" + benches.map((b) => `  ${b.name.padEnd(width)}  ${b.summary}\n`).join("");
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

/** The name nearest to `name`: one that contains it first (`webhook` → webhook-latency), else the fewest edits. */
export function closest(name: string, names: string[]): string | undefined {
  const score = (n: string) => (n.includes(name) ? n.length - name.length - 1000 : editDistance(name, n));
  return [...names].sort((a, b) => score(a) - score(b) || (a < b ? -1 : 1))[0];
}

export interface BenchIO {
  out: (s: string) => void;
  err: (s: string) => void;
}

/** Resolves with the exit code to leave with (a bench killed by a signal: 128 + its number). */
export function runBench(argv: string[], io: BenchIO, dir = BENCH_DIR): Promise<number> {
  const benches = listBenches(dir);
  const [arg, ...rest] = argv;
  if (!arg || arg === "--help" || arg === "-h") {
    io.out(formatList(benches));
    return Promise.resolve(0);
  }
  const name = basename(arg).replace(/\.ts$/, "");
  const bench = benches.find((b) => b.name === name);
  if (!bench) {
    const near = closest(
      name,
      benches.map((b) => b.name),
    );
    io.err(`unknown bench "${arg}"${near ? `; the closest is "${near}"` : ""}\n${formatList(benches)}`);
    return Promise.resolve(2);
  }
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [bench.file, ...rest], { stdio: "inherit" });
    // Ctrl-C reaches the bench through the terminal's process group; a SIGTERM sent to this
    // process alone is passed on so the bench can stop what it started.
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    const ignore = () => {};
    process.on("SIGTERM", forward).on("SIGHUP", forward).on("SIGINT", ignore);
    child.on("error", fail);
    child.on("exit", (code, signal) => {
      process.off("SIGTERM", forward).off("SIGHUP", forward).off("SIGINT", ignore);
      done(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}

if (import.meta.main) {
  process.exitCode = await runBench(process.argv.slice(2), { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) });
}
