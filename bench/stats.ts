/** Figures for the benchmark: percentiles, RSS sampling, and the printed table. */

/**
 * Nearest-rank percentile (p in 0..100) of values sorted ascending; NaN when empty. Same
 * definition as JavaClientBench.percentile, so both columns mean the same thing.
 */
export function percentile(sorted: Float64Array | readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  const i = Math.max(0, Math.min(sorted.length - 1, rank - 1));
  return sorted[i] ?? Number.NaN;
}

/** The middle value (the mean of the two middle ones for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Growable list of latencies in ms, sorted once at the end (no per-sample allocation). */
export class LatencyRecorder {
  #values = new Float64Array(1024);
  #length = 0;

  add(ms: number): void {
    if (this.#length === this.#values.length) {
      const bigger = new Float64Array(this.#values.length * 2);
      bigger.set(this.#values);
      this.#values = bigger;
    }
    this.#values[this.#length++] = ms;
  }

  get count(): number {
    return this.#length;
  }

  /** p50 and p99 in ms (NaN when nothing was recorded). */
  summary(): { p50Ms: number; p99Ms: number } {
    const sorted = this.#values.slice(0, this.#length).sort();
    return { p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
  }
}

/**
 * Samples this process's resident set size (process.memoryUsage.rss(), cheap: one syscall)
 * every `intervalMs` and keeps the peak. The timer is unref'd so it never keeps Node alive.
 */
export class RssSampler {
  #peak = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(intervalMs = 20) {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
    this.#timer.unref();
  }

  #sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.#peak) this.#peak = rss;
  }

  /** Stops sampling (after a last sample) and returns the peak in MiB. */
  stop(): number {
    this.#sample();
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    return this.#peak / (1024 * 1024);
  }
}

/** One measured phase of one client. */
export interface PhaseResult {
  messages: number;
  elapsedMs: number;
  /** Latency per call (one message or one batch), ms; undefined for pulls. */
  latencyP50Ms?: number | undefined;
  latencyP99Ms?: number | undefined;
  /** Peak RSS of the measuring process during the phase, MiB (Java: VmHWM of its JVM). */
  peakRssMiB?: number | undefined;
  timedOut: boolean;
  errors: number;
  firstError?: string | undefined;
}

export function msgPerSec(r: PhaseResult): number {
  return r.elapsedMs > 0 ? (r.messages * 1000) / r.elapsedMs : 0;
}

/** Fixed-width text table; the first column is left-aligned, the others right-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(header), rule, ...rows.map(line)].join("\n");
}

/** "12 345" style integers, fixed decimals otherwise; "-" for missing or NaN. */
export function fmt(value: number | undefined, decimals = 0): string {
  if (value === undefined || Number.isNaN(value)) return "-";
  if (decimals === 0) return Math.round(value).toLocaleString("en-US");
  return value.toFixed(decimals);
}
