import { test } from "node:test";
import assert from "node:assert/strict";
import { startLeaderElection, type Lease, type LeaderElector } from "./leader-election.ts";
import { testNamespace } from "../testing/cluster.ts";
import { eventually } from "../testing/eventually.ts";

// Short periods so a takeover is seen within seconds; the rules are the same at Flux's 35/30/5 s.
const FAST = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 200 };

function replica(kube: Parameters<typeof startLeaderElection>[0]["kube"], namespace: string, identity: string, extra: { releaseOnCancel?: boolean } = {}) {
  const terms: string[] = [];
  const elector: LeaderElector = startLeaderElection({
    kube,
    namespace,
    name: "restash-operator",
    identity,
    ...FAST,
    ...extra,
    onStartedLeading: () => terms.push("started"),
    onStoppedLeading: (reason) => terms.push(`stopped: ${reason}`),
  });
  return { identity, elector, terms };
}

const lease = (kube: Parameters<typeof startLeaderElection>[0]["kube"], namespace: string) =>
  kube.getOrNull<Lease>("coordination.k8s.io/v1", "Lease", "restash-operator", namespace);

test("of two replicas exactly one leads, and the Lease names it", async () => {
  const { kube, namespace } = await testNamespace("le-one");
  const a = replica(kube, namespace, "pod-a");
  const b = replica(kube, namespace, "pod-b");
  try {
    await eventually("a leader", async () => a.elector.leading || b.elector.leading);
    // Several retry periods later there is still exactly one.
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal([a, b].filter((r) => r.elector.leading).length, 1);
    const leader = a.elector.leading ? a : b;
    assert.equal((await lease(kube, namespace))?.spec?.holderIdentity, leader.identity);
    assert.deepEqual(leader.terms, ["started"]);
  } finally {
    await Promise.all([a.elector.stop(), b.elector.stop()]);
  }
});

test("a leader that stops with releaseOnCancel hands the Lease to the standby at once, not after the lease duration", async () => {
  const { kube, namespace } = await testNamespace("le-release");
  const a = replica(kube, namespace, "pod-a", { releaseOnCancel: true });
  await eventually("pod-a leads", async () => a.elector.leading);
  const b = replica(kube, namespace, "pod-b", { releaseOnCancel: true });
  try {
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(b.elector.leading, false);
    const released = Date.now();
    await a.elector.stop();
    assert.deepEqual(a.terms, ["started", "stopped: stopped"]);
    await eventually("pod-b takes over", async () => b.elector.leading);
    const handover = Date.now() - released;
    console.log(`handover after release: ${handover} ms (lease duration ${FAST.leaseDurationMs} ms)`);
    const l = await lease(kube, namespace);
    assert.equal(l?.spec?.holderIdentity, "pod-b");
    assert.equal(l?.spec?.leaseTransitions, 1);
  } finally {
    await b.elector.stop();
  }
});

test("a leader that vanishes without releasing is replaced once its lease has expired on the standby's clock", async () => {
  const { kube, namespace } = await testNamespace("le-vanish");
  const a = replica(kube, namespace, "pod-a");
  await eventually("pod-a leads", async () => a.elector.leading);
  await a.elector.stop(); // no release: as if the process had been killed
  const b = replica(kube, namespace, "pod-b");
  try {
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(b.elector.leading, false, "the Lease is still pod-a's");
    await eventually("pod-b takes over after the lease duration", async () => b.elector.leading);
    assert.equal((await lease(kube, namespace))?.spec?.holderIdentity, "pod-b");
  } finally {
    await b.elector.stop();
  }
});

test("a leader that sees another holder on the Lease stops leading at once (never two writers)", async () => {
  const { kube, namespace } = await testNamespace("le-lost");
  const a = replica(kube, namespace, "pod-a");
  try {
    await eventually("pod-a leads", async () => a.elector.leading);
    const l = (await lease(kube, namespace))!;
    await kube.request(`/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/restash-operator`, {
      method: "PUT",
      body: { ...l, spec: { ...l.spec, holderIdentity: "pod-z", renewTime: new Date().toISOString().replace("Z", "000Z") } },
    });
    await eventually("pod-a stops leading", async () => !a.elector.leading);
    assert.deepEqual(a.terms, ["started", "stopped: the Lease is held by pod-z"]);
    assert.equal(a.elector.holder, "pod-z");
  } finally {
    await a.elector.stop();
  }
});
