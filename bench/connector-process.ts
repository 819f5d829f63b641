/**
 * The connector under test, as users run it: `node dist/src/cli/main.js run --config <yaml>` in
 * its own process, so its resident set and CPU profile are the connector's alone (not the
 * bench's producers, readers and bookkeeping). Its JSON log lines (stdout) are parsed for the
 * "starting" / "running" markers and for warnings and errors; its memory is read from
 * /proc/<pid>/status (Linux).
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { processCpuSeconds } from "./cpu.js";

/** The connector's entry point in the build (dist/src/cli/main.js), from dist/bench/. */
export function connectorMain(): string {
  return join(dirname(fileURLToPath(import.meta.url)), "..", "src", "cli", "main.js");
}

/**
 * The node flags of the `rmq-connector` command's shebang (`#!/usr/bin/env -S node <flags>`):
 * spawning `node main.js` directly would otherwise measure a connector users never run.
 */
export function shebangNodeFlags(main = connectorMain()): string[] {
  const first = readFileSync(main, "utf8").split("\n", 1)[0] ?? "";
  const m = /^#!\S*env -S node(.*)$/.exec(first);
  return m?.[1] === undefined ? [] : m[1].split(/\s+/).filter((f) => f.length > 0);
}

export interface ConnectorRoute {
  fromCluster: string;
  toCluster: string;
  topic: string;
  /** Default: the source topic's name. */
  targetTopic?: string;
  start: "earliest" | "latest";
}

/**
 * A minimal config file: the clusters and one route; every other key keeps its documented default
 * (pull 32, send batches of up to 64 / 1 MiB, 128 messages and 4 MiB in flight per queue,
 * 128 MiB per process, commits every second), which is what the benchmark measures.
 */
export function writeConnectorConfig(
  path: string,
  name: string,
  clusters: Record<string, string>,
  route: ConnectorRoute,
  extraYaml = "",
): void {
  const lines = [
    `name: ${name}`,
    // Port 0: any free port, read back from the connector's log (ConnectorProcess.metricsListen).
    `metrics: { listen: "127.0.0.1:0" }`,
    "clusters:",
    ...Object.entries(clusters).map(([key, namesrv]) => `  ${key}: { namesrv: "${namesrv}" }`),
    "routes:",
    `  - from: { cluster: ${route.fromCluster}, topic: ${route.topic} }`,
    `    to: { cluster: ${route.toCluster}${route.targetTopic === undefined ? "" : `, topic: ${route.targetTopic}`} }`,
    `    start: ${route.start}`,
    ...(extraYaml === "" ? [] : [extraYaml]),
    "",
  ];
  writeFileSync(path, lines.join("\n"));
}

export interface ConnectorLogLine {
  level: number;
  msg: string;
  text: string;
  /** The `listen` field: the HTTP server's bound host:port, in its "listening" line. */
  listen: string | undefined;
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

/** A running connector process. */
export class ConnectorProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly spawnedAt = performance.now();
  /** performance.now() when the "starting" (config loaded) and "running" (engine started) lines arrived. */
  startingAt: number | undefined;
  runningAt: number | undefined;
  /** Its CPU seconds when the "starting" line arrived: what loading Node and the code cost. */
  cpuAtStartingSeconds: number | undefined;
  /** host:port of its /metrics, from its log (configs here listen on port 0: any free port). */
  metricsListen: string | undefined;
  /** Warning and error lines (level >= 40), the first 20. */
  readonly problems: string[] = [];
  problemCount = 0;
  /** The last 30 lines of output (stdout and stderr), for a failure report. */
  readonly tail: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #rssPeak = 0;
  #sampler: NodeJS.Timeout | undefined;

  /**
   * `main`: the entry point to run, by default this build's (another build's, to compare two
   * versions of the code in one run); its shebang's node flags come first.
   */
  constructor(configPath: string, nodeFlags: readonly string[], main = connectorMain()) {
    this.child = spawn(
      process.execPath,
      [...shebangNodeFlags(main), ...nodeFlags, main, "run", "--config", configPath],
      {
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => resolve({ code, signal }));
    });
    // BENCH_CONNECTOR_LOG=<file>: every output line of the connector, e.g. with --trace-gc.
    const logFile = process.env["BENCH_CONNECTOR_LOG"];
    const keep = (text: string): void => {
      if (logFile) appendFileSync(logFile, `${text}\n`);
      this.tail.push(text);
      if (this.tail.length > 30) this.tail.shift();
    };
    let pending = "";
    this.child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const text = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        keep(text);
        const line = parseLine(text);
        if (!line) continue;
        if (line.msg === "starting" && this.startingAt === undefined) {
          this.startingAt = performance.now();
          this.cpuAtStartingSeconds = processCpuSeconds(this.child.pid);
        }
        if (line.msg === "running") this.runningAt ??= performance.now();
        if (line.listen !== undefined) this.metricsListen ??= line.listen;
        if (line.level >= 40) {
          this.problemCount++;
          if (this.problems.length < 20) this.problems.push(text);
        }
      }
    });
    this.child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      for (const text of chunk.split("\n")) if (text.length > 0) keep(`stderr: ${text}`);
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
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

  /** Waits for the "running" line, the process's exit, or the deadline. */
  async waitRunning(deadlineMs: number): Promise<boolean> {
    const until = performance.now() + deadlineMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    while (this.runningAt === undefined && !exited && performance.now() < until) {
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.runningAt !== undefined;
  }

  /**
   * SIGTERM (the connector drains and commits, and writes its CPU profile if --cpu-prof), then
   * SIGKILL after `graceMs`. Resolves with the exit.
   */
  async stop(
    graceMs = 30_000,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; killed: boolean }> {
    this.stopRssSampling();
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      return { ...(await this.exited), killed: false };
    }
    this.child.kill("SIGTERM");
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      this.child.kill("SIGKILL");
    }, graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return { ...exit, killed };
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

function parseLine(text: string): ConnectorLogLine | undefined {
  if (!text.startsWith("{")) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null) return undefined;
    const { level, msg, listen } = parsed as { level?: unknown; msg?: unknown; listen?: unknown };
    return {
      level: typeof level === "number" ? level : 30,
      msg: typeof msg === "string" ? msg : "",
      listen: typeof listen === "string" ? listen : undefined,
      text,
    };
  } catch {
    return undefined;
  }
}
