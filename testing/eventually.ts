// Waiting for real state in tests and benchmarks. Kept apart from testing/e2e.ts, which imports
// node:test: a benchmark that waits must not start the test runner.

/**
 * Polls `probe` until it returns a value (anything but undefined, null or false) or the timeout
 * passes. A thrown error (a dropped connection, a 404) counts as "not yet"; the last one is named in
 * the timeout's message.
 */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== null && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
