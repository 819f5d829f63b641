/**
 * A task run every `intervalMs` on an unref'd timer, never two runs at once. stop() clears the
 * timer and waits for the run under way, so that nothing of it runs on after its owner stopped
 * and closed what the run uses (the engine's commits and refreshes, the probes' ticks).
 */
export class PeriodicTask {
  readonly #run: () => Promise<void>;
  readonly #onError: (err: unknown) => void;
  readonly #timer: NodeJS.Timeout;
  #running: Promise<void> | undefined;
  #stopped = false;

  /** `onError` gets what a run throws; with `now`, the first run starts at once. */
  constructor(
    intervalMs: number,
    run: () => Promise<void>,
    onError: (err: unknown) => void,
    options: { now?: boolean } = {},
  ) {
    this.#run = run;
    this.#onError = onError;
    this.#timer = setInterval(() => this.#tick(), intervalMs);
    this.#timer.unref();
    if (options.now === true) this.#tick();
  }

  #tick(): void {
    if (this.#running !== undefined || this.#stopped) return;
    this.#running = this.#run()
      .catch(this.#onError)
      .finally(() => (this.#running = undefined));
  }

  /** No run starts after this call; the returned promise settles when the run under way ends. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running;
  }
}
