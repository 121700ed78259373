// The Git side of a PolicySource: one local clone per source, fetched with simple-git over
// file://, git://, https (basic auth or bearer token from a Secret) or ssh (identity from a
// Secret, as Flux has it: keys identity, known_hosts, optionally identity.pub and password, the
// key's passphrase). Credentials go through the environment, never argv, and never reach a
// message. An ssh private key is on disk (mode 0600) only while git talks to the remote.
import { mkdir, writeFile, readFile, access, rm, chmod } from "node:fs/promises";
import { join } from "node:path";
import { simpleGit, type SimpleGit } from "simple-git";
import { redact, stalled, transient, type ReconcileError } from "../../lib/errors.ts";

export interface GitCredentials {
  username?: string;
  password?: string;
  bearerToken?: string;
  identity?: string;
  knownHosts?: string;
  /** PEM bundle to trust for https remotes (Secret key ca.crt). */
  caCert?: string;
}

export interface GitRepo {
  git: SimpleGit;
  dir: string;
  url: string;
  secrets: string[];
  /** Runs git commands that reach the remote: the ssh key exists on disk only meanwhile. */
  remote<T>(fn: () => Promise<T>): Promise<T>;
}

/** ssh://… or scp-like user@host:path (not a local path, not another scheme). */
export function isSshUrl(url: string): boolean {
  return /^ssh:\/\//i.test(url) || /^[^/:@\s]+@[^/:\s]+:(?!\/\/)/.test(url);
}

/** A value for GIT_SSH_COMMAND, which git runs through a shell. */
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

const ENV_ALLOW = [
  "GIT_CONFIG_COUNT",
  "GIT_CONFIG_KEY_0",
  "GIT_CONFIG_VALUE_0",
  "GIT_CONFIG_KEY_1",
  "GIT_CONFIG_VALUE_1",
  "GIT_SSH_COMMAND",
  "GIT_TERMINAL_PROMPT",
  "SSH_ASKPASS",
  "SSH_ASKPASS_REQUIRE",
  "RESTASH_SSH_PASSPHRASE",
  "GIT_AUTHOR_NAME",
  "GIT_AUTHOR_EMAIL",
  "GIT_COMMITTER_NAME",
  "GIT_COMMITTER_EMAIL",
];

/** simple-git in `dir` with exactly this environment (git's own variables must be allowed by name). */
export function gitAt(dir: string, env: Record<string, string> = {}): SimpleGit {
  const full = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, ...env };
  return simpleGit({
    baseDir: dir,
    trimmed: true,
    maxConcurrentProcesses: 1,
    allowEnvironment: ENV_ALLOW,
    unsafe: { allowUnsafeSshCommand: true, allowUnsafeConfigEnvCount: true, allowUnsafeAskPass: true },
  }).env(full);
}

/** A URL safe to print: user info dropped. */
export function displayUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1");
}

export async function openRepo(dir: string, url: string, creds: GitCredentials = {}): Promise<GitRepo> {
  await mkdir(dir, { recursive: true });
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dir,
    GIT_TERMINAL_PROMPT: "0",
    GIT_AUTHOR_NAME: "restash",
    GIT_AUTHOR_EMAIL: "restash@localhost",
    GIT_COMMITTER_NAME: "restash",
    GIT_COMMITTER_EMAIL: "restash@localhost",
  };
  const secrets: string[] = [];
  const config: [string, string][] = [];
  const ssh = isSshUrl(url);
  if (!ssh && (creds.bearerToken || (creds.username && creds.password))) {
    const token = creds.bearerToken ? `Bearer ${creds.bearerToken}` : `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}`;
    config.push(["http.extraHeader", `Authorization: ${token}`]);
    secrets.push(token, ...[creds.bearerToken, creds.password].filter((s): s is string => !!s));
  }
  if (creds.caCert) {
    const ca = join(dir, "..", "ca.crt");
    await writeFile(ca, creds.caCert);
    config.push(["http.sslCAInfo", ca]);
  }
  // Through the environment (GIT_CONFIG_*), so no credential is ever on a command line.
  if (config.length) {
    env.GIT_CONFIG_COUNT = String(config.length);
    config.forEach(([k, v], i) => {
      env[`GIT_CONFIG_KEY_${i}`] = k;
      env[`GIT_CONFIG_VALUE_${i}`] = v;
    });
  }
  let remote = <T>(fn: () => Promise<T>) => fn();
  if (ssh) {
    // Flux's rules: the Secret brings the key and the host's key; nothing is trusted on first use.
    if (!creds.identity)
      throw stalled(
        "SecretInvalid",
        `${displayUrl(url)} is an ssh remote: spec.secretRef must name a Secret with the keys identity (private key) and known_hosts`,
      );
    if (!creds.knownHosts?.trim())
      throw stalled(
        "SecretInvalid",
        `${displayUrl(url)} is an ssh remote: the Secret has an identity but no known_hosts (the server's host key, e.g. from ssh-keyscan)`,
      );
    const sshDir = join(dir, "..", "ssh");
    await mkdir(sshDir, { recursive: true, mode: 0o700 });
    await chmod(sshDir, 0o700);
    const key = join(sshDir, "identity");
    const hosts = join(sshDir, "known_hosts");
    await writeFile(hosts, creds.knownHosts.endsWith("\n") ? creds.knownHosts : creds.knownHosts + "\n", { mode: 0o600 });
    await rm(key, { force: true }); // left over by a crash
    const options = [
      "IdentitiesOnly=yes",
      `UserKnownHostsFile=${shellQuote(hosts)}`,
      "GlobalKnownHostsFile=/dev/null",
      "StrictHostKeyChecking=yes",
      "ConnectTimeout=30",
    ];
    if (creds.password) {
      // Flux's `password`: the key's passphrase, handed to ssh by an askpass program that reads it
      // from the environment (never argv, never a file); no other prompt is allowed.
      const askpass = join(sshDir, "askpass");
      await writeFile(askpass, "#!/bin/sh\nprintf '%s\\n' \"$RESTASH_SSH_PASSPHRASE\"\n", { mode: 0o700 });
      env.SSH_ASKPASS = askpass;
      env.SSH_ASKPASS_REQUIRE = "force";
      env.RESTASH_SSH_PASSPHRASE = creds.password;
      options.push("BatchMode=no", "PasswordAuthentication=no", "KbdInteractiveAuthentication=no", "NumberOfPasswordPrompts=1");
      secrets.push(creds.password);
    } else options.push("BatchMode=yes");
    env.GIT_SSH_COMMAND = ["ssh", "-F", "/dev/null", "-i", shellQuote(key), ...options.flatMap((o) => ["-o", o])].join(" ");
    const identity = creds.identity.endsWith("\n") ? creds.identity : creds.identity + "\n";
    // Reference-counted: overlapping remote operations share the file; the last one removes it.
    let users = 0;
    let ready: Promise<void> | undefined;
    remote = async <T>(fn: () => Promise<T>): Promise<T> => {
      if (users++ === 0) ready = writeFile(key, identity, { mode: 0o600, flag: "w" });
      try {
        await ready;
        return await fn();
      } finally {
        if (--users === 0) await rm(key, { force: true });
      }
    };
    secrets.push(creds.identity);
  }
  const git = gitAt(dir, env);
  let fresh = false;
  try {
    await access(join(dir, ".git"));
  } catch {
    fresh = true;
  }
  if (fresh) {
    await git.init();
    await git.addRemote("origin", url);
  } else await git.raw(["remote", "set-url", "origin", url]);
  return { git, dir, url, secrets, remote };
}

/** Turns a git failure into a typed error with a reason and a message fit for status. */
export function classifyGitError(e: unknown, repo: GitRepo, what: string, branch?: string): ReconcileError {
  const raw = redact(String((e as Error)?.message ?? e), repo.secrets).replace(/[a-z][a-z0-9+.-]*:\/\/[^/\s@]*@/gi, (m) => m.replace(/\/\/[^/@]*@/, "//"));
  const msg = raw
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("hint:"))
    .slice(0, 3)
    .join("; ");
  const url = displayUrl(repo.url);
  if (/couldn't find remote ref|Remote branch .* not found/i.test(raw)) return stalled("BranchNotFound", `branch "${branch}" does not exist on ${url}`);
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No \S+ host key is known/i.test(raw))
    return transient(
      "HostKeyVerificationFailed",
      `${what} ${url}: the server's host key is not the one in the Secret's known_hosts; nothing was fetched (${msg})`,
    );
  if (/Authentication failed|could not read Username|Permission denied \(publickey|403|401|access denied/i.test(raw))
    return transient("AuthenticationFailed", `${what} ${url}: the remote rejected the credentials (${msg})`);
  if (
    /Could not resolve host|Connection refused|unable to connect|does not appear to be a git repository|not found|timed out|Could not read from remote/i.test(
      raw,
    )
  )
    return transient("RemoteUnreachable", `${what} ${url}: ${msg}`);
  return transient("GitOperationFailed", `${what} ${url}: ${msg}`);
}

/** Fetches the branch; returns its head commit. */
export async function fetchBranch(repo: GitRepo, branch: string): Promise<string> {
  try {
    await repo.remote(() => repo.git.raw(["fetch", "--no-tags", "--prune", "origin", `+refs/heads/${branch}:refs/remotes/origin/${branch}`]));
  } catch (e) {
    throw classifyGitError(e, repo, "fetching", branch);
  }
  // The fetched head is in FETCH_HEAD: reading it saves a git process on every resync.
  const head = /^([0-9a-f]{40})\t/.exec(await readFile(join(repo.dir, ".git", "FETCH_HEAD"), "utf8").catch(() => ""));
  return head ? head[1] : repo.git.revparse([`refs/remotes/origin/${branch}`]);
}

/** Whether `older` is an ancestor of `newer` in the fetched history (false if `older` is unknown). */
export async function isAncestor(repo: GitRepo, older: string, newer: string): Promise<boolean> {
  // simple-git resolves a silent non-zero exit, so compare the merge base instead of --is-ancestor.
  try {
    const base = await repo.git.raw(["merge-base", older, newer]);
    return base.trim() === older;
  } catch {
    return false;
  }
}

export async function checkout(repo: GitRepo, sha: string): Promise<void> {
  await repo.git.raw(["-c", "advice.detachedHead=false", "checkout", "--force", "--detach", sha]);
  await repo.git.raw(["clean", "-ffdxq"]);
}

/** Commit sha of a "main@sha1:<hex>" revision string. */
export function shaOf(revision: string | undefined): string | undefined {
  const m = /@sha1:([0-9a-f]{40})$/.exec(revision ?? "");
  return m?.[1];
}

export const revisionString = (branch: string, sha: string) => `${branch}@sha1:${sha}`;
