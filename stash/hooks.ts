// Stash hooks (stash-behaviour.md section 7): preBackup / postBackup / preRestore / postRestore
// handlers. httpGet, httpPost and tcpSocket run here for real; exec is built into a request
// (pod, container, rendered command) for a caller that can exec into a pod. Whether a post hook
// runs is a pure decision on executionPolicy. exec commands and httpPost bodies that contain
// "{{" are rendered as Go templates over Stash's Summary (the subset the Stash docs use: fields,
// if / else if / else / end, eq ne not and or, pipes into upper lower title quote trim default,
// "-" trim markers, "..." and `...` strings), then trimmed.
//
//   hookDecision(policy, { hook, phase, retryLeft }) -> { run: boolean; message?: string }   (pure)
//   renderTemplate(text, summary) -> string                                                  (pure; throws HookTemplateError)
//   buildExecRequest(handler, summary, pod) -> ExecRequest                                   (pure)
//   executeHook(handler, summary, opts?) -> Promise<HookResult>   (throws HookFailedError)
import { connect } from "node:net";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { stalled, transient, type ReconcileError } from "../lib/errors.ts";
import type { HTTPPostAction, PreBackupHook } from "../schema/types.generated.ts";

export type HookType = "preBackup" | "postBackup" | "preRestore" | "postRestore";
export type ExecutionPolicy = "Always" | "OnSuccess" | "OnFailure" | "OnFinalRetryFailure";

export type { HTTPGetAction, HTTPHeader, HTTPPostAction } from "../schema/types.generated.ts";

/** kmodules prober Handler: what every Stash hook (preBackup, postRestore, ...) holds besides its executionPolicy. */
export type Handler = Pick<PreBackupHook, "containerName" | "exec" | "httpGet" | "httpPost" | "tcpSocket">;

/** Stash's Summary: the data hook templates see. */
export interface HookSummary {
  Name: string;
  Namespace: string;
  Invoker: { APIGroup?: string; Kind: string; Name: string };
  Target: { APIVersion?: string; Kind: string; Name: string; Namespace?: string };
  Status: { Phase: string; Duration?: string; Error?: string };
  RetryLeft?: number;
}

// ------------------------------------------------------------------ execution policy

/** Whether a hook runs given the target phase. Pre hooks always run. */
export function hookDecision(
  policy: ExecutionPolicy | undefined,
  s: { hook: HookType; phase: string; retryLeft?: number },
): { run: boolean; message?: string } {
  if (s.hook === "preBackup" || s.hook === "preRestore") return { run: true };
  const p = policy ?? "Always";
  let run: boolean;
  switch (p) {
    case "Always":
      run = true;
      break;
    case "OnSuccess":
      run = s.phase === "Succeeded";
      break;
    case "OnFailure":
      run = s.phase === "Failed";
      break;
    case "OnFinalRetryFailure":
      run = s.hook === "postBackup" && s.phase === "Failed" && (s.retryLeft ?? 0) === 0;
      break;
    default:
      throw stalled("InvalidExecutionPolicy", `unknown executionPolicy ${JSON.stringify(p)} (Always, OnSuccess, OnFailure, OnFinalRetryFailure)`, {
        field: `spec.hooks.${s.hook}.executionPolicy`,
      });
  }
  if (run) return { run };
  const why = p === "OnFinalRetryFailure" && s.phase === "Failed" ? ` and retryLeft is ${s.retryLeft ?? 0}` : "";
  return { run: false, message: `Skipping executing ${s.hook}. Reason: executionPolicy is "${p}" but phase is "${s.phase}"${why}.` };
}

// ------------------------------------------------------------------ templates

export class HookTemplateError extends Error {
  constructor(template: string, problem: string) {
    super(`hook template ${JSON.stringify(template.length > 80 ? template.slice(0, 80) + "…" : template)}: ${problem}`);
    this.name = "HookTemplateError";
  }
}

type Node = { t: "text"; v: string } | { t: "out"; expr: string } | { t: "if"; branches: { cond: string | null; body: Node[] }[] };

/** Splits into text and actions, honouring "{{-" / "-}}" whitespace trimming. */
function lex(src: string): ({ text: string } | { action: string })[] {
  const out: ({ text: string } | { action: string })[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf("{{", i);
    if (open < 0) {
      out.push({ text: src.slice(i) });
      break;
    }
    let text = src.slice(i, open);
    let start = open + 2;
    if (src[start] === "-" && /\s/.test(src[start + 1] ?? "")) {
      text = text.replace(/\s+$/, "");
      start++;
    }
    out.push({ text });
    const close = src.indexOf("}}", start);
    if (close < 0) throw new HookTemplateError(src, `unclosed action at offset ${open}`);
    let end = close;
    let trimAfter = false;
    if (src[close - 1] === "-" && /\s/.test(src[close - 2] ?? "")) {
      end = close - 1;
      trimAfter = true;
    }
    out.push({ action: src.slice(start, end).trim() });
    i = close + 2;
    if (trimAfter) while (i < src.length && /\s/.test(src[i])) i++;
  }
  return out;
}

function parse(src: string): Node[] {
  const tokens = lex(src);
  let pos = 0;
  const block = (inIf: boolean): { nodes: Node[]; stop?: string } => {
    const nodes: Node[] = [];
    while (pos < tokens.length) {
      const tok = tokens[pos++];
      if ("text" in tok) {
        if (tok.text) nodes.push({ t: "text", v: tok.text });
        continue;
      }
      const a = tok.action;
      if (a.startsWith("/*")) continue; // comment
      if (/^if\s/.test(a)) {
        const branches: { cond: string | null; body: Node[] }[] = [];
        let cond: string | null = a.slice(3).trim();
        for (;;) {
          const inner = block(true);
          branches.push({ cond, body: inner.nodes });
          if (inner.stop === "end") break;
          if (inner.stop === "else") cond = null;
          else if (inner.stop?.startsWith("else if ")) cond = inner.stop.slice(8).trim();
          else throw new HookTemplateError(src, "missing {{ end }} for {{ if }}");
        }
        nodes.push({ t: "if", branches });
        continue;
      }
      if (a === "end" || a === "else" || /^else if\s/.test(a)) {
        if (!inIf) throw new HookTemplateError(src, `unexpected {{ ${a} }}`);
        return { nodes, stop: a };
      }
      if (/^(range|with|define|template|block)\b/.test(a))
        throw new HookTemplateError(src, `{{ ${a.split(/\s/)[0]} }} is not supported (fields, if/else, eq/ne/not/and/or and pipes are)`);
      nodes.push({ t: "out", expr: a });
    }
    if (inIf) throw new HookTemplateError(src, "missing {{ end }} for {{ if }}");
    return { nodes };
  };
  return block(false).nodes;
}

type Value = string | number | boolean | undefined | null | object;

function splitArgs(expr: string, src: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"' || c === "`") {
      let j = i + 1;
      while (j < expr.length && expr[j] !== c) j += c === '"' && expr[j] === "\\" ? 2 : 1;
      if (j >= expr.length) throw new HookTemplateError(src, `unterminated string in ${JSON.stringify(expr)}`);
      out.push(expr.slice(i, j + 1));
      i = j + 1;
      continue;
    }
    if (c === "(") {
      let depth = 0;
      let j = i;
      for (; j < expr.length; j++) {
        if (expr[j] === "(") depth++;
        else if (expr[j] === ")" && --depth === 0) break;
      }
      if (depth !== 0 && j >= expr.length) throw new HookTemplateError(src, `unbalanced ( in ${JSON.stringify(expr)}`);
      out.push(expr.slice(i, j + 1));
      i = j + 1;
      continue;
    }
    let j = i;
    while (j < expr.length && !/\s/.test(expr[j])) j++;
    out.push(expr.slice(i, j));
    i = j;
  }
  return out;
}

function truthy(v: Value): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  return true;
}

function show(v: Value): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

const FUNCS: Record<string, (args: Value[]) => Value> = {
  eq: (a) => a.slice(1).some((b) => a[0] === b),
  ne: (a) => a[0] !== a[1],
  not: (a) => !truthy(a[0]),
  and: (a) => a.reduce((acc: Value, v) => (truthy(acc) ? v : acc), true),
  or: (a) => a.find((v) => truthy(v)) ?? a[a.length - 1],
  upper: (a) => show(a[0]).toUpperCase(),
  lower: (a) => show(a[0]).toLowerCase(),
  title: (a) => show(a[0]).replace(/\b\w/g, (c) => c.toUpperCase()),
  trim: (a) => show(a[0]).trim(),
  quote: (a) => JSON.stringify(show(a[0])),
  default: (a) => (truthy(a[1]) ? a[1] : a[0]),
};

function evalExpr(expr: string, data: HookSummary, src: string): Value {
  const stages = splitPipes(expr);
  let piped: Value | undefined;
  let first = true;
  for (const stage of stages) {
    const args = splitArgs(stage, src);
    if (args.length === 0) throw new HookTemplateError(src, `empty command in ${JSON.stringify(expr)}`);
    const head = args[0];
    const rest = args.slice(1).map((a) => operand(a, data, src));
    if (!first) rest.push(piped);
    if (FUNCS[head]) piped = FUNCS[head](rest);
    else if (args.length === 1 && first) piped = operand(head, data, src);
    else throw new HookTemplateError(src, `unknown function ${JSON.stringify(head)}`);
    first = false;
  }
  return piped;
}

function splitPipes(expr: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quote = "";
  let depth = 0;
  for (const c of expr) {
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === '"' || c === "`") quote = c;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "|" && depth === 0) {
      out.push(cur.trim());
      cur = "";
      continue;
    }
    cur += c;
  }
  out.push(cur.trim());
  return out;
}

function operand(tok: string, data: HookSummary, src: string): Value {
  if (tok.startsWith('"')) return JSON.parse(tok) as string;
  if (tok.startsWith("`")) return tok.slice(1, -1);
  if (tok.startsWith("(")) return evalExpr(tok.slice(1, -1), data, src);
  if (tok === "true" || tok === "false") return tok === "true";
  if (/^-?\d+(\.\d+)?$/.test(tok)) return Number(tok);
  if (tok === ".") return data as unknown as Value;
  if (tok.startsWith(".")) {
    let v: unknown = data;
    for (const part of tok.slice(1).split(".")) {
      if (v === null || typeof v !== "object") throw new HookTemplateError(src, `${tok}: cannot read ${part} of a non-object`);
      // Go's missingkey=default on a struct: an unknown field is an error, an unset one is the zero value.
      if (!KNOWN_FIELDS.has(part)) throw new HookTemplateError(src, `${tok}: Summary has no field ${part}`);
      v = (v as Record<string, unknown>)[part];
    }
    return v as Value;
  }
  throw new HookTemplateError(src, `cannot evaluate ${JSON.stringify(tok)}`);
}

const KNOWN_FIELDS = new Set(["Name", "Namespace", "Invoker", "Target", "Status", "RetryLeft", "APIGroup", "APIVersion", "Kind", "Phase", "Duration", "Error"]);

function evalNodes(nodes: Node[], data: HookSummary, src: string): string {
  let out = "";
  for (const n of nodes) {
    if (n.t === "text") out += n.v;
    else if (n.t === "out") out += show(evalExpr(n.expr, data, src));
    else {
      for (const b of n.branches) {
        if (b.cond === null || truthy(evalExpr(b.cond, data, src))) {
          out += evalNodes(b.body, data, src);
          break;
        }
      }
    }
  }
  return out;
}

/** Renders `text` if it contains "{{" (Stash only templates those), trimmed like Stash does. */
export function renderTemplate(text: string, summary: HookSummary): string {
  if (!text.includes("{{")) return text;
  return evalNodes(parse(text), summary, text).trim();
}

// ------------------------------------------------------------------ exec

export interface ExecRequest {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
}

/** The exec a caller must run in the pod: container defaults to the pod's first container. */
export function buildExecRequest(handler: Handler, summary: HookSummary, pod: { namespace: string; name: string; containers: string[] }): ExecRequest {
  if (!handler.exec) throw stalled("InvalidHook", "handler has no exec action", { field: "exec" });
  if (!handler.exec.command?.length) throw stalled("InvalidHook", "exec.command is empty", { field: "exec.command" });
  const container = handler.containerName || pod.containers[0];
  if (!container) throw stalled("InvalidHook", `pod ${pod.namespace}/${pod.name} has no container to exec into`, { field: "containerName" });
  if (handler.containerName && !pod.containers.includes(handler.containerName)) {
    throw stalled("InvalidHook", `pod ${pod.namespace}/${pod.name} has no container ${handler.containerName} (has ${pod.containers.join(", ")})`, {
      field: "containerName",
    });
  }
  return { namespace: pod.namespace, pod: pod.name, container, command: handler.exec.command.map((c) => renderTemplate(c, summary)) };
}

// ------------------------------------------------------------------ http / tcp

export interface HookResult {
  action: "exec" | "httpGet" | "httpPost" | "tcpSocket";
  /** What ran, without header values or bodies (they may hold tokens). */
  description: string;
  statusCode?: number;
}

export interface ExecuteOptions {
  /** Host when the handler names none (Stash: the executor pod's IP). Default 127.0.0.1. */
  defaultHost?: string;
  /** Resolves a named port (needs containerName in Stash). */
  resolvePort?: (name: string, containerName?: string) => number | undefined;
  /** Runs an exec request in the pod (a pod exec; there is no kubelet in tests). */
  exec?: (req: ExecRequest) => Promise<{ exitCode: number; stdout?: string; stderr?: string }>;
  /** Needed for exec: the executor pod. */
  pod?: { namespace: string; name: string; containers: string[] };
  timeoutMs?: number;
}

function hookFailed(message: string): ReconcileError {
  return transient("HookExecutionFailed", message);
}

function portOf(port: number | string, handler: Handler, opts: ExecuteOptions): number {
  if (typeof port === "number") return port;
  if (/^\d+$/.test(port)) return Number(port);
  const p = opts.resolvePort?.(port, handler.containerName);
  if (p === undefined)
    throw stalled(
      "InvalidHook",
      `named port ${JSON.stringify(port)} cannot be resolved${handler.containerName ? ` in container ${handler.containerName}` : " (set containerName)"}`,
      { field: "port" },
    );
  return p;
}

function httpCall(method: "GET" | "POST", a: HTTPPostAction, handler: Handler, summary: HookSummary, opts: ExecuteOptions): Promise<HookResult> {
  const scheme = (a.scheme ?? "HTTP").toUpperCase() === "HTTPS" ? "https" : "http";
  const host = a.host || opts.defaultHost || "127.0.0.1";
  const port = portOf(a.port, handler, opts);
  const path = a.path ? (a.path.startsWith("/") ? a.path : `/${a.path}`) : "/";
  const url = `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}${path}`;
  const headers: Record<string, string> = {};
  for (const h of a.httpHeaders ?? []) headers[h.name] = h.value;
  let body: string | undefined;
  if (method === "POST") {
    if (a.form?.length) {
      const form = new URLSearchParams();
      for (const f of a.form) for (const v of f.values ?? []) form.append(String(f.key), v);
      body = form.toString();
      if (!Object.keys(headers).some((k) => k.toLowerCase() === "content-type")) headers["Content-Type"] = "application/x-www-form-urlencoded";
    } else body = renderTemplate(a.body ?? "", summary);
    headers["Content-Length"] = String(Buffer.byteLength(body));
  }
  const description = `${method} ${url}`;
  return new Promise((resolve, reject) => {
    const req = (scheme === "https" ? httpsRequest : httpRequest)(url, { method, headers }, (res) => {
      res.resume();
      res.on("end", () => {
        const code = res.statusCode ?? 0;
        if (code >= 200 && code < 400) resolve({ action: method === "GET" ? "httpGet" : "httpPost", description, statusCode: code });
        else reject(hookFailed(`${description} answered HTTP ${code} (hooks succeed on 200-399)`));
      });
    });
    req.on("error", (e) => reject(hookFailed(`${description} failed: ${e.message}`)));
    req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`no answer within ${opts.timeoutMs ?? 30_000} ms`)));
    req.end(body);
  });
}

function tcpCall(a: { host?: string; port: number | string }, handler: Handler, opts: ExecuteOptions): Promise<HookResult> {
  const host = a.host || opts.defaultHost || "127.0.0.1";
  const port = portOf(a.port, handler, opts);
  const description = `tcp ${host}:${port}`;
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    const timer = setTimeout(() => sock.destroy(new Error(`not open within ${opts.timeoutMs ?? 30_000} ms`)), opts.timeoutMs ?? 30_000);
    sock.once("connect", () => {
      clearTimeout(timer);
      sock.end();
      resolve({ action: "tcpSocket", description });
    });
    sock.once("error", (e) => {
      clearTimeout(timer);
      reject(hookFailed(`${description} is not open: ${e.message}`));
    });
  });
}

/** Runs one hook handler. Exactly one action must be set. */
export async function executeHook(handler: Handler, summary: HookSummary, opts: ExecuteOptions = {}): Promise<HookResult> {
  const actions = (["exec", "httpGet", "httpPost", "tcpSocket"] as const).filter((k) => handler[k] != null);
  if (actions.length !== 1)
    throw stalled(
      "InvalidHook",
      `a hook handler needs exactly one of exec, httpGet, httpPost, tcpSocket; it has ${actions.length ? actions.join(", ") : "none"}`,
    );
  const action = actions[0];
  if (action === "httpGet") return httpCall("GET", handler.httpGet!, handler, summary, opts);
  if (action === "httpPost") return httpCall("POST", handler.httpPost!, handler, summary, opts);
  if (action === "tcpSocket") return tcpCall(handler.tcpSocket!, handler, opts);
  if (!opts.exec || !opts.pod) throw stalled("InvalidHook", "exec hooks need a pod to exec into (pass opts.exec and opts.pod)", { field: "exec" });
  const req = buildExecRequest(handler, summary, opts.pod);
  const res = await opts.exec(req);
  const description = `exec in ${req.namespace}/${req.pod} container ${req.container}: ${req.command[0]}`;
  if (res.exitCode !== 0) {
    const tail = (res.stderr ?? "").trim().split("\n").slice(-3).join("; ");
    throw hookFailed(`${description} exited with code ${res.exitCode}${tail ? `: ${tail}` : ""}`);
  }
  return { action: "exec", description };
}
