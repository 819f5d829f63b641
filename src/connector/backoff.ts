/** Exponential backoff with full jitter, and an abortable sleep. */

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

/** Delay before retry number `attempt` (0-based): random in [0, min(max, initial * 2^attempt)]. */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  return Math.max(options.initialMs / 2, Math.random() * ceiling);
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
