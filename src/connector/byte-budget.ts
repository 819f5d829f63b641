/**
 * A shared budget of in-flight bytes (all queues of the process draw from it), so memory stays
 * bounded however many queues run. Acquire waits while the budget is spent; one request larger
 * than the whole budget is let through alone, so a single huge message cannot deadlock a queue.
 */
export class ByteBudget {
  readonly capacity: number;
  #used = 0;
  #waiters: { bytes: number; resolve: () => void }[] = [];

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get used(): number {
    return this.#used;
  }

  /** Waits until `bytes` fit, then takes them. Resolves early (taking nothing) if `signal` aborts. */
  async acquire(bytes: number, signal?: AbortSignal): Promise<boolean> {
    if (this.#fits(bytes) && this.#waiters.length === 0) {
      this.#used += bytes;
      return true;
    }
    if (signal?.aborted) return false;
    return new Promise<boolean>((resolve) => {
      const waiter = {
        bytes,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(true);
        },
      };
      const onAbort = (): void => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve(false);
        this.#wake();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Gives back bytes taken by acquire. */
  release(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
    this.#wake();
  }

  #fits(bytes: number): boolean {
    return this.#used + bytes <= this.capacity || this.#used === 0;
  }

  #wake(): void {
    while (this.#waiters.length > 0) {
      const next = this.#waiters[0] as { bytes: number; resolve: () => void };
      if (!this.#fits(next.bytes)) return;
      this.#waiters.shift();
      this.#used += next.bytes;
      next.resolve();
    }
  }
}
