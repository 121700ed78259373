// What restash's restic engine costs on top of plain restic: backup and restore of one large file
// and of many small files, through restic-runner/restic/ and through the bare `restic` binary with
// the same flags, alternating in one process so both see the same machine. Prints medians and the
// ratio engine/plain (goal: within 3%). Not a test: `node bench/restic-overhead.ts [--large-mb N]
// [--small N] [--rounds N]`.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
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
const bin = join(toolsDir(), "restic");
let seq = 0;

async function freshRepo(): Promise<ResticContext> {
  const dir = join(root, `r${seq++}`);
  const backend = resticBackend({ metadata: { name: "bench", namespace: "bench" }, spec: { backend: { local: { mountPath: join(dir, "repo") } } } }, { RESTIC_PASSWORD: "bench-password" }, { scratchDir: join(dir, "scratch") });
  await writeBackendFiles(backend);
  const ctx: ResticContext = { backend, bin };
  await ensureRepository(ctx);
  return ctx;
}

/** The same restic command line the engine runs, started directly. */
function plain(ctx: ResticContext, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [...args, ...ctx.backend.args], { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...ctx.backend.env }, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c));
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`restic ${args[0]} exit ${code}: ${err.slice(-300)}`))));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

interface Row {
  name: string;
  plain: number[];
  engine: number[];
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
console.log(`\nrestic engine overhead (median of ${rounds}, same process, restic ${bin})`);
console.log("operation".padEnd(44) + "plain ms".padStart(10) + "engine ms".padStart(11) + "ratio".padStart(8));
for (const row of rows) {
  const p = median(row.plain);
  const e = median(row.engine);
  console.log(row.name.padEnd(44) + p.toFixed(0).padStart(10) + e.toFixed(0).padStart(11) + (e / p).toFixed(3).padStart(8));
}
