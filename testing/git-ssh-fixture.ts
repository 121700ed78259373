// Test helper: a real ssh Git server. OpenSSH's sshd runs as the current user (no system service,
// no root needed) on a free loopback port, with its own host key and an authorized_keys that lets
// one client key run only git-shell (git-upload-pack/git-receive-pack) on the repositories.
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../local/control-plane.ts";

const run = promisify(execFile);

export interface SshKeyPair {
  privateKey: string;
  publicKey: string;
}

export interface SshGitServer {
  host: string;
  port: number;
  /** The login name in URLs: sshd running as a user can only log that user in. */
  user: string;
  /** ssh:// URL of a path on this machine (a bare repository). */
  urlOf(path: string): string;
  /** The key authorized_keys accepts. */
  clientKey: SshKeyPair;
  /** Accepts one more public key. */
  authorize(publicKey: string): Promise<void>;
  /** A known_hosts line for this server's host key. */
  knownHosts: string;
  /** Everything sshd logged (for failure messages). */
  log(): string;
  close(): Promise<void>;
}

export async function newKeyPair(dir: string, name: string, passphrase = ""): Promise<SshKeyPair> {
  const path = join(dir, name);
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-C", name, "-f", path]);
  return { privateKey: await readFile(path, "utf8"), publicKey: (await readFile(`${path}.pub`, "utf8")).trim() };
}

/** Waits until the port answers with an SSH banner. */
async function waitForBanner(port: number, child: ChildProcess, log: () => string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sshd exited (${child.exitCode}): ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.setTimeout(1000);
      s.once("data", (d) => {
        s.destroy();
        resolve(d.toString().startsWith("SSH-"));
      });
      s.once("error", () => resolve(false));
      s.once("timeout", () => {
        s.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`sshd did not answer on ${port}: ${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startSshGitServer(): Promise<SshGitServer> {
  const dir = await mkdtemp(join(tmpdir(), "restash-sshd-"));
  const host = await newKeyPair(dir, "host_ed25519");
  const clientKey = await newKeyPair(dir, "client");
  const user = userInfo().username;
  // As root, sshd separates privileges into a chroot it expects to exist; as a user it does not.
  if (process.getuid?.() === 0) await mkdir("/run/sshd", { recursive: true, mode: 0o755 });
  // git-shell refuses anything but git's own commands; `restrict` turns off forwarding and ptys.
  const authorizedLine = (publicKey: string) => `restrict,command="git-shell -c \\"$SSH_ORIGINAL_COMMAND\\"" ${publicKey.trim()}\n`;
  await writeFile(join(dir, "authorized_keys"), authorizedLine(clientKey.publicKey), { mode: 0o600 });
  const port = await freePort();
  const config = [
    `Port ${port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${join(dir, "host_ed25519")}`,
    `PidFile ${join(dir, "sshd.pid")}`,
    `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
    `AllowUsers ${user}`,
    "AuthenticationMethods publickey",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PermitRootLogin prohibit-password",
    "UsePAM no",
    // The temporary directory's parents are world-writable (/tmp): do not judge them.
    "StrictModes no",
    "LogLevel VERBOSE",
  ].join("\n");
  await writeFile(join(dir, "sshd_config"), config + "\n");
  let logText = "";
  // sshd re-executes itself and so needs its absolute path.
  const child = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
  child.stderr!.on("data", (d: Buffer) => {
    logText = (logText + d.toString()).slice(-20_000);
  });
  const log = () => logText;
  try {
    await waitForBanner(port, child, log);
  } catch (e) {
    child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    host: "127.0.0.1",
    port,
    user,
    urlOf: (path: string) => `ssh://${user}@127.0.0.1:${port}${path}`,
    clientKey,
    authorize: (publicKey: string) => writeFile(join(dir, "authorized_keys"), authorizedLine(publicKey), { flag: "a" }),
    knownHosts: `[127.0.0.1]:${port} ${host.publicKey.split(" ").slice(0, 2).join(" ")}\n`,
    log,
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
