// A watch stream over node:https, with the contract of client-node's Watch.watch (which needs
// undici and client-node's generated API loaded): one callback per event line, `done` exactly once
// (null when the server ends the stream, the error otherwise, including the caller's abort), and
// the connection aborted after 30 s without a byte (a half-open TCP connection never ends).
import { request, type RequestOptions } from "node:https";
import { STATUS_CODES } from "node:http";

/** One line of a watch stream: ADDED, MODIFIED, DELETED, BOOKMARK with the object, or ERROR with a metav1.Status. */
export interface WatchEvent<T> {
  type: string;
  object: T;
}
/** `obj` is what the caller watches (named by its type argument); an ERROR event carries a Status instead (check `phase` first). */
export type WatchCallback<T = unknown> = (phase: string, obj: T, event: WatchEvent<T>) => void;
/** null when the server ended the stream; the error (an Error, with statusCode for an HTTP answer) otherwise. */
export type WatchDone = (err: (Error & { statusCode?: number; code?: number }) | null) => void;

/** Accept headers that make the API server send PartialObjectMetadata (metadata only, any kind). */
export const METADATA_ONLY = {
  list: "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json",
  watch: "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json",
};

export const WATCH_INACTIVITY_MS = 30_000;

export function streamWatch<T>(
  url: URL,
  opts: RequestOptions,
  callback: WatchCallback<T>,
  done: WatchDone,
  inactivityMs = WATCH_INACTIVITY_MS,
): AbortController {
  const controller = new AbortController();
  let finished = false;
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const finish = (err: (Error & { statusCode?: number }) | null) => {
    if (finished) return;
    finished = true;
    if (timer) clearTimeout(timer);
    controller.abort();
    done(err && timedOut ? new DOMException("The operation was aborted due to timeout", "TimeoutError") : err);
  };
  const resetTimer = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, inactivityMs);
    timer.unref();
  };
  resetTimer();
  const req = request(url, { ...opts, method: "GET", signal: controller.signal }, (res) => {
    if (res.statusCode !== 200) {
      res.resume();
      const e = new Error(res.statusMessage || STATUS_CODES[res.statusCode ?? 500] || "Internal Server Error") as Error & { statusCode?: number };
      e.statusCode = res.statusCode;
      return finish(e);
    }
    resetTimer();
    res.setEncoding("utf8");
    let pending = "";
    const handle = (line: string) => {
      if (!line.trim()) return;
      let data: WatchEvent<T>;
      try {
        // The API server's own framing: one {type, object} per line.
        data = JSON.parse(line) as WatchEvent<T>;
      } catch {
        return;
      }
      callback(data.type, data.object, data);
    };
    res.on("data", (chunk: string) => {
      resetTimer();
      let start = 0;
      let nl: number;
      while ((nl = chunk.indexOf("\n", start)) >= 0) {
        const line = pending ? pending + chunk.slice(start, nl) : chunk.slice(start, nl);
        pending = "";
        start = nl + 1;
        handle(line);
      }
      if (start < chunk.length) pending += chunk.slice(start);
    });
    res.on("end", () => finish(null));
    res.on("close", () => finish(res.complete ? null : new Error("watch connection closed")));
    res.on("error", finish);
  });
  req.on("error", finish);
  req.end();
  return controller;
}
