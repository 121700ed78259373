// Bench (not a test): 1,000 BackupConfigurations created at once against a real API server.
// Measures the time until every one has its CronJob (and its Deployment its sidecar), and the
// operator's peak RSS (goal < 150 MB). The operator runs in a child process so its memory is its
// own. Reference in the same run: the same number of CronJobs applied directly by one client
// (the API server's own pace), printed as a ratio.
//
//   node bench/controllers-scale.ts [--count=1000] [--concurrency=16]
//   RESTASH_BENCH_NODE_FLAGS="--max-old-space-size=96 --max-semi-space-size=2" caps the operator's heap.
//
// Measured on the 2-core shared machine (other engineers' suites running): 1,000 BCs -> all
// CronJobs in 45 s (reference 4.5 s, 10x), peak RSS 295 MiB; with the heap flags 93 s, 187 MiB.
// Loading @kubernetes/client-node alone costs ~85 MiB RSS (idle operator ~150 MiB).
import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { startControlPlane } from "../local/control-plane.ts";
import { installCRDs } from "../schema/install.ts";
import { Kube } from "../lib/kube/client.ts";
import { startOperator } from "../reconciler/operator.ts";
import { desiredCronJob } from "../reconciler/controllers/cronjob.ts";
import { backupConfiguration, deployment, repository, secret } from "../reconciler/controllers/test-fixtures.ts";

const arg = (name: string, dflt: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);

async function operatorChild(kubeconfig: string, namespace: string, concurrency: number) {
  const op = startOperator({ kube: Kube.fromFile(kubeconfig), namespace, image: "restash:bench", concurrency });
  await op.synced;
  process.send?.({ ready: true });
  process.on("message", async (m: any) => {
    if (m?.stop) {
      await op.stop();
      process.send?.({ stopped: true, maxRssKiB: process.resourceUsage().maxRSS });
      process.exit(0);
    }
  });
}

/** Resident set size of a process from /proc, in KiB. */
function rssKiB(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) : 0;
}

async function pool<T>(items: T[], width: number, fn: (x: T) => Promise<unknown>) {
  let i = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (i < items.length) await fn(items[i++]);
  }));
}

async function countCronJobs(kube: Kube, ns: string): Promise<number> {
  return (await kube.list("batch/v1", "CronJob", ns)).items.length;
}

async function main() {
  const count = arg("count", 1000);
  const concurrency = arg("concurrency", 16);
  const cp = await startControlPlane();
  try {
    const kube = Kube.fromFile(cp.kubeconfig);
    await installCRDs(kube);

    // Reference: the same number of CronJobs applied directly, 16 at a time.
    const refNs = "bench-reference";
    await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: refNs } });
    const t0 = performance.now();
    await pool([...Array(count).keys()], 16, (i) => {
      const cj = desiredCronJob({ apiVersion: "stash.appscode.com/v1beta1", kind: "BackupConfiguration", metadata: { name: `ref-${i}`, namespace: refNs, uid: "00000000-0000-0000-0000-000000000000" }, spec: { schedule: "*/5 * * * *" } }, { image: "restash:bench" });
      delete cj.metadata.ownerReferences;
      return kube.apply(cj, { force: true });
    });
    const referenceMs = performance.now() - t0;

    const ns = "bench";
    await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    await kube.apply(secret(ns, "repo-secret", { RESTIC_PASSWORD: "bench-password" }));
    await kube.apply(repository(ns, "repo", { s3: { endpoint: "http://127.0.0.1:1", bucket: "bench" } }));
    await pool([...Array(count).keys()], 16, (i) => kube.apply(deployment(ns, `app-${i}`)));

    const child = fork(import.meta.filename, ["--operator", cp.kubeconfig, ns, String(concurrency)], { stdio: "inherit", execArgv: [...(process.env.RESTASH_BENCH_NODE_FLAGS ?? "").split(" ").filter(Boolean), ...(process.env.RESTASH_BENCH_PROF ? ["--cpu-prof", "--cpu-prof-dir=/tmp/restash-prof"] : [])] });
    await new Promise<void>((r) => child.on("message", (m: any) => m?.ready && r()));
    let peakKiB = rssKiB(child.pid!);
    const sampler = setInterval(() => {
      try {
        peakKiB = Math.max(peakKiB, rssKiB(child.pid!));
      } catch {
        /* exited */
      }
    }, 100);

    const t1 = performance.now();
    await pool([...Array(count).keys()], 16, (i) => kube.create(backupConfiguration(ns, `bc-${i}`, { kind: "Deployment", name: `app-${i}` }, "repo")));
    const createdMs = performance.now() - t1;
    let cronJobs = 0;
    while ((cronJobs = await countCronJobs(kube, ns)) < count) await new Promise((r) => setTimeout(r, 200));
    const allCronJobsMs = performance.now() - t1;
    let ready = 0;
    for (;;) {
      const bcs = (await kube.list<any>("stash.appscode.com/v1beta1", "BackupConfiguration", ns)).items;
      ready = bcs.filter((b) => b.status?.phase === "Ready").length;
      if (ready >= count) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const allReadyMs = performance.now() - t1;
    const deps = (await kube.list<any>("apps/v1", "Deployment", ns)).items;
    const withSidecar = deps.filter((d) => d.spec.template.spec.containers.some((c: any) => c.name === "stash")).length;
    const repo = await kube.get<any>("stash.appscode.com/v1alpha1", "Repository", "repo", ns);

    clearInterval(sampler);
    const stopped = await new Promise<any>((r) => {
      child.on("message", (m: any) => m?.stopped && r(m));
      child.send({ stop: true });
    });
    peakKiB = Math.max(peakKiB, stopped.maxRssKiB ?? 0);

    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    console.log(`controllers-scale: ${count} BackupConfigurations, operator concurrency ${concurrency} per kind`);
    console.log(`  created (client, 16 at a time):        ${s(createdMs)}`);
    console.log(`  all ${cronJobs} CronJobs exist:            ${s(allCronJobsMs)}`);
    console.log(`  all ${ready} phase Ready:                 ${s(allReadyMs)}   sidecars injected: ${withSidecar}/${count}   Repository references: ${repo.status?.references?.length ?? 0}`);
    console.log(`  reference: ${count} CronJobs applied directly: ${s(referenceMs)}   ratio (operator all-CronJobs / reference): ${(allCronJobsMs / referenceMs).toFixed(2)}x`);
    console.log(`  operator peak RSS: ${(peakKiB / 1024).toFixed(1)} MiB (goal < 150 MB)`);
  } finally {
    await cp.stop();
  }
}

if (process.argv[2] === "--operator") await operatorChild(process.argv[3], process.argv[4], Number(process.argv[5] ?? 16));
else await main();
