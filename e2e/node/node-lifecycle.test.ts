// The node's start and stop on this machine: what a stop leaves (nothing), what a killed run
// leaves (cleaned by the next start), and what a start that cannot work says.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { DEFAULT_NODE_DIR, NODE, nodeRunning, readNodeInfo, startNode, stopNode } from "../../local/node.ts";
import { stopNodeCluster } from "../../testing/node.ts";

const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: "utf8" }).stdout ?? "";

/** What a node could leave on the machine, as text that must be equal before and after. */
function machineState(): Record<string, string> {
  const sysctls = [
    "vm/overcommit_memory",
    "kernel/panic",
    "kernel/panic_on_oops",
    "net/ipv4/ip_forward",
    "net/ipv4/conf/all/route_localnet",
    "net/netfilter/nf_conntrack_max",
  ];
  const procs = readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .flatMap((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8").replace(/\0/g, " ");
        return cmd.includes(DEFAULT_NODE_DIR) ? [cmd.slice(0, 120)] : [];
      } catch {
        return [];
      }
    });
  return {
    processes: procs.join("\n"),
    mounts: readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((l) => l.split(" ")[4])
      .filter((m) => m && /restash|kubelet|containerd|netns/.test(m))
      .join("\n"),
    links: sh("ip", ["-o", "link", "show"])
      .split("\n")
      .map((l) => l.split(":")[1]?.trim())
      .filter(Boolean)
      .sort()
      .join(" "),
    routes: sh("ip", ["route", "show", "table", "all"])
      .split("\n")
      .filter((l) => !l.includes("table local"))
      .sort()
      .join("\n"),
    nft: sh("nft", ["list", "ruleset"]).trim(),
    iptables: (sh("iptables-save", []) + sh("ip6tables-save", []))
      .split("\n")
      .filter((l) => l && !l.startsWith("#"))
      .map((l) => l.replace(/\[\d+:\d+\]/, ""))
      .join("\n"),
    sysctls: sysctls.map((k) => `${k}=${readFileSync(`/proc/sys/${k}`, "utf8").trim()}`).join(" "),
    cgroups: readdirSync("/sys/fs/cgroup")
      .filter((h) => existsSync(`/sys/fs/cgroup/${h}/kubepods`))
      .join(" "),
    paths: ["/var/log/containers", "/var/log/pods", "/var/lib/kubelet", "/var/lib/cni", "/run/containerd", "/opt/containerd", "/var/run/nri", DEFAULT_NODE_DIR]
      .filter((p) => existsSync(p))
      .join(" "),
  };
}

test("a node that was started, ran a pod and was stopped leaves the machine as it found it; a killed one is cleaned by the next start", async () => {
  await stopNodeCluster();
  if (await nodeRunning()) await stopNode();
  const before = machineState();
  assert.equal(before.paths, "", "no node state before the test");

  const node = await startNode();
  const kubectl = (args: string[]) => execFileSync(`${node.binDir}/kubectl`, args, { encoding: "utf8", env: { ...process.env, ...node.kubectlEnv } });
  kubectl(["run", "probe", "--image=docker.io/library/busybox:1.35", "--restart=Never", "--command", "--", "sleep", "3600"]);
  kubectl(["wait", "--for=condition=Ready", "pod/probe", "--timeout=60s"]);
  assert.notEqual(machineState().mounts, before.mounts, "the running pod has mounts");
  // The guard table is in place and dropped nothing: nothing tried to leave.
  assert.match(sh("nft", ["list", "table", "inet", NODE.nftTable]), /oifname/);

  // Killed without a stop: every component gone at once, the pod's container still there.
  for (const pid of Object.values(readNodeInfo()!.pids)) process.kill(pid, "SIGKILL");
  assert.ok(existsSync(DEFAULT_NODE_DIR));
  const again = await startNode();
  assert.ok(await nodeRunning(), "the next start cleaned up and came up");
  await again.stop();
  assert.deepEqual(machineState(), before);
});

test("a node whose port is taken fails at once, naming the port and what to do, and changes nothing", async () => {
  const before = machineState();
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(10250, "127.0.0.1", r));
  try {
    await assert.rejects(startNode(), /port 10250 \(kubelet\) is already in use\. Stop what listens there/);
  } finally {
    blocker.close();
  }
  assert.deepEqual(machineState(), before);
});
