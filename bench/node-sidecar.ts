// A backup on the real node by restash's sidecar (a BackupSession, as Stash triggers it) vs `restic backup` in the same pod.
//
// The same data (default 200 MB of mixed files in the app's emptyDir: large random files, thousands
// of small random files, text files) is backed up, round after round, two ways into the same MinIO
// (on this machine, reached from pods through the node address):
//   sidecar  a BackupSession created for the BackupConfiguration; the runner in the injected `stash`
//            container picks it up and runs what Stash's sidecar runs (open the repository, restic
//            backup, retention, integrity check, statistics, status). Timed from the create to the
//            phase Succeeded as the API server shows it.
//   restic   `kubectl exec` into that same `stash` container running `restic backup /data` with the
//            same backend, against a fresh repository. Timed around the exec (and restic alone, inside).
// Each round both sides get a fresh, initialised repository (untimed `restic init`; the sidecar's by
// pointing its Repository at a new prefix) and the order flips every round. Printed: per side the
// median, and the ratio sidecar/restic per round (median and min); then where the sidecar's time
// goes, read from its log and the session status: session pick-up (create -> "backing up"), the
// restic backup itself, Stash's post-backup actions with the status write; the ratio without those
// actions; and restic's own backup phase on both sides (its summary's total_duration: same binary,
// same data, so ~1x unless the machine is busy; the per-round spread says how busy).
//
// Not a test: `npm run bench -- node-sidecar [--mb 200] [--rounds 3]`. Uses a running node (or starts
// one, and stops it at the end); where no node can run it says why in one line and exits 0.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { deployRestash, nodeUnavailable, openNode, runningPod, until, type Steps } from "../scripts/demo-node.ts";
import { startMinio, toolsDir } from "../testing/services.ts";
import { newBackupSession } from "../stash/new-backup-session.ts";

const { values } = parseArgs({ options: { mb: { type: "string", default: "200" }, rounds: { type: "string", default: "3" } } });
const totalMb = Number(values.mb);
const rounds = Number(values.rounds);
const t0 = Date.now();
const steps: Steps = {
  say: (m) => console.error(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${m}`),
  show: (t) => console.error(t.replace(/\s+$/, "").replace(/^/gm, "    ")),
};
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** 3/4 of the bytes in six large random files, 1/4 in 20 KB random files, plus 500 small text files. */
function fillScript(mb: number): string {
  const large = Math.round((mb * 0.75 * 1048576) / 6);
  const small = Math.round((mb * 0.25 * 1048576) / 20480);
  return [
    "set -e; mkdir -p /data/large /data/small /data/text",
    `for i in 1 2 3 4 5 6; do head -c ${large} /dev/urandom > /data/large/blob-$i.bin; done`,
    `i=0; while [ $i -lt ${small} ]; do d=/data/small/d$((i % 50)); mkdir -p $d; head -c 20480 /dev/urandom > $d/f$i.bin; i=$((i+1)); done`,
    'i=0; while [ $i -lt 500 ]; do echo "record $i of the app state" > /data/text/r$i.txt; i=$((i+1)); done',
    "touch /tmp/filled; exec sleep 36000",
  ].join("\n");
}

async function main() {
  process.env.PATH = `${toolsDir()}:${process.env.PATH}`;
  const why = await nodeUnavailable();
  if (why) {
    console.log(`node-sidecar: skipped, no real node on this machine: ${why}`);
    return;
  }
  const work = mkdtempSync(join(tmpdir(), "restash-bench-node-"));
  const cleanups: (() => Promise<unknown> | unknown)[] = [() => rmSync(work, { recursive: true, force: true })];
  try {
    const n = await openNode(steps);
    cleanups.unshift(() => n.close());
    await deployRestash(n, steps);
    const { kube, kubectl } = n;
    const NS = `bench-sidecar-${randomBytes(3).toString("hex")}`;
    cleanups.unshift(() => kubectl(["delete", "namespace", NS, "--wait=false"]).catch(() => {}));

    steps.say("MinIO on this machine, reached from pods through the node address");
    const minio = await startMinio({ dir: join(work, "minio") });
    cleanups.unshift(() => minio.stop());
    await minio.createBucket("bench");
    const s3 = await n.reachableFromPods(minio.endpoint);
    const password = randomBytes(12).toString("hex");

    steps.say(`Namespace ${NS}: Repository, BackupConfiguration (never scheduled), and the app writing ${totalMb} MB into its emptyDir`);
    await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
    await until(`ServiceAccount ${NS}/default`, () => kube.getOrNull("v1", "ServiceAccount", "default", NS), 30_000, 100);
    await kube.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "s3", namespace: NS },
      stringData: { RESTIC_PASSWORD: password, AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: minio.secretKey },
    });
    const repository = (prefix: string) => ({
      apiVersion: "stash.appscode.com/v1alpha1",
      kind: "Repository",
      metadata: { name: "repo", namespace: NS },
      spec: { backend: { storageSecretName: "s3", s3: { endpoint: s3, bucket: "bench", prefix, region: minio.region } } },
    });
    await kube.apply(repository("sidecar-0"));
    await kube.apply({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "app", namespace: NS, labels: { app: "app" } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "app" } },
        template: {
          metadata: { labels: { app: "app" } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [
              {
                name: "app",
                image: "docker.io/library/busybox:1.35",
                command: ["sh", "-c", fillScript(totalMb)],
                volumeMounts: [{ name: "data", mountPath: "/data" }],
              },
            ],
            volumes: [{ name: "data", emptyDir: {} }],
          },
        },
      },
    });
    await kube.apply({
      apiVersion: "stash.appscode.com/v1beta1",
      kind: "BackupConfiguration",
      metadata: { name: "app", namespace: NS },
      spec: {
        repository: { name: "repo" },
        schedule: "0 0 1 1 *",
        target: {
          ref: { apiVersion: "apps/v1", kind: "Deployment", name: "app" },
          volumeMounts: [{ name: "data", mountPath: "/data" }],
          paths: ["/data"],
        },
        retentionPolicy: { name: "keep-last-5", keepLast: 5, prune: true },
      },
    });
    const pod = (await runningPod(kube, NS, "app", "stash")).metadata.name as string;
    await until(
      "the app's data written",
      () => kubectl(["-n", NS, "exec", pod, "-c", "app", "--", "test", "-f", "/tmp/filled"]).then(() => true),
      600_000,
      1000,
    );
    const du = await kubectl(["-n", NS, "exec", pod, "-c", "stash", "--", "sh", "-c", "du -sm /data | cut -f1; find /data -type f | wc -l"]);
    const [mb, files] = du.trim().split("\n").map(Number);
    steps.show(`pod ${pod}: ${mb} MB in ${files} files under /data`);

    // restic in the sidecar container, with the backend's environment (the same S3 endpoint and keys).
    const resticIn = (prefix: string, script: string) =>
      kubectl(
        [
          "-n",
          NS,
          "exec",
          pod,
          "-c",
          "stash",
          "--",
          "env",
          `RESTIC_REPOSITORY=s3:${s3}/bench/${prefix}`,
          `RESTIC_PASSWORD=${password}`,
          `AWS_ACCESS_KEY_ID=${minio.accessKey}`,
          `AWS_SECRET_ACCESS_KEY=${minio.secretKey}`,
          `AWS_DEFAULT_REGION=${minio.region}`,
          "sh",
          "-c",
          script,
        ],
        { timeoutMs: 900_000 },
      );

    const rawRun = async (round: number) => {
      const prefix = `restic-${round}`;
      await resticIn(prefix, "restic init -q");
      const start = Date.now();
      const out = await resticIn(
        prefix,
        `a=$(date +%s.%N); restic --cache-dir /stash-tmp/raw-cache-${round} backup --json --quiet --host host-0 /data | tail -n 1; b=$(date +%s.%N); echo "restic-seconds $a $b"`,
      );
      const wall = (Date.now() - start) / 1000;
      const m = /restic-seconds (\S+) (\S+)/.exec(out);
      const summary = JSON.parse(out.split("\n").find((l) => l.includes('"message_type":"summary"')) ?? "{}");
      return { wall, restic: m ? Number(m[2]) - Number(m[1]) : NaN, backupPhase: Number(summary.total_duration) };
    };

    const sidecarRun = async (round: number) => {
      const prefix = `sidecar-${round}`;
      await resticIn(prefix, "restic init -q");
      await kube.apply(repository(prefix));
      const invoker = await kube.get<any>("stash.appscode.com/v1beta1", "BackupConfiguration", "app", NS);
      const since = new Date().toISOString();
      const start = Date.now();
      // The object the CronJob's create-backupsession makes (stash/new-backup-session.ts).
      const made = await kube.create(newBackupSession(invoker, Math.floor(start / 1000)) as any);
      const name = made.metadata.name as string;
      let session: any;
      for (;;) {
        session = await kube.get<any>("stash.appscode.com/v1beta1", "BackupSession", name, NS);
        if (["Succeeded", "Failed", "Skipped"].includes(session.status?.phase)) break;
        if (Date.now() - start > 900_000) throw new Error(`BackupSession ${name} did not end: ${JSON.stringify(session.status)}`);
        await sleep(100);
      }
      const wall = (Date.now() - start) / 1000;
      if (session.status.phase !== "Succeeded") throw new Error(`BackupSession ${name} ended ${session.status.phase}: ${JSON.stringify(session.status)}`);
      // Where the time went: the sidecar's log lines with the kubelet's timestamps.
      const log = await kubectl(["-n", NS, "logs", pod, "-c", "stash", "--timestamps", `--since-time=${since}`]);
      const at = (re: RegExp) => {
        const line = log.split("\n").find((l) => re.test(l));
        return line ? (Date.parse(line.split(" ")[0]) - start) / 1000 : NaN;
      };
      const host = session.status.targets?.[0]?.stats?.[0] ?? {};
      const snapshot = host.snapshots?.[0];
      const backingUp = at(/"backing up"/);
      // restic's own total_duration of the backup in the sidecar (Stash's processingTime, whole seconds).
      const restic = clockSeconds(snapshot?.processingTime);
      return { wall, backingUp, restic, after: wall - backingUp - restic, host: parseGoDuration(host.duration), snapshot };
    };

    steps.say(`Warm-up: one backup each way (not counted), then ${rounds} rounds, order flipped every round`);
    await rawRun(0);
    await sidecarRun(0);
    const raw: Awaited<ReturnType<typeof rawRun>>[] = [];
    const side: Awaited<ReturnType<typeof sidecarRun>>[] = [];
    for (let r = 1; r <= rounds; r++) {
      if (r % 2) {
        side.push(await sidecarRun(r));
        raw.push(await rawRun(r));
      } else {
        raw.push(await rawRun(r));
        side.push(await sidecarRun(r));
      }
      const [s, p] = [side.at(-1)!, raw.at(-1)!];
      steps.show(
        `round ${r}: sidecar ${s.wall.toFixed(2)} s (pick-up ${s.backingUp.toFixed(2)}, restic ${s.restic}, after ${s.after.toFixed(2)}), ` +
          `restic exec ${p.wall.toFixed(2)} s (restic process ${p.restic.toFixed(2)}, backup phase ${p.backupPhase.toFixed(2)}): ${(s.wall / p.wall).toFixed(3)}x`,
      );
    }

    const ratios = side.map((s, i) => s.wall / raw[i].wall);
    const resticRatios = side.map((s, i) => s.restic / raw[i].backupPhase);
    const med = (f: (x: (typeof side)[number]) => number) => median(side.map(f)).toFixed(2).padStart(10);
    const row = (label: string, v: string) => console.log(label.padEnd(80) + v);
    console.log(`\nnode-sidecar: backup of ${mb} MB in ${files} files from an emptyDir into MinIO (S3), on the real node; ${rounds} rounds`);
    row("side (median s)", "");
    row(
      "reference: restic backup by kubectl exec into the stash container",
      median(raw.map((x) => x.wall))
        .toFixed(2)
        .padStart(10),
    );
    row(
      "  of which the restic process (timed inside the container)",
      median(raw.map((x) => x.restic))
        .toFixed(2)
        .padStart(10),
    );
    row(
      "sidecar: BackupSession create -> phase Succeeded",
      med((x) => x.wall),
    );
    row(
      "  create -> the runner starts restic backup (pick-up, lease, repository probe)",
      med((x) => x.backingUp),
    );
    row(
      "  restic backup in the sidecar (its total_duration, whole seconds)",
      med((x) => x.restic),
    );
    row(
      "  after restic: retention, integrity check, statistics, metrics, status",
      med((x) => x.after),
    );
    console.log(`ratio sidecar/exec per round: median ${median(ratios).toFixed(3)}x, min ${Math.min(...ratios).toFixed(3)}x (goal <= 1.05x)`);
    const lessPost = side.map((s, i) => (s.wall - s.after) / raw[i].wall);
    console.log(`ratio without Stash's post-backup actions, (sidecar - after restic)/exec: median ${median(lessPost).toFixed(3)}x`);
    console.log(
      `restic's backup phase (summary total_duration, after the repository is open): sidecar ${med((x) => x.restic).trim()} s, exec ${median(raw.map((x) => x.backupPhase)).toFixed(2)} s; ratio median ${median(resticRatios).toFixed(3)}x`,
    );
    const snap = side.at(-1)!.snapshot;
    if (snap) console.log(`last snapshot: ${snap.name}, ${snap.totalSize}, ${snap.fileStats?.totalFiles} files`);
  } finally {
    for (const c of cleanups)
      await Promise.resolve()
        .then(c)
        .catch(() => {});
  }
}

/** "1:02", "0:38", "1:00:05" (restash's processingTime) -> seconds. */
function clockSeconds(t: string | undefined): number {
  if (!t) return NaN;
  return t.split(":").reduce((acc, v) => acc * 60 + Number(v), 0);
}

/** "1m2.5s", "3.2s", "450ms" -> seconds. */
function parseGoDuration(d: string | undefined): number {
  if (!d) return NaN;
  let s = 0;
  for (const [, v, u] of d.matchAll(/([\d.]+)(h|ms|m|s|µs|us|ns)/g))
    s += Number(v) * ({ h: 3600, m: 60, s: 1, ms: 1e-3, µs: 1e-6, us: 1e-6, ns: 1e-9 } as Record<string, number>)[u];
  return s;
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`node-sidecar failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
