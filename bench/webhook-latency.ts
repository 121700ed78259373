// Bench (not a test): admission webhook latency at a steady 200 requests per second (open loop:
// requests are sent on schedule whether or not earlier ones have answered), against the operator
// server backed by a real API server for its lookups. The mix is what a cluster sends: Deployment
// creates (mutating: lists BackupConfigurations and RestoreSessions, injects the sidecar) and
// BackupConfiguration creates (validating: Task and Repository lookups). Reference in the same run:
// /healthz on the same server at the same rate (TLS + HTTP cost alone), printed as a ratio.
// Goal: p99 under 10 ms.
//
//   node bench/webhook-latency.ts [--rps=200] [--seconds=10]
import { Agent, request } from "node:https";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { startControlPlane } from "../local/control-plane.ts";
import { installCRDs } from "../schema/install.ts";
import { Kube } from "../lib/kube/client.ts";
import { startOperatorServer } from "../server/operator-server.ts";

const arg = (name: string, dflt: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);

/**
 * One request; the latency counts from the first attempt. A keep-alive socket the server closed
 * while idle (its keepAliveTimeout) resets when reused: that request is sent again on a new
 * socket, as Node's documentation advises, instead of aborting the run.
 */
function call(agent: Agent, port: number, path: string, body?: string, t = performance.now()): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path, method: body ? "POST" : "GET", agent, headers: body ? { "content-type": "application/json" } : {} },
      (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 200 ? resolve(performance.now() - t) : reject(new Error(`${path}: HTTP ${res.statusCode}`))));
      },
    );
    req.on("error", (e: NodeJS.ErrnoException) =>
      req.reusedSocket && e.code === "ECONNRESET" ? call(agent, port, path, body, t).then(resolve, reject) : reject(e),
    );
    req.end(body);
  });
}

/** Sends `make(i)` every 1/rps seconds for `seconds`, returns the latencies. */
async function openLoop(rps: number, seconds: number, send: (i: number) => Promise<number>): Promise<number[]> {
  const total = rps * seconds;
  const interval = 1000 / rps;
  const start = performance.now();
  const pending: Promise<number>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(send(i));
  }
  return Promise.all(pending);
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function main() {
  const rps = arg("rps", 200);
  const seconds = arg("seconds", 10);
  const cp = await startControlPlane();
  try {
    const kube = Kube.fromFile(cp.kubeconfig);
    await installCRDs(kube);
    const ns = "bench-webhooks";
    await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    const bc = {
      apiVersion: "stash.appscode.com/v1beta1",
      kind: "BackupConfiguration",
      metadata: { name: "app-backup", namespace: ns },
      spec: {
        repository: { name: "repo" },
        schedule: "*/5 * * * *",
        target: { ref: { apiVersion: "apps/v1", kind: "Deployment", name: "app" }, paths: ["/data"], volumeMounts: [{ name: "data", mountPath: "/data" }] },
        retentionPolicy: { name: "keep", keepLast: 5, prune: true },
      },
    };
    await kube.apply(bc);
    await kube.apply({
      apiVersion: "stash.appscode.com/v1alpha1",
      kind: "Repository",
      metadata: { name: "repo", namespace: ns },
      spec: { backend: { storageSecretName: "s", s3: { endpoint: "http://127.0.0.1:9", bucket: "b" } } },
    });
    await kube.apply({ apiVersion: "stash.appscode.com/v1beta1", kind: "Task", metadata: { name: "pvc-backup" }, spec: { steps: [{ name: "pvc-backup" }] } });
    const server = await startOperatorServer({ kube, inject: { image: "restash:bench" } });
    const agent = new Agent({ keepAlive: true, ca: server.certs.caPem, maxSockets: 64 });

    const deploymentReview = (i: number) =>
      JSON.stringify({
        apiVersion: "admission.k8s.io/v1",
        kind: "AdmissionReview",
        request: {
          uid: `d-${i}`,
          kind: { group: "apps", version: "v1", kind: "Deployment" },
          operation: "CREATE",
          namespace: ns,
          object: {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name: "app", namespace: ns },
            spec: { template: { spec: { containers: [{ name: "app", image: "busybox" }] } } },
          },
        },
      });
    const bcReview = (i: number) =>
      JSON.stringify({
        apiVersion: "admission.k8s.io/v1",
        kind: "AdmissionReview",
        request: {
          uid: `b-${i}`,
          kind: { group: "stash.appscode.com", version: "v1beta1", kind: "BackupConfiguration" },
          operation: "CREATE",
          namespace: ns,
          object: { ...bc, metadata: { name: `bc-${i}`, namespace: ns }, spec: { ...bc.spec, task: { name: "pvc-backup" }, repository: { name: "repo" } } },
        },
      });

    // Warm up connections and the JIT, then measure.
    await openLoop(rps, 1, (i) => call(agent, server.port, "/admission/mutate", deploymentReview(i)));
    // The series alternate in one-second blocks, each at the full rate, so a burst of load from
    // other processes on the machine falls on all of them alike rather than on whichever ran then.
    // The bench's client and the operator server share this process: event-loop stalls (GC, the
    // machine's other load taking the CPU) delay every series alike and are printed for reference.
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const ref: number[] = [];
    const hooks: number[] = [];
    const untargeted: number[] = [];
    for (let s = 0; s < seconds; s++) {
      const base = s * rps;
      ref.push(...(await openLoop(rps, 1, () => call(agent, server.port, "/healthz"))));
      hooks.push(
        ...(await openLoop(rps, 1, (i) =>
          (base + i) % 2 === 0
            ? call(agent, server.port, "/admission/mutate", deploymentReview(base + i))
            : call(agent, server.port, "/admission/validate", bcReview(base + i)),
        )),
      );
      // Untargeted workloads: no invoker targets them (the common case: every workload in the cluster).
      untargeted.push(
        ...(await openLoop(rps, 1, (i) =>
          call(agent, server.port, "/admission/mutate", deploymentReview(base + i).replace('"name":"app"', `"name":"other-${base + i}"`)),
        )),
      );
    }
    loop.disable();
    const targeted = hooks.filter((_, i) => i % 2 === 0);
    const validated = hooks.filter((_, i) => i % 2 === 1);
    const fmt = (xs: number[]) =>
      `p50 ${pct(xs, 50).toFixed(2)} ms, p90 ${pct(xs, 90).toFixed(2)} ms, p99 ${pct(xs, 99).toFixed(2)} ms, max ${Math.max(...xs).toFixed(2)} ms (n=${xs.length})`;
    const worstP99 = Math.max(pct(hooks, 99), pct(untargeted, 99));
    console.log(`rate: ${rps} requests/s, open loop; ${seconds} s per series in alternating 1 s blocks`);
    console.log(`reference /healthz:              ${fmt(ref)}`);
    console.log(`mutate+validate mix:             ${fmt(hooks)}`);
    console.log(`  targeted Deployment (mutate):  ${fmt(targeted)}`);
    console.log(`  BackupConfiguration (validate): ${fmt(validated)}`);
    console.log(`untargeted Deployment (mutate):  ${fmt(untargeted)}`);
    console.log(`event-loop delay of this process: p99 ${(loop.percentile(99) / 1e6).toFixed(2)} ms, max ${(loop.max / 1e6).toFixed(2)} ms`);
    console.log(
      `ratio to reference p99: mix ${(pct(hooks, 99) / pct(ref, 99)).toFixed(1)}x, untargeted ${(pct(untargeted, 99) / pct(ref, 99)).toFixed(1)}x; goal p99 < 10 ms for every series: ${worstP99 < 10 ? "met" : "NOT met"}`,
    );
    agent.destroy();
    await server.stop();
  } finally {
    await cp.stop();
  }
}

await main();
