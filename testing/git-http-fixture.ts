// Test helper: a real HTTPS Git server. Node terminates TLS (a certificate from lib/pki.ts) and
// checks basic or bearer credentials; `git http-backend` (CGI) serves the repositories.
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:https";
import { createCA, issueCertificate } from "../lib/pki.ts";

export interface GitHttpServer {
  url: string;
  caPem: string;
  close(): Promise<void>;
}

export async function startGitHttpServer(projectRoot: string, auth: { username?: string; password?: string; token?: string }): Promise<GitHttpServer> {
  const ca = await createCA("restash-test-git-ca");
  const cert = await issueCertificate(ca, { commonName: "127.0.0.1", ipAddresses: ["127.0.0.1"], usage: "server" });
  const server: Server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const header = req.headers.authorization ?? "";
    const ok =
      (auth.token && header === `Bearer ${auth.token}`) ||
      (auth.username && header === `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`);
    if (!ok) {
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="git"' });
      res.end("unauthorized\n");
      return;
    }
    const url = new URL(req.url ?? "/", "https://x");
    const cgi = spawn("git", ["http-backend"], {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        GIT_PROJECT_ROOT: projectRoot,
        GIT_HTTP_EXPORT_ALL: "1",
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? "GET",
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        HTTP_CONTENT_ENCODING: String(req.headers["content-encoding"] ?? ""),
        GIT_PROTOCOL: String(req.headers["git-protocol"] ?? ""),
        REMOTE_USER: "test",
        REMOTE_ADDR: "127.0.0.1",
      },
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on("data", (chunk: Buffer) => {
      if (headersDone) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString("latin1").split("\r\n")) {
        const i = line.indexOf(":");
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === "status") status = Number(v.split(" ")[0]);
        else headers[k] = v;
      }
      res.writeHead(status, headers);
      res.write(head.subarray(end + 4));
    });
    cgi.on("close", () => res.end());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    url: `https://127.0.0.1:${(server.address() as any).port}`,
    caPem: ca.certPem,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
