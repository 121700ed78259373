// The executor pod of a hook (stash-behaviour.md 7): the pod whose IP an http/tcp hook without a
// host targets, whose first container an exec hook without containerName runs in, and whose
// container ports name a named port. Exec runs through the API server's pods/exec subresource
// (WebSocket, as kubectl does); the kubelet behind it runs the command.
//
//   executorOptions(kube, handler, pod, env) -> ExecuteOptions   reads the Pod only when the hook needs it
//   podExec(kube, req, timeoutMs?) -> { exitCode, stdout, stderr }
import { Writable } from "node:stream";
// Types only: client-node (~80 MiB RSS) is loaded when an exec hook runs, not by every runner.
import type { Exec, V1Container, V1Pod, V1Service, V1Status } from "@kubernetes/client-node";
import type { AppBinding } from "../schema/types.generated.ts";
import { ApiError, clientNode, type Kube } from "../lib/kube/client.ts";
import { stalled, transient } from "../lib/errors.ts";
import type { ExecRequest, ExecuteOptions, Handler } from "./hooks.ts";

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const TAIL = 16 * 1024;

function sink(): { stream: Writable; text: () => string } {
  let buf = "";
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      buf = (buf + chunk.toString("utf8")).slice(-TAIL);
      cb();
    },
  });
  return { stream, text: () => buf };
}

/** The exit code in the status the API server sends on the error channel (0 on Success). */
export function exitCodeOf(status: V1Status): number {
  if (status.status === "Success") return 0;
  const cause = status.details?.causes?.find((c) => c.reason === "ExitCode");
  const n = Number(cause?.message);
  return Number.isInteger(n) ? n : 1;
}

/** The pods/exec path kubectl would use for this request (stdout and stderr, no stdin, no tty). */
export function execPath(req: ExecRequest): string {
  const q = new URLSearchParams();
  for (const c of req.command) q.append("command", c);
  q.set("container", req.container);
  q.set("stdout", "true");
  q.set("stderr", "true");
  return `/api/v1/namespaces/${encodeURIComponent(req.namespace)}/pods/${encodeURIComponent(req.pod)}/exec?${q}`;
}

/**
 * Runs `req.command` in the pod through the API server. A refused handshake is explained by the
 * API server's own answer for the same path (e.g. "pod x does not have a host assigned").
 */
export async function podExec(kube: Kube, req: ExecRequest, timeoutMs = 5 * 60_000): Promise<ExecResult> {
  const out = sink();
  const err = sink();
  let status: V1Status | undefined;
  let ws: Awaited<ReturnType<Exec["exec"]>>;
  try {
    ws = await new (clientNode().Exec)(kube.kc).exec(
      req.namespace,
      req.pod,
      req.container,
      req.command,
      out.stream,
      err.stream,
      null,
      false,
      (s) => (status = s),
    );
  } catch (e) {
    throw await handshakeError(kube, req, e);
  }
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.close();
      reject(transient("HookExecutionFailed", `exec in ${req.namespace}/${req.pod} container ${req.container} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    if (ws.readyState === ws.CLOSED) done();
    else ws.addEventListener("close", done, { once: true });
  });
  if (!status)
    throw transient("HookExecutionFailed", `exec in ${req.namespace}/${req.pod} container ${req.container}: the connection closed without an exit status`);
  return { exitCode: exitCodeOf(status), stdout: out.text(), stderr: err.text() };
}

async function handshakeError(kube: Kube, req: ExecRequest, e: unknown): Promise<Error> {
  const what = `exec in ${req.namespace}/${req.pod} container ${req.container}`;
  const raw = (e as { message?: string })?.message ?? String(e);
  // The WebSocket error carries only the status code; the same request without the upgrade gets
  // the API server's Status for it (not found, no host assigned, forbidden).
  let why = raw;
  if (/Unexpected server response/.test(raw)) {
    try {
      await kube.request(execPath(req).replace(/\?.*$/, ""), { method: "POST", query: { container: req.container, stdout: true, stderr: true } });
    } catch (x) {
      if (x instanceof ApiError) why = `${raw}: ${(x.body as { message?: string })?.message ?? x.message}`;
    }
  }
  return transient("HookExecutionFailed", `${what} was refused by the API server: ${why}`);
}

export interface ExecutorPod {
  namespace: string;
  /** POD_NAME: the runner's own pod (init-container, sidecar, Job) or the app pod of an AppBinding. */
  name?: string;
}

/**
 * What executeHook needs to run `handler` from `pod`: the default host (POD_IP, else the Pod's
 * IP, else 127.0.0.1), named ports and, for exec, the Pod's containers and a pod exec.
 */
export async function executorOptions(
  kube: Kube,
  handler: Handler,
  pod: ExecutorPod,
  env: Readonly<Record<string, string | undefined>>,
): Promise<ExecuteOptions> {
  const port = handler.httpGet?.port ?? handler.httpPost?.port ?? handler.tcpSocket?.port;
  const named = typeof port === "string" && !/^\d+$/.test(port);
  const explicitHost = handler.httpGet?.host || handler.httpPost?.host || handler.tcpSocket?.host;
  const needsPod = !!handler.exec || named || (!explicitHost && !env.POD_IP && !handler.exec);
  let obj: V1Pod | null = null;
  if (needsPod && pod.name) obj = await kube.getOrNull<V1Pod>("v1", "Pod", pod.name, pod.namespace);
  if (handler.exec) {
    if (!pod.name) throw stalled("InvalidHook", "exec hooks run in the executor pod, but POD_NAME is not set", { field: "exec" });
    if (!obj) throw stalled("InvalidHook", `exec hook: executor pod ${pod.namespace}/${pod.name} not found`, { field: "exec" });
  }
  const containers: V1Container[] = obj?.spec?.containers ?? [];
  return {
    defaultHost: env.POD_IP || obj?.status?.podIP || "127.0.0.1",
    resolvePort: (name, containerName) => {
      for (const c of containers) {
        if (containerName && c.name !== containerName) continue;
        const p = (c.ports ?? []).find((x) => x.name === name);
        if (p) return p.containerPort;
      }
      return undefined;
    },
    ...(obj
      ? {
          pod: { namespace: pod.namespace, name: pod.name!, containers: containers.map((c) => c.name) },
          exec: (req: ExecRequest) => podExec(kube, req),
        }
      : {}),
  };
}

/**
 * The app pod behind an AppBinding (Stash runs an AppBinding target's hooks there): the first
 * Running pod selected by the Service its clientConfig names.
 */
export async function appBindingPod(kube: Kube, namespace: string, name: string): Promise<string> {
  const ab = await kube.getOrNull<AppBinding>("appcatalog.appscode.com/v1alpha1", "AppBinding", name, namespace);
  if (!ab) throw stalled("InvalidHook", `AppBinding ${namespace}/${name} not found`, { field: "spec.target.ref" });
  const svcRef = ab.spec?.clientConfig?.service;
  if (!svcRef?.name)
    throw stalled("InvalidHook", `AppBinding ${namespace}/${name} names no Service: its app pod cannot be found`, { field: "spec.clientConfig.service.name" });
  const svcNs = svcRef.namespace || namespace;
  const svc = await kube.getOrNull<V1Service>("v1", "Service", svcRef.name, svcNs);
  const selector = svc?.spec?.selector as Record<string, string> | undefined;
  if (!svc || !selector || Object.keys(selector).length === 0)
    throw stalled("InvalidHook", `Service ${svcNs}/${svcRef.name} (AppBinding ${namespace}/${name}) ${svc ? "has no selector" : "not found"}`, {
      field: "spec.clientConfig.service.name",
    });
  const pods = (
    await kube.list<V1Pod>(
      "v1",
      "Pod",
      svcNs,
      Object.entries(selector)
        .map(([k, v]) => `${k}=${v}`)
        .join(","),
    )
  ).items;
  const pod = pods.find((p) => p.status?.phase === "Running") ?? pods[0];
  if (!pod) throw transient("HookExecutionFailed", `no pod behind Service ${svcNs}/${svcRef.name} (AppBinding ${namespace}/${name})`);
  return pod.metadata!.name!;
}
