// What restash's restic engine costs on top of plain restic: backup and restore of one large file
// and of many small files, through restic-runner/restic/ and through the bare `restic` binary with
// the same flags, alternating in one process so both see the same machine. Prints medians and the
// ratio engine/plain (goal: within 3%) of wall time and of CPU time (restic's user+sys, read by a
// bash `times` wrapper, plus this Node process's own CPU): on a shared, loaded machine the CPU
// ratio is the stable one. Not a test: `node bench/restic-overhead.ts [--large-mb N] [--small N]
// [--rounds N]`.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { generateSmallFiles, writeSeededFile } from "../fixtures/data/generate.ts";
import { resticBackend, writeBackendFiles } from "../restic-runner/backend.ts";
import { backup } from "../restic-runner/restic/backup.ts";
import { ensureRepository } from "../restic-runner/restic/init.ts";
import { restore } from "../restic-runner/restic/restore.ts";
import type { ResticContext } from "../restic-runner/restic/run.ts";
import { toolsDir } from "../testing/services.ts";

const { values } = parseArgs({
  options: {
    "large-mb": { type: "string", default: "128" },
    small: { type: "string", default: "20000" },
    rounds: { type: "string", default: "3" },
  },
});
const largeMb = Number(values["large-mb"]);
const smallCount = Number(values.small);
const rounds = Number(values.rounds);

const root = mkdtempSync(join(tmpdir(), "restash-bench-"));
process.on("exit", () => rmSync(root, { recursive: true, force: true }));
const realRestic = join(toolsDir(), "restic");
const timesFile = join(root, "times");
// Both sides start restic through this wrapper, which records restic's CPU time.
const bin = join(root, "restic-timed");
writeFileSync(bin, `#!/bin/bash\n"$BENCH_RESTIC" "$@"\nrc=$?\ntimes > "$BENCH_TIMES"\nexit $rc\n`, { mode: 0o755 });
const baseEnv = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", BENCH_RESTIC: realRestic, BENCH_TIMES: timesFile };
let seq = 0;

/** restic's user+sys seconds from the wrapper's `times` output (second line: children). */
function resticCpu(): number {
  const line = readFileSync(timesFile, "utf8").trim().split("\n")[1] ?? "";
  return line.split(/\s+/).reduce((acc, t) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(t);
    return acc + (m ? Number(m[1]) * 60 + Number(m[2]) : 0);
  }, 0);
}

async function freshRepo(): Promise<ResticContext> {
  const dir = join(root, `r${seq++}`);
  const backend = resticBackend({ metadata: { name: "bench", namespace: "bench" }, spec: { backend: { local: { mountPath: join(dir, "repo") } } } }, { RESTIC_PASSWORD: "bench-password" }, { scratchDir: join(dir, "scratch") });
  await writeBackendFiles(backend);
  const ctx: ResticContext = { backend, bin, baseEnv };
  await ensureRepository(ctx);
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Sample {
  wallMs: number;
  cpuMs: number;
}

async function time(fn: () => Promise<unknown>): Promise<Sample> {
  const t = performance.now();
  const c = process.cpuUsage();
  await fn();
  const own = process.cpuUsage(c);
  return { wallMs: performance.now() - t, cpuMs: resticCpu() * 1000 + (own.user + own.system) / 1000 };
}

interface Row {
  name: string;
  plain: Sample[];
  engine: Sample[];
}

async function measure(name: string, src: string): Promise<Row[]> {
  const b: Row = { name: `backup  ${name}`, plain: [], engine: [] };
  const r: Row = { name: `restore ${name}`, plain: [], engine: [] };
  for (let i = 0; i < rounds; i++) {
    // Alternate the order each round so neither side always runs on a warmer page cache.
    const order = i % 2 === 0 ? (["plain", "engine"] as const) : (["engine", "plain"] as const);
    for (const who of order) {
      const ctx = await freshRepo();
      const backupArgs = ["backup", src, "--json", "--quiet", "--cleanup-cache"];
      b[who].push(await time(() => (who === "plain" ? plain(ctx, backupArgs) : backup(ctx, { path: src }))));
      const target = join(root, `t${seq++}`);
      r[who].push(await time(() => (who === "plain" ? plain(ctx, ["restore", "latest", "--target", target, "--json"]) : restore(ctx, { snapshot: "latest", target }))));
      rmSync(target, { recursive: true, force: true });
    }
    process.stderr.write(`  ${name}: round ${i + 1}/${rounds} done\n`);
  }
  return [b, r];
}

const largeDir = join(root, "large");
const smallDir = join(root, "small");
process.stderr.write(`generating ${largeMb} MiB file and ${smallCount} small files in ${root}\n`);
await writeSeededFile(join(largeDir, "big.bin"), largeMb * 2 ** 20, "bench");
const small = await generateSmallFiles(smallDir, smallCount);

const rows = [...(await measure(`1 file of ${largeMb} MiB`, largeDir)), ...(await measure(`${smallCount} small files (${(small.bytes / 2 ** 20).toFixed(1)} MiB)`, smallDir))];
console.log(`\nrestic engine overhead vs plain restic (median of ${rounds} alternating rounds, one process, ${realRestic})`);
console.log("operation".padEnd(44) + "wall plain".padStart(11) + "engine".padStart(8) + "ratio".padStart(7) + "cpu plain".padStart(11) + "engine".padStart(8) + "ratio".padStart(7));
for (const row of rows) {
  const pw = median(row.plain.map((x) => x.wallMs));
  const ew = median(row.engine.map((x) => x.wallMs));
  const pc = median(row.plain.map((x) => x.cpuMs));
  const ec = median(row.engine.map((x) => x.cpuMs));
  console.log(row.name.padEnd(44) + pw.toFixed(0).padStart(11) + ew.toFixed(0).padStart(8) + (ew / pw).toFixed(3).padStart(7) + pc.toFixed(0).padStart(11) + ec.toFixed(0).padStart(8) + (ec / pc).toFixed(3).padStart(7));
}
