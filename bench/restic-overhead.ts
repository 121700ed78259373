// What restash costs on top of plain restic (issue goal: within 3%), in two parts.
//
// 1. The data path, like with like: `restic backup` and `restic restore` of one large file and of
//    tens of thousands of small files, run through restash's restic engine (restic-runner/restic:
//    the same invocation plus JSON parsing, progress, redaction) and as the bare binary with the
//    same flags. Plain and restash runs are interleaved pair by pair (the order flips every round,
//    so neither side always gets the warmer page cache), each on a fresh repository, for several
//    rounds. Per round the ratio restash/plain is taken; the median and the min of those ratios
//    are printed, for wall time and for CPU time (restic's user+sys, read by a bash `times`
//    wrapper, plus this Node process's own CPU). Then restash's own CPU per call (this process,
//    restash run minus plain run): what restash adds around the same restic process, free of the
//    filesystem's noise (a restore of 20,000 small files varies by tens of percent run to run).
// 2. The fixed extra cost of one host's backup as the runner does it (run-backup.ts): the restic
//    calls restash makes beside `backup` (one `list locks` that is also the repository probe,
//    retention, the integrity check with the statistics beside it), each timed, against a plain
//    `restic backup` of the same data on the same repository; median over rounds. These are
//    Stash's pre/post-backup actions: a plain restic user who wants them pays them too.
//
// Not a test: `node bench/restic-overhead.ts [--large-mb N] [--small N] [--rounds N] [--part data|extras|all]`.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, hostname } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { generateSmallFiles, writeSeededFile } from "../fixtures/data/generate.ts";
import { resticBackend, writeBackendFiles } from "../restic/backend.ts";
import { backup } from "../restic/backup.ts";
import { ensureRepository } from "../restic/init.ts";
import { restore } from "../restic/restore.ts";
import type { ResticContext } from "../restic/run.ts";
import { openRepositoryClearingLocks, postBackupActions } from "../restic-runner/tasks/post-backup.ts";
import { retentionArgs } from "../restic-runner/commands/run-backup.ts";
import { toolsDir } from "../testing/services.ts";

const { values } = parseArgs({
  options: {
    "large-mb": { type: "string", default: "256" },
    small: { type: "string", default: "20000" },
    rounds: { type: "string", default: "5" },
    part: { type: "string", default: "all" },
  },
});
const largeMb = Number(values["large-mb"]);
const smallCount = Number(values.small);
const rounds = Number(values.rounds);
const part = values.part!;

const root = mkdtempSync(join(tmpdir(), "restash-bench-"));
process.on("exit", () => rmSync(root, { recursive: true, force: true }));
const realRestic = join(toolsDir(), "restic");
const timesFile = join(root, "times");
// Both sides start restic through this wrapper, which records restic's CPU time.
const bin = join(root, "restic-timed");
writeFileSync(bin, `#!/bin/bash\n"$BENCH_RESTIC" "$@"\nrc=$?\ntimes >> "$BENCH_TIMES"\nexit $rc\n`, { mode: 0o755 });
const baseEnv = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", BENCH_RESTIC: realRestic, BENCH_TIMES: timesFile };
let seq = 0;

/** restic's user+sys seconds, summed over every call since the file was removed (`times` prints the shell's line, then its children's). */
function resticCpu(): number {
  let text: string;
  try {
    text = readFileSync(timesFile, "utf8");
  } catch {
    return 0;
  }
  const lines = text.trim().split("\n");
  let total = 0;
  for (let i = 1; i < lines.length; i += 2) {
    for (const t of lines[i].split(/\s+/)) {
      const m = /^(\d+)m([\d.]+)s$/.exec(t);
      if (m) total += Number(m[1]) * 60 + Number(m[2]);
    }
  }
  return total;
}

const repoDirs = new WeakMap<ResticContext, string>();

/** A fresh local repository with the runner's setup (cache in its scratch dir). */
async function freshRepo(): Promise<ResticContext> {
  const dir = join(root, `r${seq++}`);
  const backend = resticBackend(
    { metadata: { name: "bench", namespace: "bench" }, spec: { backend: { local: { mountPath: join(dir, "repo") } } } },
    { RESTIC_PASSWORD: "bench-password" },
    { scratchDir: join(dir, "scratch") },
  );
  await writeBackendFiles(backend);
  const ctx: ResticContext = { backend, bin, baseEnv };
  await ensureRepository(ctx);
  repoDirs.set(ctx, dir);
  return ctx;
}

/** The same restic command line the engine runs, started directly. */
function plain(ctx: ResticContext, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [...args, ...ctx.backend.args], { env: { ...baseEnv, ...ctx.backend.env }, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c));
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`restic ${args[0]} exit ${code}: ${err.slice(-300)}`))));
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const min = (xs: number[]) => Math.min(...xs);

interface Sample {
  wallMs: number;
  cpuMs: number;
  /** This process's own CPU: for a restash call, what restash adds around the same restic process. */
  ownMs: number;
}

/** Wall and CPU of `fn`; CPU is restic's (the wrapper's `times`, summed over its calls) plus this process's. */
async function time(fn: () => Promise<unknown>): Promise<Sample> {
  rmSync(timesFile, { force: true });
  const t = performance.now();
  const c = process.cpuUsage();
  await fn();
  const own = process.cpuUsage(c);
  const ownMs = (own.user + own.system) / 1000;
  return { wallMs: performance.now() - t, cpuMs: resticCpu() * 1000 + ownMs, ownMs };
}

/** Times named steps one after the other. */
async function timeEach(steps: [string, () => Promise<unknown>][]): Promise<Record<string, Sample>> {
  const out: Record<string, Sample> = {};
  for (const [name, fn] of steps) out[name] = await time(fn);
  return out;
}

// ------------------------------------------------------------------ part 1: data path

interface Pair {
  name: string;
  plain: Sample[];
  restash: Sample[];
}

async function dataPath(name: string, src: string): Promise<Pair[]> {
  const b: Pair = { name: `backup  ${name}`, plain: [], restash: [] };
  const r: Pair = { name: `restore ${name}`, plain: [], restash: [] };
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? (["plain", "restash"] as const) : (["restash", "plain"] as const);
    for (const who of order) {
      const ctx = await freshRepo();
      const backupArgs = ["backup", src, "--json", "--quiet", "--host", "bench", "--cleanup-cache"];
      b[who].push(await time(() => (who === "plain" ? plain(ctx, backupArgs) : backup(ctx, { path: src, host: "bench" }))));
      const target = join(root, `t${seq++}`);
      r[who].push(
        await time(() =>
          who === "plain"
            ? plain(ctx, ["restore", `latest:${src}`, "--path", src, "--host", "bench", "--target", target, "--json"])
            : restore(ctx, { snapshot: `latest:${src}`, path: src, host: "bench", target }),
        ),
      );
      rmSync(target, { recursive: true, force: true });
      rmSync(repoDirs.get(ctx)!, { recursive: true, force: true });
    }
    process.stderr.write(`  data path, ${name}: round ${i + 1}/${rounds}\n`);
  }
  return [b, r];
}

function printPairs(rows: Pair[]): void {
  console.log(`\n1. data path: restash's restic engine vs the same restic command (${rounds} interleaved rounds; ratio = restash/plain per round)`);
  console.log("ratios: med = median of the per-round ratios, min = the smallest, best = best restash run / best plain run");
  console.log(
    "operation".padEnd(46) +
      "plain ms".padStart(10) +
      "restash".padStart(9) +
      "wall med".padStart(10) +
      "min".padStart(7) +
      "best".padStart(7) +
      "cpu med".padStart(9) +
      "min".padStart(7) +
      "best".padStart(7),
  );
  for (const row of rows) {
    const wall = row.plain.map((p, i) => row.restash[i].wallMs / p.wallMs);
    const cpu = row.plain.map((p, i) => row.restash[i].cpuMs / p.cpuMs);
    console.log(
      row.name.padEnd(46) +
        median(row.plain.map((x) => x.wallMs))
          .toFixed(0)
          .padStart(10) +
        median(row.restash.map((x) => x.wallMs))
          .toFixed(0)
          .padStart(9) +
        median(wall).toFixed(3).padStart(10) +
        min(wall).toFixed(3).padStart(7) +
        (min(row.restash.map((x) => x.wallMs)) / min(row.plain.map((x) => x.wallMs))).toFixed(3).padStart(7) +
        median(cpu).toFixed(3).padStart(9) +
        min(cpu).toFixed(3).padStart(7) +
        (min(row.restash.map((x) => x.cpuMs)) / min(row.plain.map((x) => x.cpuMs))).toFixed(3).padStart(7),
    );
  }
  // Both sides run the same restic process; what restash itself adds is this process's CPU around
  // it (spawning, reading restic's JSON, redaction). The wall and restic-CPU ratios above also carry
  // the machine's noise (a restore of many small files varies by tens of percent run to run).
  console.log("\nrestash's own CPU per call (this process, restash run minus plain run; median), against the plain run's wall time:");
  for (const row of rows) {
    const extra = median(row.restash.map((x) => x.ownMs)) - median(row.plain.map((x) => x.ownMs));
    console.log(`  ${row.name.padEnd(44)} ${extra.toFixed(1).padStart(7)} ms  = ${((extra / median(row.plain.map((x) => x.wallMs))) * 100).toFixed(2)} %`);
  }
}

// ------------------------------------------------------------------ part 2: extra restic calls

const POLICY = { name: "keep-last-5", keepLast: 5, prune: true };

/** One host's backup as run-backup.ts runs it, each restic call timed; and a plain backup beside it. */
async function extras(name: string, src: string): Promise<void> {
  const ctx = await freshRepo();
  // A repository with history, as a sidecar sees it after a few schedules.
  for (let i = 0; i < 3; i++) await backup(ctx, { path: src, host: "bench" });
  const samples: Record<string, Sample>[] = [];
  const plainSamples: Sample[] = [];
  for (let i = 0; i < rounds; i++) {
    const runHost = async () =>
      timeEach([
        // One `list locks` opens the repository (InitializeBackendRepository's probe) and finds stale locks.
        [
          "repository probe + stale locks",
          () => openRepositoryClearingLocks(ctx, { init: true, conditions: [], secrets: [], isHolderAlive: (l) => l.hostname !== hostname() }),
        ],
        ["backup", () => backup(ctx, { path: src, host: "bench" })],
        [
          "retention, then check beside stats",
          () => postBackupActions(ctx, retentionArgs(POLICY), [], [], ["ApplyRetentionPolicy", "VerifyRepositoryIntegrity", "SendRepositoryMetrics"]),
        ],
      ]);
    const plainBackup = () => time(() => plain(ctx, ["backup", src, "--json", "--quiet", "--host", "bench", "--cleanup-cache"]));
    if (i % 2 === 0) {
      plainSamples.push(await plainBackup());
      samples.push(await runHost());
    } else {
      samples.push(await runHost());
      plainSamples.push(await plainBackup());
    }
    process.stderr.write(`  extras, ${name}: round ${i + 1}/${rounds}\n`);
  }
  const pw = median(plainSamples.map((s) => s.wallMs));
  const pc = median(plainSamples.map((s) => s.cpuMs));
  console.log(`\n2. one host's backup as the runner runs it, ${name} (repository with history; retention keep-last 5 + prune; median of ${rounds})`);
  console.log("step".padEnd(46) + "wall ms".padStart(10) + "cpu ms".padStart(10) + "wall/plain".padStart(12));
  console.log("plain `restic backup`".padEnd(46) + pw.toFixed(0).padStart(10) + pc.toFixed(0).padStart(10) + "1.000".padStart(12));
  let extraWall = 0;
  let extraCpu = 0;
  for (const step of Object.keys(samples[0])) {
    const w = median(samples.map((s) => s[step].wallMs));
    const c = median(samples.map((s) => s[step].cpuMs));
    if (step !== "backup") {
      extraWall += w;
      extraCpu += c;
    }
    console.log(step.padEnd(46) + w.toFixed(0).padStart(10) + c.toFixed(0).padStart(10) + (w / pw).toFixed(3).padStart(12));
  }
  console.log(
    "extra restic calls, total".padEnd(46) + extraWall.toFixed(0).padStart(10) + extraCpu.toFixed(0).padStart(10) + (extraWall / pw).toFixed(3).padStart(12),
  );
}

// ------------------------------------------------------------------ main

const largeDir = join(root, "large");
const smallDir = join(root, "small");
process.stderr.write(`generating a ${largeMb} MiB file and ${smallCount} small files in ${root}\n`);
await writeSeededFile(join(largeDir, "big.bin"), largeMb * 2 ** 20, "bench");
const small = await generateSmallFiles(smallDir, smallCount);
const largeName = `1 file of ${largeMb} MiB`;
const smallName = `${smallCount} small files (${(small.bytes / 2 ** 20).toFixed(1)} MiB)`;
console.log(`restash vs plain restic (${realRestic}); ${rounds} rounds`);
if (part === "all" || part === "data") printPairs([...(await dataPath(largeName, largeDir)), ...(await dataPath(smallName, smallDir))]);
if (part === "all" || part === "extras") {
  await extras(largeName, largeDir);
  await extras(smallName, smallDir);
}
