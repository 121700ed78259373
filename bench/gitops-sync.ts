// Bench (not a test): the GitOps sync at 1,000 policy files (2,000 Stash objects) against a real
// API server, each figure printed beside `kubectl apply --server-side -f` of the same rendered
// objects in the same run:
//   first sync           vs kubectl apply --server-side (fresh namespace)
//   no-op resync         vs kubectl apply --server-side of unchanged objects  (goal < 1 s)
//   one file, webhook    push -> webhook -> object changed                    (goal < 2 s)
//   one file, file save  save -> object changed (local directory source)      (goal < 1 s)
//
//   node bench/gitops-sync.ts [--files=1000] [--verbose (every reconcile's debug log)]
// Below the table: per-step timings of the git source's first sync, no-op resync and one-file sync.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, cpSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import express from "express";
import { dump } from "js-yaml";
import { startControlPlane } from "../local/control-plane.ts";
import { installCRDs } from "../schema/install.ts";
import { Kube } from "../lib/kube/client.ts";
import type { BackupConfiguration } from "../schema/types.generated.ts";
import { createLogger } from "../lib/logger.ts";
import { startPolicySourceController } from "../reconciler/gitops/controller.ts";
import { loadTree } from "../policies/load-tree.ts";
import { buildAndCheck } from "../policies/build.ts";
import { createRemote } from "../testing/git-fixture.ts";
import { applySource, defaultsYaml, grantStash, policyYaml } from "../testing/gitops-fixture.ts";
import { signBody } from "../reconciler/gitops/receiver.ts";

const arg = (name: string, dflt: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
const ms = (t0: number) => performance.now() - t0;
const fmt = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`);

async function until(fn: () => Promise<boolean>, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function main() {
  const files = arg("files", 1000);
  const cp = await startControlPlane({});
  const kube = Kube.fromFile(cp.kubeconfig);
  await installCRDs(kube);
  const remote = await createRemote();
  const work = await remote.clone();
  const tree: Record<string, string> = { "defaults.yaml": defaultsYaml() };
  for (let i = 0; i < files; i++) tree[`team-${i % 20}/app-${i}.yaml`] = policyYaml(`app-${i}`);
  await work.write(tree);
  await work.commitAndPush("1000 policies");

  const nsKubectl = "bench-kubectl";
  const nsGit = "bench-git";
  const nsLocal = "bench-local";
  for (const ns of [nsKubectl, nsGit, nsLocal]) {
    await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    await grantStash(kube, ns, "policy-sync");
  }

  // Reference: the same rendered objects through kubectl apply --server-side.
  const loaded = await loadTree({ root: work.dir });
  const built = buildAndCheck(loaded.files, { defaultNamespace: nsKubectl });
  if (built.errors.length) throw new Error(`bench policies invalid: ${built.errors.length} errors`);
  const manifest = join(remote.root, "rendered.yaml");
  writeFileSync(manifest, built.objects.map((o) => dump(o.object)).join("---\n"));
  const kubectl = () => {
    const t0 = performance.now();
    const r = spawnSync("kubectl", ["--kubeconfig", cp.kubeconfig, "apply", "--server-side", "-f", manifest], { encoding: "utf8", maxBuffer: 1 << 28 });
    if (r.status !== 0) throw new Error(`kubectl failed: ${r.stderr}`);
    return ms(t0);
  };
  const kubectlFirst = kubectl();
  const kubectlNoop = kubectl();

  // Every reconcile's per-step timings (debug "reconciled" lines), to show where a sync's time goes.
  const reconciles: { policySource: string; ms: Record<string, number> }[] = [];
  const verbose = process.argv.includes("--verbose");
  const log = createLogger({
    level: "debug",
    write: (line) => {
      const rec = JSON.parse(line);
      if (rec.msg === "reconciled") reconciles.push(rec);
      if (verbose) console.error(line);
    },
  });
  const ctl = await startPolicySourceController({ kube, log, workDir: mkdtempSync(join(tmpdir(), "restash-bench-")), parallelism: 16 });
  const app = express();
  app.use(ctl.receiver);
  const server = app.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  await kube.apply({ apiVersion: "v1", kind: "Secret", metadata: { name: "hook", namespace: nsGit }, stringData: { webhookSecret: "bench-key" } } as any);

  const src = (ns: string, name: string) => kube.get<any>("restash.dev/v1alpha1", "PolicySource", name, ns);
  const head = await work.head();
  let t0 = performance.now();
  await applySource(kube, nsGit, "policies", { url: remote.url, secretRef: { name: "hook" } });
  await until(async () => (await src(nsGit, "policies")).status?.lastAppliedRevision === `main@sha1:${head}`);
  const syncFirst = ms(t0);
  await ctl.idle();
  const applied = (await src(nsGit, "policies")).status.inventory.entries.length;

  t0 = performance.now();
  ctl.trigger(nsGit, "policies");
  await new Promise((r) => setImmediate(r));
  await ctl.idle();
  const syncNoop = ms(t0);

  // One changed file: push, then the webhook; time until the object carries the change.
  await work.write({ "team-7/app-7.yaml": policyYaml("app-7", '  schedule: "7 7 * * *"\n') });
  const pushed = await work.commitAndPush("change app-7");
  const body = JSON.stringify({ ref: "refs/heads/main", after: pushed });
  t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${(server.address() as any).port}/hooks/${nsGit}/policies`, {
    method: "POST",
    body,
    headers: { "x-hub-signature-256": signBody(body, "bench-key") },
  });
  if (res.status !== 202) throw new Error(`webhook answered ${res.status}`);
  await until(
    async () => (await kube.get<BackupConfiguration>("stash.appscode.com/v1beta1", "BackupConfiguration", "app-7", nsGit)).spec.schedule === "7 7 * * *",
  );
  const syncWebhook = ms(t0);
  await ctl.idle();

  // Local directory source over a copy of the same files; one file saved.
  const localDir = mkdtempSync(join(tmpdir(), "restash-bench-local-"));
  cpSync(work.dir, localDir, { recursive: true, filter: (p) => !p.includes("/.git") });
  t0 = performance.now();
  await applySource(kube, nsLocal, "local", { localPath: localDir });
  await until(async () => !!(await src(nsLocal, "local")).status?.lastAppliedRevision);
  const localFirst = ms(t0);
  await ctl.idle();
  t0 = performance.now();
  writeFileSync(join(localDir, "team-3/app-3.yaml"), policyYaml("app-3", '  schedule: "3 3 * * *"\n'));
  await until(
    async () => (await kube.get<BackupConfiguration>("stash.appscode.com/v1beta1", "BackupConfiguration", "app-3", nsLocal)).spec.schedule === "3 3 * * *",
  );
  const syncSave = ms(t0);

  await ctl.stop();
  server.close();
  const row = (what: string, ours: number, ref: number | undefined, goal: string) =>
    console.log(
      `${what.padEnd(34)} ${fmt(ours).padStart(9)}   ${ref === undefined ? "".padStart(24) : `kubectl ${fmt(ref).padStart(9)}  ratio ${(ours / ref).toFixed(2)}`}   ${goal}`,
    );
  console.log(
    `\nGitOps sync bench: ${files} policy files -> ${built.objects.length} objects (inventory ${applied}); git ${execFileSync("git", ["--version"], { encoding: "utf8" }).trim()}`,
  );
  row("first sync (git, webhook-less)", syncFirst, kubectlFirst, "goal: ratio <= 1");
  row("no-op resync", syncNoop, kubectlNoop, "goal: < 1 s");
  row("one file: push webhook -> applied", syncWebhook, undefined, "goal: < 2 s");
  row("first sync (local directory)", localFirst, kubectlFirst, "");
  row("one file: save -> applied", syncSave, undefined, "goal: < 1 s");
  const steps = (which: number) => {
    const r = reconciles.filter((x) => x.policySource === `${nsGit}/policies`)[which];
    return r
      ? Object.entries(r.ms)
          .map(([k, v]) => `${k} ${v}`)
          .join(", ")
      : "?";
  };
  console.log(
    `\nsteps, ms (plan = list + dry-run of every changed object; apply = the real applies)\n  first sync:   ${steps(0)}\n  no-op resync: ${steps(1)}\n  one file:     ${steps(2)}`,
  );
  rmSync(localDir, { recursive: true, force: true });
  await remote.cleanup();
  await cp.stop();
}

await main();
