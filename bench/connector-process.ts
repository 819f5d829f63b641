/**
 * The connector under test, as users run it (test/helpers/connector-process.ts spawns it and
 * parses its log), in its own process, so its resident set and CPU profile are the connector's
 * alone (not the bench's producers, readers and bookkeeping). This file adds what the benchmarks
 * measure: CPU at the "starting" line, memory from /proc/<pid>/status (Linux), /metrics counters.
 */
import { readFileSync } from "node:fs";
import { processCpuSeconds } from "./cpu.js";
import { CLI_MAIN } from "../test/helpers/cli.js";
import { ConnectorRun } from "../test/helpers/connector-process.js";

export {
  shebangNodeFlags,
  writeConnectorConfig,
  type ConnectorRoute,
  type ConnectorLogLine,
} from "../test/helpers/connector-process.js";

/** The connector's entry point in the build (dist/src/cli/main.js). */
export function connectorMain(): string {
  return CLI_MAIN;
}

/** Reads VmRSS and VmHWM (peak) of a process, MiB; undefined where /proc is not available. */
export function procMemory(pid: number): { rssMiB: number; hwmMiB: number } | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const kib = (field: string): number | undefined => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
    return m?.[1] === undefined ? undefined : Number(m[1]);
  };
  const rss = kib("VmRSS");
  const hwm = kib("VmHWM");
  if (rss === undefined || hwm === undefined) return undefined;
  return { rssMiB: rss / 1024, hwmMiB: hwm / 1024 };
}

/** A running connector process, with the CPU and memory figures the benchmarks report. */
export class ConnectorProcess extends ConnectorRun {
  /** Its CPU seconds when the "starting" line arrived: what loading Node and the code cost. */
  cpuAtStartingSeconds: number | undefined;
  #rssPeak = 0;
  #sampler: NodeJS.Timeout | undefined;

  /**
   * `main`: the entry point to run, by default this build's (another build's, to compare two
   * versions of the code in one run); its shebang's node flags come first.
   * BENCH_CONNECTOR_LOG=<file>: every output line of the connector, e.g. with --trace-gc.
   */
  constructor(configPath: string, nodeFlags: readonly string[], main = connectorMain()) {
    const logFile = process.env["BENCH_CONNECTOR_LOG"];
    super(configPath, { nodeFlags, main, ...(logFile ? { logFile } : {}) });
    this.onLine((line) => {
      if (line.msg === "starting") this.cpuAtStartingSeconds ??= processCpuSeconds(this.pid);
    });
  }

  /**
   * Samples VmRSS every `intervalMs`, for the peak of one phase (the kernel's VmHWM is exact but
   * covers the whole life of the process). Linux only (/proc); 0 elsewhere.
   */
  startRssSampling(intervalMs = 50): void {
    this.stopRssSampling();
    this.#rssPeak = 0;
    const sample = (): void => {
      const m = procMemory(this.pid);
      if (m && m.rssMiB > this.#rssPeak) this.#rssPeak = m.rssMiB;
    };
    sample();
    this.#sampler = setInterval(sample, intervalMs);
    this.#sampler.unref();
  }

  /** Stops sampling and returns the sampled peak VmRSS since startRssSampling, MiB (0 without /proc). */
  stopRssSampling(): number {
    if (this.#sampler) clearInterval(this.#sampler);
    this.#sampler = undefined;
    const m = procMemory(this.pid);
    if (m && m.rssMiB > this.#rssPeak) this.#rssPeak = m.rssMiB;
    return this.#rssPeak;
  }

  override async stop(graceMs = 30_000): ReturnType<ConnectorRun["stop"]> {
    this.stopRssSampling();
    return super.stop(graceMs);
  }
}

/**
 * Sums counters of the connector's /metrics over all label sets: how many pulls and sends the
 * messages took is what the brokers' CPU per message depends on.
 */
export async function scrapeCounters(
  listen: string | undefined,
  names: readonly string[],
): Promise<Record<string, number> | undefined> {
  if (listen === undefined) return undefined;
  let text: string;
  try {
    const response = await fetch(`http://${listen}/metrics`, { signal: AbortSignal.timeout(5000) });
    text = await response.text();
  } catch {
    return undefined;
  }
  const out: Record<string, number> = {};
  for (const name of names) out[name] = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)(?:\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (m?.[1] !== undefined && m[1] in out) out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
  }
  return out;
}
