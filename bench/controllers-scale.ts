// Bench (not a test): 1,000 BackupConfigurations created at once against a real API server.
// Measures the time until every one has its CronJob (and its Deployment its sidecar), reconcile
// throughput, and the operator's memory: peak RSS (goal < 150 MB), peak heapUsed/external, and
// steady heapUsed after a full GC once everything is Ready. The operator runs in a child process so
// its memory is its own. References in the same run: the same number of CronJobs applied directly
// by one client (the API server's own pace), and a bare @kubernetes/client-node process holding
// informers of the same objects (BackupConfigurations, Deployments, CronJobs): what a conventional
// informer-cached operator pays before any controller logic.
//
// V8 heap sizing: the operator container sets NODE_OPTIONS (deploy/operator.yaml: old generation
// at most 256 MB, 1 MiB semi-spaces); without them V8 sizes its heap from this machine's RAM
// (semi-spaces of up to 64 MiB) and RSS grows by ~60 MiB for no throughput. Both children run with the Deployment's
// NODE_OPTIONS, read from deploy/operator.yaml and printed; RESTASH_BENCH_NODE_FLAGS replaces them
// ("" = unconstrained).
//
//   node bench/controllers-scale.ts [--count=1000] [--concurrency=16]
//   RESTASH_BENCH_NODE_FLAGS="..."      V8/Node flags for both children instead of the Deployment's NODE_OPTIONS.
//   RESTASH_BENCH_HEAPSNAPSHOT=DIR      operator heap snapshots mid-run and when Ready.
//   RESTASH_BENCH_ALLOC_PROFILE=FILE    sampled allocations (collected ones too) of the whole run.
//   RESTASH_BENCH_DIAG=1                heap spaces, largest mappings and response bytes per request kind.
//   RESTASH_BENCH_PROF=1                CPU profile to /tmp/restash-prof.
//
// Measured on the 2-core shared machine (other suites running; times vary 2x run to run), 1,000 BCs:
//   before (client-node, full objects, a Repository GET per reconcile): peak RSS 194 MiB with a
//     256 MB heap (298 MiB unconstrained), steady heapUsed 43 MiB, all Ready in 47-68 s.
//   now: peak RSS 137 MiB with the Deployment's NODE_OPTIONS (~195 MiB unconstrained), peak heapUsed
//     29-32 MiB, steady heapUsed 20 MiB, all Ready in ~25-40 s (30-40 reconciles/s); the bare
//     client-node reference holding the same objects: ~160 MiB (~220 MiB unconstrained).
import { fork, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setFlagsFromString, writeHeapSnapshot } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Kube } from "../lib/kube/client.ts";
// Each process imports only what it runs (modules are imported below, where used), so that the
// operator child holds no bench or control-plane code and the reference child no restash code.

const arg = (name: string, dflt: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
const MiB = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

/** The Node options the operator container runs with: NODE_OPTIONS of its container in deploy/operator.yaml. */
async function deploymentNodeOptions(): Promise<{ flags: string[]; limit: string }> {
  const { loadAll } = await import("js-yaml");
  const docs = loadAll(readFileSync(join(import.meta.dirname, "../deploy/operator.yaml"), "utf8")) as any[];
  const dep = docs.find((d) => d?.kind === "Deployment");
  const container = dep?.spec?.template?.spec?.containers?.find((c: any) => c.name === "operator");
  const options = container?.env?.find((e: any) => e.name === "NODE_OPTIONS")?.value;
  if (typeof options !== "string") throw new Error("deploy/operator.yaml: the operator container sets no NODE_OPTIONS");
  return { flags: options.split(/\s+/).filter(Boolean), limit: String(container?.resources?.limits?.memory ?? "none") };
}

/** Peaks of process.memoryUsage() fields, sampled every 50 ms, and a steady reading after a full GC. */
function memorySampler() {
  const peak = { rss: 0, heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    for (const k of Object.keys(peak) as (keyof typeof peak)[]) peak[k] = Math.max(peak[k], m[k]);
  };
  sample();
  const t = setInterval(sample, 50);
  return {
    report() {
      clearInterval(t);
      sample();
      setFlagsFromString("--expose-gc");
      const gc = runInNewContext("gc") as () => void;
      gc();
      gc();
      const steady = process.memoryUsage();
      return { peak: { ...peak, rss: Math.max(peak.rss, process.resourceUsage().maxRSS * 1024) }, steady };
    },
  };
}

/** The biggest resident mappings of this process (diagnostics). */
function largestMappings(): string {
  const out: [number, string][] = [];
  let head = "";
  for (const line of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) head = line;
    const m = line.match(/^Rss:\s+(\d+) kB/);
    if (m) out.push([Number(m[1]), head]);
  }
  return out
    .sort((a, b) => b[0] - a[0])
    .slice(0, 15)
    .map(([kb, h]) => `  ${(kb / 1024).toFixed(1).padStart(7)} MiB ${h}`)
    .join("\n");
}

type MemoryReport = ReturnType<ReturnType<typeof memorySampler>["report"]>;

async function operatorChild(kubeconfig: string, namespace: string, concurrency: number) {
  const mem = memorySampler();
  const { startOperator } = await import("../reconciler/operator.ts");
  const { Kube } = await import("../lib/kube/client.ts");
  const reconciles: Record<string, number> = {};
  const metrics = {
    observe<T>(kind: string, fn: () => Promise<T>): Promise<T> {
      reconciles[kind] = (reconciles[kind] ?? 0) + 1;
      return fn();
    },
  };
  let allocProfile: (() => Promise<void>) | undefined;
  if (process.env.RESTASH_BENCH_ALLOC_PROFILE) {
    // Every allocation sampled, collected or not: where the garbage comes from.
    const { Session } = await import("node:inspector/promises");
    const { writeFileSync } = await import("node:fs");
    const session = new Session();
    session.connect();
    await session.post("HeapProfiler.startSampling", {
      samplingInterval: 32768,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    allocProfile = async () => {
      const { profile } = await session.post("HeapProfiler.stopSampling");
      writeFileSync(process.env.RESTASH_BENCH_ALLOC_PROFILE!, JSON.stringify(profile));
    };
  }
  const bodies = new Map<string, [number, number]>();
  if (process.env.RESTASH_BENCH_DIAG) {
    // Response bytes per request kind (method and path with names dropped).
    const request = Kube.prototype.request;
    Kube.prototype.request = async function (this: Kube, path: string, init: any = {}) {
      const res = await request.call(this, path, init);
      const k = `${init.method ?? "GET"} ${path.replace(/\/namespaces\/[^/]+/, "/namespaces/-").replace(/^(.*\/namespaces\/-\/[^/]+)\/[^/]+/, "$1/-")}`;
      const b = bodies.get(k) ?? [0, 0];
      b[0]++;
      b[1] += JSON.stringify(res ?? "").length;
      bodies.set(k, b);
      return res;
    } as any;
  }
  const op = startOperator({ kube: Kube.fromFile(kubeconfig), namespace, image: "restash:bench", concurrency, metrics });
  await op.synced;
  if (process.env.RESTASH_BENCH_DIAG) console.log(`operator synced: ${JSON.stringify(process.memoryUsage())}\n${largestMappings()}`);
  process.send?.({ ready: true });
  process.on("message", async (m: any) => {
    if (m?.snapshot) {
      const file = writeHeapSnapshot(join(m.snapshot, `operator-${m.label}.heapsnapshot`));
      process.send?.({ snapshotWritten: file });
    }
    if (m?.stop) {
      await allocProfile?.();
      const memory = mem.report();
      if (process.env.RESTASH_BENCH_DIAG) {
        const { getHeapSpaceStatistics, getHeapStatistics } = await import("node:v8");
        console.log(
          "operator heap spaces (used/size MiB):",
          getHeapSpaceStatistics()
            .map((s) => `${s.space_name} ${MiB(s.space_used_size)}/${MiB(s.space_size)}`)
            .join(", "),
        );
        console.log("operator heap statistics:", JSON.stringify(getHeapStatistics()));
        console.log("operator largest mappings (Rss):\n" + largestMappings());
        console.log(
          "operator smaps_rollup:",
          readFileSync("/proc/self/smaps_rollup", "utf8")
            .split("\n")
            .filter((l) => /^(Rss|Anonymous|Private_Dirty|Shared_Clean|Private_Clean)/.test(l))
            .join("; "),
        );
        for (const [k, [n, bytes]] of [...bodies].sort((a, b) => b[1][1] - a[1][1]))
          console.log(`operator requests: ${String(n).padStart(6)} ${MiB(bytes).padStart(10)} ${k}`);
        console.log("operator peak memoryUsage:", JSON.stringify(memory.peak), "steady:", JSON.stringify(memory.steady));
      }
      await op.stop();
      process.send?.({ stopped: true, memory, reconciles });
      process.exit(0);
    }
  });
}

/** The reference: bare client-node informers over the same objects, nothing else. */
async function referenceChild(kubeconfig: string, namespace: string) {
  const mem = memorySampler();
  const { KubeConfig, makeInformer, CustomObjectsApi, AppsV1Api, BatchV1Api } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const apps = kc.makeApiClient(AppsV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  const informers = [
    makeInformer(
      kc,
      `/apis/stash.appscode.com/v1beta1/namespaces/${namespace}/backupconfigurations`,
      () => custom.listNamespacedCustomObject({ group: "stash.appscode.com", version: "v1beta1", namespace, plural: "backupconfigurations" }) as any,
    ),
    makeInformer(kc, `/apis/apps/v1/namespaces/${namespace}/deployments`, () => apps.listNamespacedDeployment({ namespace })),
    makeInformer(kc, `/apis/batch/v1/namespaces/${namespace}/cronjobs`, () => batch.listNamespacedCronJob({ namespace })),
  ];
  await Promise.all(informers.map((i) => i.start()));
  const cached = informers.reduce((n, i) => n + (i as any).list().length, 0);
  await new Promise((r) => setTimeout(r, 1000));
  const memory = mem.report();
  await Promise.all(informers.map((i) => i.stop()));
  process.send?.({ stopped: true, memory, cached });
  process.exit(0);
}

/** Resident set size of a process from /proc, in KiB. */
function rssKiB(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) : 0;
}

function rssPeakOf(child: ChildProcess) {
  let peakKiB = 0;
  const t = setInterval(() => {
    try {
      peakKiB = Math.max(peakKiB, rssKiB(child.pid!));
    } catch {
      /* exited */
    }
  }, 100);
  return () => {
    clearInterval(t);
    return peakKiB * 1024;
  };
}

const message = <T>(child: ChildProcess, key: string) => new Promise<T>((r) => child.on("message", (m: any) => m?.[key] && r(m)));

async function pool<T>(items: T[], width: number, fn: (x: T) => Promise<unknown>) {
  let i = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (i < items.length) await fn(items[i++]);
    }),
  );
}

async function countCronJobs(kube: Kube, ns: string): Promise<number> {
  return (await kube.list("batch/v1", "CronJob", ns)).items.length;
}

async function main() {
  const count = arg("count", 1000);
  const concurrency = arg("concurrency", 16);
  const snapshotDir = process.env.RESTASH_BENCH_HEAPSNAPSHOT;
  const { startControlPlane } = await import("../local/control-plane.ts");
  const { installCRDs } = await import("../schema/install.ts");
  const { Kube } = await import("../lib/kube/client.ts");
  const { desiredCronJob } = await import("../reconciler/backup-configuration/cronjob.ts");
  const { backupConfiguration, deployment, repository, secret } = await import("../testing/stash-objects.ts");
  const cp = await startControlPlane();
  try {
    const kube = Kube.fromFile(cp.kubeconfig);
    await installCRDs(kube);

    // Reference: the same number of CronJobs applied directly, 16 at a time.
    const refNs = "bench-reference";
    await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: refNs } });
    const t0 = performance.now();
    await pool([...Array(count).keys()], 16, (i) => {
      const cj = desiredCronJob(
        {
          apiVersion: "stash.appscode.com/v1beta1",
          kind: "BackupConfiguration",
          metadata: { name: `ref-${i}`, namespace: refNs, uid: "00000000-0000-0000-0000-000000000000" },
          spec: { schedule: "*/5 * * * *" },
        },
        { image: "restash:bench" },
      );
      delete cj.metadata.ownerReferences;
      return kube.apply(cj, { force: true });
    });
    const referenceMs = performance.now() - t0;

    const ns = "bench";
    await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    await kube.apply(secret(ns, "repo-secret", { RESTIC_PASSWORD: "bench-password" }));
    await kube.apply(repository(ns, "repo", { s3: { endpoint: "http://127.0.0.1:1", bucket: "bench" } }));
    await pool([...Array(count).keys()], 16, (i) => kube.apply(deployment(ns, `app-${i}`)));

    const sizing =
      process.env.RESTASH_BENCH_NODE_FLAGS !== undefined
        ? { flags: process.env.RESTASH_BENCH_NODE_FLAGS.split(" ").filter(Boolean), limit: "" }
        : await deploymentNodeOptions();
    const execArgv = [...sizing.flags, ...(process.env.RESTASH_BENCH_PROF ? ["--cpu-prof", "--cpu-prof-dir=/tmp/restash-prof"] : [])];
    const child = fork(import.meta.filename, ["--operator", cp.kubeconfig, ns, String(concurrency)], { stdio: "inherit", execArgv });
    await message(child, "ready");
    const operatorRss = rssPeakOf(child);
    const snapshot = async (label: string) => {
      if (!snapshotDir) return;
      child.send({ snapshot: snapshotDir, label });
      console.log(`  heap snapshot: ${(await message<any>(child, "snapshotWritten")).snapshotWritten}`);
    };

    const t1 = performance.now();
    await pool([...Array(count).keys()], 16, (i) => kube.create(backupConfiguration(ns, `bc-${i}`, { kind: "Deployment", name: `app-${i}` }, "repo")));
    const createdMs = performance.now() - t1;
    let cronJobs = 0;
    let midway = false;
    while ((cronJobs = await countCronJobs(kube, ns)) < count) {
      if (!midway && cronJobs >= count / 2) {
        midway = true;
        await snapshot("midway");
      }
      await new Promise((r) => setTimeout(r, 200));
    }
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
    await snapshot("ready");

    const stopping = message<{ memory: MemoryReport; reconciles: Record<string, number> }>(child, "stopped");
    child.send({ stop: true });
    const op = await stopping;
    const opPeakRss = Math.max(operatorRss(), op.memory.peak.rss);

    // Reference: bare client-node informers over the same objects, after the run.
    const refChild = fork(import.meta.filename, ["--reference", cp.kubeconfig, ns], { stdio: "inherit", execArgv: sizing.flags });
    const refRss = rssPeakOf(refChild);
    const ref = await message<{ memory: MemoryReport; cached: number }>(refChild, "stopped");
    const refPeakRss = Math.max(refRss(), ref.memory.peak.rss);

    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    const total = Object.values(op.reconciles).reduce((a, b) => a + b, 0);
    const how = sizing.limit
      ? `the Deployment's NODE_OPTIONS ${sizing.flags.join(" ")} (memory limit ${sizing.limit})`
      : sizing.flags.length
        ? `node flags ${sizing.flags.join(" ")}`
        : "V8 heap unconstrained (sized for this machine's RAM)";
    console.log(`controllers-scale: ${count} BackupConfigurations, operator concurrency ${concurrency} per kind; ${how}`);
    console.log(`  created (client, 16 at a time):        ${s(createdMs)}`);
    console.log(`  all ${cronJobs} CronJobs exist:            ${s(allCronJobsMs)}`);
    console.log(
      `  all ${ready} phase Ready:                 ${s(allReadyMs)}   sidecars injected: ${withSidecar}/${count}   Repository references: ${repo.status?.references?.length ?? 0}`,
    );
    console.log(
      `  reconciles: ${total} (${Object.entries(op.reconciles)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}), ${(total / (allReadyMs / 1000)).toFixed(0)}/s until all Ready`,
    );
    console.log(
      `  reference: ${count} CronJobs applied directly: ${s(referenceMs)}   ratio (operator all-CronJobs / reference): ${(allCronJobsMs / referenceMs).toFixed(2)}x`,
    );
    const line = (name: string, peakRss: number, m: MemoryReport) =>
      console.log(
        `  ${name} peak RSS ${MiB(peakRss)}   peak heapUsed ${MiB(m.peak.heapUsed)}   peak external ${MiB(m.peak.external)}   steady heapUsed ${MiB(m.steady.heapUsed)}   steady RSS ${MiB(m.steady.rss)}`,
      );
    line("operator: ", opPeakRss, op.memory);
    line("reference:", refPeakRss, ref.memory);
    console.log(
      `  (reference: bare @kubernetes/client-node with informers caching ${ref.cached} objects: ${count} BackupConfigurations, Deployments, CronJobs)`,
    );
    console.log(`  operator peak RSS: ${MiB(opPeakRss)} (goal < 150 MB = ${MiB(150e6)}); ratio to reference ${(opPeakRss / refPeakRss).toFixed(2)}x`);
  } finally {
    await cp.stop();
  }
}

if (process.argv[2] === "--operator") await operatorChild(process.argv[3], process.argv[4], Number(process.argv[5] ?? 16));
else if (process.argv[2] === "--reference") await referenceChild(process.argv[3], process.argv[4]);
else await main();
