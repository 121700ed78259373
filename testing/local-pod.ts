// Runs a Task pod's containers as local processes, the way the kubelet would run the Job's pod:
// init-containers in order, then the main container; the first failing step stops the data
// steps, while `update-status` and a post hook still run (so the failure reaches the session). Used where there is no kubelet (tests, `restash run-task --local`).
//
// Volumes become host directories: each pod volume is given one (`volumeDirs`), or an emptyDir
// gets a fresh temp dir. A container sees a volume at its mountPath, so where the host directory
// differs, the mountPath is rewritten to it in the container's args and env values (only at path
// boundaries), which is all a step can observe of its mounts.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Kube, KubeObject } from "../lib/kube/client.ts";
import type { Container, TaskPodSpec } from "../stash/tasks/resolve-task.ts";

/** The runner's entrypoint (what the restash image runs): it dispatches the Task step commands. */
export const RUNNER_MAIN = fileURLToPath(new URL("../restic-runner/main.ts", import.meta.url));

export interface LocalRunOptions {
  /** The image's entrypoint here, e.g. [process.execPath, "restic-runner/main.ts"]. */
  entrypoint: string[];
  /** Host directory per pod volume name (PVCs must be given; emptyDirs default to a temp dir). */
  volumeDirs?: Record<string, string>;
  /** Environment every container starts with (PATH, HOME, KUBECONFIG); container env is laid over it. */
  env: Record<string, string>;
  cwd?: string;
  /** Each container's output, as it comes. */
  onOutput?: (container: string, chunk: string) => void;
}

export interface ContainerRun {
  name: string;
  exitCode: number;
  /** The last 16 KiB of its stderr. */
  stderr: string;
  durationMs: number;
}

export interface LocalRunResult {
  containers: ContainerRun[];
  /** The first container that failed, if any. */
  failed?: string;
}

/** `mountPath` → `hostDir` in a value, only where mountPath is a whole path prefix. Pure. */
export function rewritePath(value: string, mountPath: string, hostDir: string): string {
  if (mountPath === hostDir || !mountPath.startsWith("/")) return value;
  const esc = mountPath.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return value.replace(new RegExp(`(^|[=,:\\s])${esc}(?=$|[/,:\\s])`, "g"), `$1${hostDir}`);
}

/** The argv and env a container gets once its mounts are mapped to host directories. Pure. */
export function localCommand(c: Container, dirs: Readonly<Record<string, string>>): { argv: string[]; env: Record<string, string> } {
  const mounts = [...(c.volumeMounts ?? [])].sort((a, b) => b.mountPath.length - a.mountPath.length);
  const map = (v: string) => {
    let out = v;
    for (const m of mounts) {
      const dir = dirs[m.name];
      if (dir === undefined) throw new Error(`container ${c.name}: volume ${m.name} (mounted at ${m.mountPath}) has no host directory`);
      out = rewritePath(out, m.mountPath, m.subPath ? join(dir, String(m.subPath)) : dir);
    }
    return out;
  };
  const env: Record<string, string> = {};
  for (const e of (c.env ?? []) as { name: string; value?: string }[]) if (typeof e.value === "string") env[e.name] = map(e.value);
  return { argv: [...(c.command ?? []), ...(c.args ?? [])].map(map), env };
}

function runOne(argv: string[], env: Record<string, string>, name: string, opts: LocalRunOptions): Promise<ContainerRun> {
  return new Promise((resolve, reject) => {
    const [bin, ...rest] = [...opts.entrypoint, ...argv];
    const started = performance.now();
    const child = spawn(bin, rest, { env, cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (c: string) => opts.onOutput?.(name, c));
    child.stderr.on("data", (c: string) => {
      stderr = (stderr + c).slice(-16 * 1024);
      opts.onOutput?.(name, c);
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ name, exitCode: code ?? (signal ? 128 : 1), stderr, durationMs: Math.round(performance.now() - started) }));
  });
}

/** What still runs after a failed step: the status writer and a post hook (they report the failure). */
const runsAfterFailure = (c: Container) => {
  const argv = [...(c.command ?? []), ...(c.args ?? [])];
  return argv.includes("update-status") || (argv.includes("run-hook") && argv.some((a) => /^--hook-type=post/.test(a)));
};

export async function runPodLocally(pod: TaskPodSpec, opts: LocalRunOptions): Promise<LocalRunResult> {
  const dirs: Record<string, string> = { ...(opts.volumeDirs ?? {}) };
  const temps: string[] = [];
  try {
    for (const v of pod.volumes) {
      if (dirs[v.name] !== undefined) continue;
      if (v.emptyDir) {
        const d = await mkdtemp(join(tmpdir(), `restash-${v.name}-`));
        temps.push(d);
        dirs[v.name] = d;
      } else {
        throw new Error(
          `volume ${v.name} (${Object.keys(v)
            .filter((k) => k !== "name")
            .join(",")}) needs a host directory in volumeDirs`,
        );
      }
    }
    const result: LocalRunResult = { containers: [] };
    const steps = [...pod.initContainers, ...pod.containers];
    for (const c of steps) {
      if (result.failed && !runsAfterFailure(c)) continue;
      const { argv, env } = localCommand(c, dirs);
      const run = await runOne(argv, { ...opts.env, ...env }, c.name, opts);
      result.containers.push(run);
      if (run.exitCode !== 0 && !result.failed) result.failed = c.name;
    }
    return result;
  } finally {
    for (const d of temps) await rm(d, { recursive: true, force: true });
  }
}

export interface LocalJobRun {
  kube: Kube;
  kubeconfig: string;
  namespace: string;
  /** The Job the controller created (stash-backup-<session>-<i> / stash-restore-<invoker>-<i>). */
  name: string;
  volumeDirs?: Record<string, string>;
  path?: string;
  onOutput?: (container: string, chunk: string) => void;
}

/** Runs the pod template of a Job as stored in the API server, as the kubelet would have. */
export async function runJobLocally(r: LocalJobRun): Promise<LocalRunResult & { pod: TaskPodSpec }> {
  // restash built the Job's pod from a TaskPodSpec: it reads back as one.
  const job = await r.kube.getOrNull<KubeObject & { spec?: { template?: { spec?: Partial<TaskPodSpec> } } }>("batch/v1", "Job", r.name, r.namespace);
  if (!job) throw new Error(`Job ${r.namespace}/${r.name} not found`);
  const spec = job.spec?.template?.spec ?? {};
  const pod: TaskPodSpec = {
    initContainers: spec.initContainers ?? [],
    containers: spec.containers ?? [],
    volumes: spec.volumes ?? [],
    restartPolicy: "Never",
    securityContext: spec.securityContext ?? {},
  };
  const env: Record<string, string> = { PATH: r.path ?? process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", KUBECONFIG: r.kubeconfig };
  const result = await runPodLocally(pod, { entrypoint: [process.execPath, RUNNER_MAIN], volumeDirs: r.volumeDirs, env, onOutput: r.onOutput });
  return { ...result, pod };
}
