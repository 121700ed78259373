// The one work queue: a key is queued at most once, never handled twice at the same time, failed
// keys come back after a capped exponential backoff, and a handler can ask to be called again
// after a delay. Time comes from an injected clock so tests advance it instead of sleeping.

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** A clock for tests: timers fire only when advance() moves time past them. */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  constructor(start = 0) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** Moves time forward, firing due timers in time order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
  pendingTimers(): number {
    return this.timers.size;
  }
}

export interface Result {
  /** Call the handler again for this key after this many milliseconds. */
  requeueAfterMs?: number;
}

export type Handler = (key: string) => Promise<Result | void>;

export interface WorkQueueOptions {
  handler: Handler;
  clock?: Clock;
  /** How many different keys may be handled at once (a key is never handled twice at once). */
  concurrency?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Whether a thrown error should be retried; default: always. */
  shouldRetry?: (e: unknown) => boolean | number;
  onError?: (key: string, e: unknown) => void;
}

export class WorkQueue {
  private readonly opts: Required<Omit<WorkQueueOptions, "onError" | "shouldRetry">> & Pick<WorkQueueOptions, "onError" | "shouldRetry">;
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  /** Keys added while being processed: run again once the current run ends. */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; handle: unknown }>();
  private idleWaiters: (() => void)[] = [];
  private stopped = false;
  private pumpScheduled = false;

  constructor(opts: WorkQueueOptions) {
    this.opts = {
      clock: realClock,
      concurrency: 1,
      baseDelayMs: 5,
      maxDelayMs: 5 * 60_000,
      ...opts,
    };
  }

  /** Queues a key now (a pending delayed add for it is kept only if earlier; adding now wins). */
  add(key: string): void {
    if (this.stopped) return;
    const d = this.delayed.get(key);
    if (d) {
      this.opts.clock.clearTimeout(d.handle);
      this.delayed.delete(key);
    }
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    // Start on a microtask so that adds in the same tick coalesce.
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      queueMicrotask(() => {
        this.pumpScheduled = false;
        this.pump();
      });
    }
  }

  /** Queues a key after a delay; an earlier pending delay for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    if (ms <= 0) return this.add(key);
    const at = this.opts.clock.now() + ms;
    const d = this.delayed.get(key);
    if (d && d.at <= at) return;
    if (d) this.opts.clock.clearTimeout(d.handle);
    const handle = this.opts.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, handle });
  }

  /** The backoff the next failure of `key` would get. */
  backoffFor(key: string): number {
    const n = this.failures.get(key) ?? 0;
    return Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** n);
  }

  get length(): number {
    return this.queue.length;
  }

  get activeCount(): number {
    return this.processing.size;
  }

  /** Keys waiting for a delayed add. */
  get delayedCount(): number {
    return this.delayed.size;
  }

  /** Resolves when nothing is queued or being handled (delayed keys do not count). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.processing.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  stop(): void {
    this.stopped = true;
    for (const d of this.delayed.values()) this.opts.clock.clearTimeout(d.handle);
    this.delayed.clear();
    this.queue.length = 0;
    this.queued.clear();
    this.checkIdle();
  }

  private pump(): void {
    while (!this.stopped && this.processing.size < this.opts.concurrency && this.queue.length > 0) {
      const key = this.queue.shift()!;
      this.queued.delete(key);
      this.processing.add(key);
      void this.run(key);
    }
  }

  private async run(key: string): Promise<void> {
    let next: number | undefined;
    try {
      const res = await this.opts.handler(key);
      this.failures.delete(key);
      if (res && res.requeueAfterMs !== undefined) next = res.requeueAfterMs;
    } catch (e) {
      this.opts.onError?.(key, e);
      const retry = this.opts.shouldRetry ? this.opts.shouldRetry(e) : true;
      if (typeof retry === "number") {
        this.failures.delete(key);
        next = retry;
      } else if (retry) {
        next = this.backoffFor(key);
        this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
      } else {
        this.failures.delete(key);
      }
    } finally {
      this.processing.delete(key);
    }
    if (this.dirty.delete(key)) this.add(key);
    else if (next !== undefined) this.addAfter(key, next);
    this.pump();
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.queue.length === 0 && this.processing.size === 0) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const r of w) r();
    }
  }
}
