// A minimal list-watch: list, hand every item to `onItem`, watch from the list's resourceVersion,
// and relist after the watch ends or a list fails. Handlers should only queue keys.
import type { AnyObject, Kube, KubeList, KubeObject } from "./client.ts";
import type { Logger } from "../logger.ts";
import type { Clock } from "../workqueue.ts";
import { errorMessage } from "../errors.ts";

export interface ListWatchOptions<T extends AnyObject = KubeObject> {
  kube: Kube;
  clock: Clock;
  log: Logger;
  /** Collection path, e.g. /apis/restash.dev/v1alpha1/policysources */
  path: string;
  /** An object of the collection, of the kind T names. */
  onItem: (phase: "LISTED" | "ADDED" | "MODIFIED" | "DELETED", obj: T) => void;
}

export interface ListWatch {
  /** Resolves after the first list (or its failure). */
  started: Promise<void>;
  stop(): void;
}

export function listWatch<T extends AnyObject = KubeObject>(opts: ListWatchOptions<T>): ListWatch {
  let stopped = false;
  let abort: AbortController | undefined;
  const run = async (): Promise<void> => {
    if (stopped) return;
    try {
      const list = await opts.kube.request<KubeList<T>>(opts.path);
      for (const item of list.items ?? []) opts.onItem("LISTED", item);
      if (stopped) return;
      abort = await opts.kube.watch<T>(
        opts.path,
        { resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: true },
        (phase, obj) => {
          if (phase === "BOOKMARK" || phase === "ERROR" || !obj?.metadata) return;
          opts.onItem(phase as "ADDED" | "MODIFIED" | "DELETED", obj);
        },
        () => {
          if (!stopped) opts.clock.setTimeout(() => void run(), 1000);
        },
      );
    } catch (e) {
      opts.log.warn("list failed; retrying", { path: opts.path, error: errorMessage(e) });
      if (!stopped) opts.clock.setTimeout(() => void run(), 2000);
    }
  };
  return {
    started: run(),
    stop() {
      stopped = true;
      abort?.abort();
    },
  };
}
