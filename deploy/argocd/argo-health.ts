// Argo CD's verdict on a live object, as Argo CD reaches it: the object's
// resource_customizations/<group>/<Kind>/health.lua run by a real Lua 5.1 (Argo CD runs gopher-lua,
// a Lua 5.1) through run-health.lua. For tests that judge the status the controllers wrote.
import { execFile } from "node:child_process";
import { join } from "node:path";

const here = import.meta.dirname;

export interface ArgoHealth {
  status: "Healthy" | "Progressing" | "Degraded" | "Suspended" | "Missing" | "Unknown";
  message: string;
}

export function argoHealth(obj: { apiVersion: string; kind: string }): Promise<ArgoHealth> {
  const group = obj.apiVersion.split("/")[0];
  const script = join(here, "resource_customizations", group, obj.kind, "health.lua");
  return new Promise((resolve, reject) => {
    const child = execFile("lua5.1", [join(here, "run-health.lua"), script], { encoding: "utf8" }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${obj.kind} health.lua: ${stderr || err.message}`));
      resolve(JSON.parse(stdout));
    });
    child.stdin!.end(JSON.stringify(obj));
  });
}
