// Two operator replicas on the real node (deploy/operator.yaml): the leader's process is killed
// (kill -9 from the host, as an OOM kill ends it; the kubelet restarts the container) or its pod is
// deleted (SIGTERM, as a drain does); the other replica takes the Lease, and the webhooks and the
// Snapshot API answer throughout.
import { test } from "node:test";
import { readFileSync, readdirSync } from "node:fs";
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import { kubectl, nodeNamespace, type NodeNamespace } from "../../testing/node.ts";

const V1B = "stash.appscode.com/v1beta1";

interface Probe {
  /** When the leader was stopped (failures are timed from it). */
  mark: number;
  answered: number;
  failed: string[];
  snapshotsAnswered: number;
  snapshotsFailed: string[];
  stop(): Promise<void>;
}

/**
 * Asks the validating webhook every 100 ms (a server-side dry run of a BackupConfiguration naming a
 * missing Task: only restash's webhook can deny it, with its own message) and lists the snapshots
 * through the APIService every 250 ms; counts what was answered and what failed.
 */
function probe(w: NodeNamespace): Probe {
  const p: Probe = { mark: 0, answered: 0, failed: [], snapshotsAnswered: 0, snapshotsFailed: [], stop: async () => {} };
  let running = true;
  const webhook = (async () => {
    for (let i = 0; running; i++) {
      const t0 = Date.now();
      try {
        await w.kube.apply(
          {
            apiVersion: V1B,
            kind: "BackupConfiguration",
            metadata: { name: `probe-${i}`, namespace: w.namespace },
            spec: {
              repository: { name: "repo" },
              task: { name: "no-such-task" },
              retentionPolicy: { name: "keep", keepLast: 1, prune: true },
              schedule: "0 * * * *",
              target: { ref: { apiVersion: "v1", kind: "PersistentVolumeClaim", name: "data" } },
            },
          },
          { dryRun: true },
        );
        p.failed.push(`#${i}: admitted (the webhook was not asked)`);
      } catch (e) {
        const m = (e as Error).message;
        if (m.includes('Task "no-such-task" not found')) p.answered++;
        else p.failed.push(`#${i} sent ${t0 - p.mark} ms after the stop, failed after ${Date.now() - t0} ms: ${m.slice(0, 300)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const snapshots = (async () => {
    while (running) {
      try {
        await w.kube.request(`/apis/repositories.stash.appscode.com/v1alpha1/namespaces/${w.namespace}/snapshots`);
        p.snapshotsAnswered++;
      } catch (e) {
        p.snapshotsFailed.push(`${Date.now() - p.mark} ms after the stop: ${(e as Error).message.slice(0, 300)}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  p.stop = async () => {
    running = false;
    await Promise.all([webhook, snapshots]);
  };
  return p;
}

/** kill -9 of the operator process of pod `pod`, from the host (the container runs on this machine). */
function killOperatorProcess(pod: string): void {
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (env.includes(`POD_NAME=${pod}`) && cmd.includes("operator")) {
        process.kill(Number(pid), "SIGKILL");
        return;
      }
    } catch {
      /* gone, or not ours to read */
    }
  }
  throw new Error(`no operator process of pod ${pod} on this machine`);
}

type Lease = { apiVersion: string; kind: string; metadata: object; spec?: { holderIdentity?: string; leaseTransitions?: number; renewTime?: string } };
const lease = async (w: NodeNamespace) => (await w.kube.get<Lease>("coordination.k8s.io/v1", "Lease", "restash-operator", "restash")).spec ?? {};
const leaseHolder = async (w: NodeNamespace) => (await lease(w)).holderIdentity;

/** Both operator replicas Ready, and which one leads. */
async function twoReady(w: NodeNamespace): Promise<{ leader: string; standby: string }> {
  return eventually(
    "two Ready operator replicas, one holding the Lease",
    async () => {
      const pods = (await w.kube.list<any>("v1", "Pod", "restash", "app.kubernetes.io/component=operator")).items.filter(
        (p) => !p.metadata.deletionTimestamp && p.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"),
      );
      const leader = await leaseHolder(w);
      const standby = pods.find((p) => p.metadata.name !== leader)?.metadata.name;
      return pods.length === 2 && pods.some((p) => p.metadata.name === leader) && standby ? { leader: leader!, standby } : undefined;
    },
    240_000,
    500,
  );
}

for (const how of ["killed", "terminated"] as const) {
  test(`the leader's pod ${how}: the standby takes the Lease, and the webhooks and the Snapshot API answer throughout`, async () => {
    const w = await nodeNamespace(`failover-${how}`);
    const { leader, standby } = await twoReady(w);
    const transitions = (await lease(w)).leaseTransitions ?? 0;
    const p = probe(w);
    let takeover: number | undefined;
    try {
      await new Promise((r) => setTimeout(r, 3000));
      if (how === "terminated") await kubectl(w.node, ["-n", "restash", "delete", "pod", leader, "--wait=false"]);
      const t0 = Date.now();
      p.mark = t0;
      if (how === "killed") killOperatorProcess(leader);
      // SIGTERM releases the Lease and the standby takes it at once. After kill -9 the kubelet restarts
      // the container; the Lease goes to the standby once it expires (35 s), or back to the restarted
      // process (same pod, same identity) if that asks first: either way it is renewed after the restart.
      const restarts = async () =>
        (await w.kube.get<any>("v1", "Pod", leader, "restash")).status?.containerStatuses?.find((c: any) => c.name === "operator")?.restartCount ?? 0;
      const before = how === "killed" ? await restarts() : 0;
      const next = await eventually(
        "the Lease led again",
        async () => {
          const l = await lease(w);
          if (l.holderIdentity !== leader && (l.leaseTransitions ?? 0) > transitions) return l.holderIdentity;
          if (how === "killed" && l.holderIdentity === leader && (await restarts()) > before && Date.parse(l.renewTime ?? "") > Date.now() - 3000)
            return leader;
          return undefined;
        },
        180_000,
        100,
      );
      takeover = Date.now() - t0;
      if (how === "terminated") assert.equal(next, standby);
      else console.log(`kill -9: the Lease went to ${next === leader ? "the restarted process" : "the standby"}`);
      // Keep asking while the kubelet restarts the container or the Deployment replaces the pod, until two replicas are Ready again.
      await twoReady(w);
      await new Promise((r) => setTimeout(r, 2000));
    } finally {
      await p.stop();
    }
    console.log(
      `leader ${how}: Lease taken over in ${takeover} ms; webhook answered ${p.answered}, failed ${p.failed.length}; snapshots answered ${p.snapshotsAnswered}, failed ${p.snapshotsFailed.length}${p.failed.length ? `\n  ${p.failed.join("\n  ")}` : ""}${p.snapshotsFailed.length ? `\n  ${p.snapshotsFailed.join("\n  ")}` : ""}`,
    );
    assert.ok(p.answered > 20, `the webhook was asked throughout (${p.answered})`);
    // Goal: none fails. SIGTERM gets there: the replica keeps serving while its endpoint goes. After
    // kill -9 the Service and the APIService still route to the dead pod until the kubelet marks it
    // unready (readinessProbe every 2 s, failureThreshold 2: deploy/operator.yaml), and those calls are
    // refused (measured in CI: 5 webhook calls within 0.5 s of the kill). A failure is allowed only in
    // that window; elsewhere one call in a hundred may time out on this loaded 2-core machine while a
    // new leader's controllers start on the event loop that also answers the webhooks.
    const afterWindow = (f: string) => how === "terminated" || Number(/(\d+) ms after the stop/.exec(f)?.[1] ?? Infinity) > 10_000;
    const lateCalls = p.failed.filter(afterWindow);
    assert.ok(lateCalls.length <= Math.ceil(p.answered / 100), `webhook calls failed outside the kill's first 10 s:\n${lateCalls.join("\n")}`);
    const lateListings = p.snapshotsFailed.filter(afterWindow);
    assert.ok(
      lateListings.length <= Math.ceil(p.snapshotsAnswered / 100),
      `snapshot listings failed outside the kill's first 10 s:\n${lateListings.join("\n")}`,
    );
    // From the deletion to the standby's Lease: the kubelet's SIGTERM, the release, the standby's next try
    // (e2e/leader-election.test.ts measures the process alone: ~0.1-0.2 s).
    if (how === "terminated") assert.ok(takeover !== undefined && takeover < 5000, `SIGTERM hands the Lease over at once (${takeover} ms)`);
  });
}
