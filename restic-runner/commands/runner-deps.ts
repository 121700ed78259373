// What the runner's commands share: the API client, logger, clock, the restic binary, the
// scratch dir, and the path map. Built once by main.ts from flags and the environment.
import type { Kube } from "../../lib/kube/client.ts";
import type { Logger } from "../../lib/logger.ts";

export interface RunnerDeps {
  kube: Kube;
  log: Logger;
  now: () => number;
  /** Environment of this process (read once in main). */
  env: Readonly<Record<string, string | undefined>>;
  resticBin?: string;
  /** Stash's scratch dir (/stash-tmp in a pod). */
  scratchDir: string;
  /** Maps a path as the pod sees it to where it is on this machine (identity in a pod). */
  mapPath: (podPath: string) => string;
  /** How often backup progress is written into the BackupSession (default 10 s). */
  progressIntervalMs?: number;
}

/**
 * RESTASH_PATH_MAP / --path-map: "podPath=hostDir,podPath2=hostDir2". Without kubelet the runner
 * runs as a plain process: a restore target's mount path, or a local backend's mountPath, is
 * mapped to the host directory that stands for that pod's volume. Longest prefix wins.
 * Backup paths are read where they are: tests give the target real directories.
 */
export function parsePathMap(spec: string | undefined): (p: string) => string {
  const pairs = (spec ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const i = s.indexOf("=");
      if (i <= 0) throw new Error(`RESTASH_PATH_MAP entry ${JSON.stringify(s)}: expected podPath=hostDir`);
      return [s.slice(0, i).replace(/\/+$/, "") || "/", s.slice(i + 1)] as const;
    })
    .sort((a, b) => b[0].length - a[0].length);
  return (p: string) => {
    for (const [from, to] of pairs) {
      if (p === from) return to;
      if (p.startsWith(from.endsWith("/") ? from : from + "/")) return to + p.slice(from.length);
    }
    return p;
  };
}

/** The namespace this runner works in: flag, POD_NAMESPACE, the pod's service account, kubeconfig context. */
export function runnerNamespace(flag: string | undefined, env: RunnerDeps["env"], kubeNamespace: string | undefined, saNamespace: string | undefined): string {
  return flag || env.POD_NAMESPACE || saNamespace || kubeNamespace || "default";
}
