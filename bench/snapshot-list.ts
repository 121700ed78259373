// Bench (not a test): `kubectl get snapshots` over 100 Repositories of 100 snapshots each, through
// the real API server's aggregation layer to the operator server, beside Stash's approach in the
// same run: one `restic snapshots --json` per Repository per request (what Stash's registry does).
// Goal: warm listings at least 20x faster than Stash's approach.
//
//   node bench/snapshot-list.ts [--repos=100] [--snapshots=100] [--runs=5]
import { execFile, execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startControlPlane } from "../local/control-plane.ts";
import { installCRDs } from "../schema/install.ts";
import { Kube } from "../lib/kube/client.ts";
import { startOperatorServer } from "../server/operator-server.ts";

const arg = (name: string, dflt: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
const PASSWORD = "bench-password";

function run(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((res, rej) =>
    execFile(bin, args, { env, encoding: "utf8", maxBuffer: 256 << 20 }, (err, stdout, stderr) =>
      err ? rej(new Error(`${bin} ${args.join(" ")}: ${stderr}`)) : res(stdout),
    ),
  );
}

async function pool<T>(items: T[], width: number, fn: (x: T) => Promise<unknown>) {
  let i = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (i < items.length) await fn(items[i++]);
    }),
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const v = await fn();
  return [performance.now() - t, v];
}

async function main() {
  const repos = arg("repos", 100);
  const perRepo = arg("snapshots", 100);
  const runs = arg("runs", 5);
  const root = resolve(import.meta.dirname, "..");
  const toolsDir = execFileSync("bash", [join(root, "scripts/install-tools.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
    .trim()
    .split("\n")
    .pop()!;
  const work = mkdtempSync(join(tmpdir(), "restash-bench-snapshots-"));
  const cp = await startControlPlane();
  const env = { ...process.env, PATH: `${toolsDir}:${cp.binDir}:${process.env.PATH}` };
  const resticEnv = (repo: string) => ({ PATH: env.PATH, HOME: process.env.HOME, RESTIC_REPOSITORY: repo, RESTIC_PASSWORD: PASSWORD });
  try {
    const kube = Kube.fromFile(cp.kubeconfig);
    await installCRDs(kube);

    // One real restic repository with `perRepo` snapshots, copied to make `repos` repositories.
    const seed = join(work, "seed");
    await run("restic", ["init"], resticEnv(seed));
    const data = join(work, "data");
    mkdirSync(data);
    const t0 = performance.now();
    await pool(
      Array.from({ length: perRepo }, (_, i) => i),
      4,
      async (i) => {
        writeFileSync(join(data, `f${i}`), `snapshot ${i}\n`);
        await run("restic", ["backup", "--no-cache", "--quiet", "--host", `host-${i % 3}`, data], resticEnv(seed));
      },
    );
    console.log(`made ${perRepo} snapshots in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const ns = "bench-snapshots";
    await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    await kube.apply({ apiVersion: "v1", kind: "Secret", metadata: { name: "restic", namespace: ns }, stringData: { RESTIC_PASSWORD: PASSWORD } });
    const dirs: string[] = [];
    for (let r = 0; r < repos; r++) {
      const dir = join(work, `repo-${r}`);
      cpSync(seed, dir, { recursive: true });
      dirs.push(dir);
      await kube.apply({
        apiVersion: "stash.appscode.com/v1alpha1",
        kind: "Repository",
        metadata: { name: `repo-${r}`, namespace: ns },
        spec: { backend: { storageSecretName: "restic", local: { mountPath: dir, hostPath: { path: dir } } } },
      });
    }

    const server = await startOperatorServer({ kube, inject: { image: "restash:bench" }, resticBin: join(toolsDir, "restic") });
    await server.registerWithApiServer({ webhooks: false });
    const kubectl = () => run("kubectl", ["--kubeconfig", cp.kubeconfig, "get", "snapshots", "-n", ns, "--no-headers", "--request-timeout=600s"], env);

    const [coldMs, coldOut] = await timed(kubectl);
    const rows = coldOut.trim().split("\n").length;
    if (rows !== repos * perRepo) throw new Error(`kubectl listed ${rows} snapshots, expected ${repos * perRepo}`);
    const warm: number[] = [];
    for (let i = 0; i < runs; i++) warm.push((await timed(kubectl))[0]);

    // Stash's approach: one restic process per repository for every list request, in sequence.
    const stash: number[] = [];
    for (let i = 0; i < Math.max(2, Math.ceil(runs / 2)); i++) {
      const [ms] = await timed(async () => {
        let n = 0;
        for (const dir of dirs) n += (JSON.parse(await run("restic", ["snapshots", "--json", "--no-lock", "--no-cache"], resticEnv(dir))) as unknown[]).length;
        if (n !== repos * perRepo) throw new Error(`restic listed ${n}`);
      });
      stash.push(ms);
    }
    // The kubectl process itself, against a built-in resource, for scale.
    const [kubectlFloorMs] = await timed(() => run("kubectl", ["--kubeconfig", cp.kubeconfig, "get", "namespaces", "--no-headers"], env));

    const w = median(warm);
    const s = median(stash);
    console.log(`repositories: ${repos}, snapshots each: ${perRepo}, rows listed: ${rows}`);
    console.log(`kubectl get snapshots, cold (index empty): ${coldMs.toFixed(0)} ms`);
    console.log(`kubectl get snapshots, warm (median of ${runs}): ${w.toFixed(0)} ms  [${warm.map((x) => x.toFixed(0)).join(", ")}]`);
    console.log(
      `Stash's approach, restic snapshots per repository (median of ${stash.length}): ${s.toFixed(0)} ms  [${stash.map((x) => x.toFixed(0)).join(", ")}]`,
    );
    console.log(`kubectl get namespaces (process floor): ${kubectlFloorMs.toFixed(0)} ms`);
    console.log(`ratio Stash / restash warm: ${(s / w).toFixed(1)}x (goal >= 20x)`);
    await server.stop();
  } finally {
    await cp.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
