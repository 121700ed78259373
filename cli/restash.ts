// restash's policy review verbs (bin/restash.ts dispatches them): check policies before they merge.
//   restash validate <dir>   schemas + semantic checks; exit 1 on errors
//   restash render <dir>     the Stash objects the files produce, as YAML
//   restash plan <dir>       what would be created, changed, pruned: against the cluster
//                            (--source ns/name, kubeconfig) or another revision (--against <rev>);
//                            exit 0 no change, 1 changes, 2 error (as `flux diff`)
import { parseArgs } from "node:util";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { dump } from "js-yaml";
import { Kube } from "../lib/kube/client.ts";
import { loadTree } from "../policies/load-tree.ts";
import { buildAndCheck } from "../policies/build.ts";
import { formatSourceError, type BuildResult } from "../policies/model.ts";
import { planAgainstCluster, planAgainstObjects } from "../policies/plan.ts";
import { formatPlanMarkdown, formatPlanText, hasChanges } from "../policies/plan-diff.ts";

const USAGE = `usage:
  restash validate <dir> [--namespace NS] [--task NAME]... [--repository NS/NAME]...
  restash render <dir> [--namespace NS]
  restash plan <dir> (--source NS/NAME [--kubeconfig FILE] [--no-impersonate] | --against GIT-REV) [--namespace NS] [--format text|markdown]
`;

export interface CliIO {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

async function load(dir: string, opts: { namespace: string; tasks: string[]; repositories: string[]; root?: string }): Promise<BuildResult> {
  const tree = await loadTree({ root: opts.root ?? dir, path: opts.root ? relative(opts.root, dir) || "." : "." });
  const built = buildAndCheck(tree.files, {
    defaultNamespace: opts.namespace,
    externalTasks: new Set(opts.tasks),
    externalRepositories: new Set(opts.repositories),
  });
  return { ...built, errors: [...tree.errors, ...built.errors] };
}

export async function runCli(argv: string[], io: CliIO): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        namespace: { type: "string", short: "n" },
        task: { type: "string", multiple: true },
        repository: { type: "string", multiple: true },
        source: { type: "string" },
        kubeconfig: { type: "string" },
        against: { type: "string" },
        format: { type: "string" },
        "no-impersonate": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    io.err(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, dirArg] = positionals;
  if (values.help || !command || !dirArg) {
    io.err(USAGE);
    return command ? 2 : values.help ? 0 : 2;
  }
  const dir = resolve(io.cwd, dirArg);
  const namespace = values.namespace ?? "default";
  const base = { namespace, tasks: values.task ?? [], repositories: values.repository ?? [] };
  const report = (b: BuildResult) => {
    for (const e of b.errors) io.err(formatSourceError(e) + "\n");
  };

  try {
    if (command === "validate") {
      const b = await load(dir, base);
      report(b);
      if (b.errors.length) {
        io.err(`${b.errors.length} error(s)\n`);
        return 1;
      }
      io.out(`${b.objects.length} object(s) valid\n`);
      return 0;
    }
    if (command === "render") {
      const b = await load(dir, base);
      if (b.errors.length) {
        report(b);
        return 1;
      }
      io.out(b.objects.map((o) => `# ${o.file}:${o.line}\n` + dump(o.object, { lineWidth: -1, noRefs: true })).join("---\n"));
      return 0;
    }
    if (command === "plan") {
      const b = await load(dir, base);
      if (b.errors.length) {
        report(b);
        return 2;
      }
      let entries;
      if (values.against) {
        const root = execFileSync("git", ["-C", dir, "rev-parse", "--show-toplevel"], { encoding: "utf8" }).trim();
        const prefix = relative(root, dir);
        const tmp = mkdtempSync(join(tmpdir(), "restash-plan-"));
        try {
          const tar = execFileSync("git", ["-C", root, "archive", "--format=tar", values.against, "--", prefix || "."], { maxBuffer: 1 << 30 });
          execFileSync("tar", ["-x", "-C", tmp], { input: tar });
          const before = await load(join(tmp, prefix), { ...base, root: tmp });
          if (before.errors.length) io.err(`note: ${values.against} itself has ${before.errors.length} error(s); comparing what it renders\n`);
          entries = planAgainstObjects(before.objects, b.objects);
        } finally {
          rmSync(tmp, { recursive: true, force: true });
        }
      } else {
        if (!values.source || !values.source.includes("/")) {
          io.err("plan needs --source NAMESPACE/NAME (the PolicySource the files belong to) or --against GIT-REV\n");
          return 2;
        }
        const [sns, sname] = values.source.split("/");
        const kc = values.kubeconfig ?? io.env.KUBECONFIG;
        const kube = kc ? Kube.fromFile(kc) : Kube.fromDefault();
        entries = await planAgainstCluster(kube, b.objects, { source: { namespace: sns, name: sname }, impersonate: !values["no-impersonate"] });
      }
      io.out(values.format === "markdown" ? formatPlanMarkdown(entries) : formatPlanText(entries));
      if (entries.some((e) => e.action === "conflict" || e.action === "error")) return 2;
      return hasChanges(entries) ? 1 : 0;
    }
    io.err(`unknown command "${command}"\n${USAGE}`);
    return 2;
  } catch (e) {
    io.err(`restash ${command}: ${(e as Error).message}\n`);
    return 2;
  }
}
