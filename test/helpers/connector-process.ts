/**
 * The connector as users run it: `node dist/src/cli/main.js run --config <yaml>` in its own
 * process, with the rmq-connector shebang's node flags. One ConnectorRun is one life of that
 * process: its JSON log lines (stdout) are parsed for the "starting" (config loaded) and
 * "running" (engine started) markers and for warnings and errors, and every output line can be
 * appended to a file for failure messages. Shared by the benchmarks (bench/connector-process.ts
 * adds CPU and memory sampling) and the chaos harness (test/helpers/chaos.ts restarts it).
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { CLI_MAIN } from "./cli.js";

/**
 * The node flags of the `rmq-connector` command's shebang (`#!/usr/bin/env -S node <flags>`):
 * spawning `node main.js` directly would otherwise run a connector users never run.
 */
export function shebangNodeFlags(main = CLI_MAIN): string[] {
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

/** Settings of a config file beyond the clusters and the route; absent ones keep their defaults. */
export interface ConnectorConfigOptions {
  /** Top-level `delivery`. */
  delivery?: "at-least-once" | "exactly-once";
  /** `commit.intervalMs`. */
  commitIntervalMs?: number;
  /** More keys per cluster beside `namesrv` (e.g. an `addressMap`), written as JSON (valid YAML). */
  clusterOptions?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** Raw YAML appended at the top level (after the routes). */
  extraYaml?: string;
}

/**
 * A minimal config file: the clusters and one route (or several); every other key keeps its documented
 * default unless `options` sets it. `options` may be a string: raw top-level YAML (the
 * benchmarks' form).
 */
export function writeConnectorConfig(
  path: string,
  name: string,
  clusters: Readonly<Record<string, string>>,
  route: ConnectorRoute | readonly ConnectorRoute[],
  options: ConnectorConfigOptions | string = {},
): void {
  const o: ConnectorConfigOptions = typeof options === "string" ? { extraYaml: options } : options;
  const routes: readonly ConnectorRoute[] = Array.isArray(route) ? route : [route as ConnectorRoute];
  const lines = [
    `name: ${name}`,
    // Port 0: any free port, read back from the connector's log (ConnectorRun.metricsListen).
    `metrics: { listen: "127.0.0.1:0" }`,
    ...(o.delivery === undefined ? [] : [`delivery: ${o.delivery}`]),
    ...(o.commitIntervalMs === undefined ? [] : [`commit: { intervalMs: ${o.commitIntervalMs} }`]),
    "clusters:",
    ...Object.entries(clusters).map(
      ([key, namesrv]) => `  ${key}: ${JSON.stringify({ namesrv, ...o.clusterOptions?.[key] })}`,
    ),
    "routes:",
    ...routes.flatMap((r) => [
      `  - from: { cluster: ${r.fromCluster}, topic: ${r.topic} }`,
      `    to: { cluster: ${r.toCluster}${r.targetTopic === undefined ? "" : `, topic: ${r.targetTopic}`} }`,
      `    start: ${r.start}`,
    ]),
    ...(o.extraYaml === undefined || o.extraYaml === "" ? [] : [o.extraYaml]),
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

export interface ConnectorRunOptions {
  /** Node flags after the shebang's. */
  nodeFlags?: readonly string[];
  /** Entry point, by default this build's (another build's, to compare two versions in one run). */
  main?: string;
  /** Append every output line (stdout as is, stderr prefixed "stderr: ") to this file. */
  logFile?: string;
}

/** How a process ended. */
export interface ConnectorExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One life of a connector process. */
export class ConnectorRun {
  readonly child: ChildProcessWithoutNullStreams;
  readonly spawnedAt = performance.now();
  /** performance.now() when the "starting" (config loaded) and "running" (engine started) lines arrived. */
  startingAt: number | undefined;
  runningAt: number | undefined;
  /** host:port of its /metrics, from its log (configs here listen on port 0: any free port). */
  metricsListen: string | undefined;
  /** Warning and error lines (level >= 40), the first 20. */
  readonly problems: string[] = [];
  problemCount = 0;
  /** The last 30 lines of output (stdout and stderr), for a failure report. */
  readonly tail: string[] = [];
  readonly exited: Promise<ConnectorExit>;
  readonly #lineListeners: ((line: ConnectorLogLine) => void)[] = [];

  constructor(configPath: string, options: ConnectorRunOptions = {}) {
    const main = options.main ?? CLI_MAIN;
    this.child = spawn(
      process.execPath,
      [...shebangNodeFlags(main), ...(options.nodeFlags ?? []), main, "run", "--config", configPath],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => resolve({ code, signal }));
    });
    const keep = (text: string): void => {
      if (options.logFile !== undefined) appendFileSync(options.logFile, `${text}\n`);
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
        if (line.msg === "starting") this.startingAt ??= performance.now();
        if (line.msg === "running") this.runningAt ??= performance.now();
        if (line.listen !== undefined) this.metricsListen ??= line.listen;
        if (line.level >= 40) {
          this.problemCount++;
          if (this.problems.length < 20) this.problems.push(text);
        }
        for (const listener of this.#lineListeners) listener(line);
      }
    });
    this.child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      for (const text of chunk.split("\n")) if (text.length > 0) keep(`stderr: ${text}`);
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Whether the process has not ended yet. */
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Calls `listener` for every JSON log line from now on (after the markers are recorded). */
  onLine(listener: (line: ConnectorLogLine) => void): void {
    this.#lineListeners.push(listener);
  }

  /** Waits for the "running" line, the process's exit, or `deadlineMs`; true when running. */
  async waitRunning(deadlineMs: number): Promise<boolean> {
    return this.#waitFor(() => this.runningAt !== undefined, deadlineMs);
  }

  /** Waits for the "starting" line (config loaded), the exit, or `deadlineMs`; true when seen. */
  async waitStarting(deadlineMs: number): Promise<boolean> {
    return this.#waitFor(() => this.startingAt !== undefined, deadlineMs);
  }

  async #waitFor(done: () => boolean, deadlineMs: number): Promise<boolean> {
    const until = performance.now() + deadlineMs;
    while (!done() && this.alive && performance.now() < until) {
      await new Promise((r) => setTimeout(r, 10));
    }
    return done();
  }

  /** SIGKILL: no drain, no commit, as a crash. Resolves with the exit. */
  async kill(): Promise<ConnectorExit> {
    if (this.alive) this.child.kill("SIGKILL");
    return this.exited;
  }

  /**
   * SIGTERM (the connector drains and commits, and writes its CPU profile if --cpu-prof), then
   * SIGKILL after `graceMs`. Resolves with the exit.
   */
  async stop(graceMs = 30_000): Promise<ConnectorExit & { killed: boolean }> {
    if (!this.alive) return { ...(await this.exited), killed: false };
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
