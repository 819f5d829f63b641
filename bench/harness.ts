/** What the replication benches share: environment settings, progress lines, target polling. */
import type { MessageQueue, RocketMQClient } from "../src/client/index.js";
import type { Logger } from "../src/client/logger.js";
import { ensureDistribution, javaCommand, startSandbox, type Sandbox } from "../src/sandbox/index.js";
import { describeMachine, type MachineDescription } from "./machine.js";
import { fmt } from "./stats.js";

/** An integer setting from the environment (underscores allowed: 200_000), or `fallback`. */
export function envInt(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw.replace(/_/g, ""));
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  return n;
}

/** Node flags from a space-separated environment variable. */
export function envFlags(name: string): string[] {
  return (process.env[name] ?? "").split(/\s+/).filter((f) => f.length > 0);
}

/** A progress line on stderr (stdout holds only the report). */
export function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** The sandbox's and the client's log lines, as progress lines. */
export const stderrLogger: Logger = {
  debug: () => undefined,
  info: (fields, message) => progress(`${message} ${JSON.stringify(fields)}`),
  warn: (fields, message) => progress(`WARN ${message} ${JSON.stringify(fields)}`),
  error: (fields, message) => progress(`ERROR ${message} ${JSON.stringify(fields)}`),
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function perMessageMicros(cpuSeconds: number, messages: number): number {
  return (cpuSeconds * 1e6) / messages;
}

export async function sumMaxOffsets(
  client: RocketMQClient,
  queues: readonly MessageQueue[],
): Promise<bigint> {
  const offsets = await Promise.all(queues.map((q) => client.admin.getMaxOffset(q)));
  return offsets.reduce((a, b) => a + b, 0n);
}

/** Polls the target's max offsets until `expected` messages are stored past `baseline`, or the deadline. */
export async function waitForTarget(
  client: RocketMQClient,
  queues: readonly MessageQueue[],
  baseline: bigint,
  expected: number,
  deadlineMs: number,
  isAlive: () => boolean,
): Promise<{
  stored: number;
  doneAt: number;
  halfAt: number | undefined;
  /** When the first message past `baseline` was seen. */
  firstAt: number | undefined;
  timedOut: boolean;
}> {
  const until = performance.now() + deadlineMs;
  let halfAt: number | undefined;
  let firstAt: number | undefined;
  let stored = 0;
  const started = performance.now();
  let lastReport = started;
  for (;;) {
    try {
      stored = Number((await sumMaxOffsets(client, queues)) - baseline);
    } catch (err) {
      progress(`WARN reading target offsets: ${String(err)}`);
    }
    const now = performance.now();
    if (stored > 0) firstAt ??= now;
    if (stored * 2 >= expected) halfAt ??= now;
    if (stored >= expected) return { stored, doneAt: now, halfAt, firstAt, timedOut: false };
    if (now >= until || !isAlive()) return { stored, doneAt: now, halfAt, firstAt, timedOut: true };
    if (now - lastReport >= 2000) {
      progress(
        `  ... ${fmt(stored)} / ${fmt(expected)} in the target after ${fmt((now - started) / 1000, 1)} s`,
      );
      lastReport = now;
    }
    await sleep(25);
  }
}

/** Where a replication bench runs: clusters A and B, and the sandbox that holds them if it started one. */
export interface BenchClusters {
  namesrvA: string;
  namesrvB: string;
  /** Undefined when BENCH_NAMESRV_A/_B named running clusters. */
  sandbox: Sandbox | undefined;
  machine: MachineDescription;
}

/** BENCH_NAMESRV_A/_B when both are set, else a fresh two-cluster sandbox (the caller stops it). */
export async function benchClusters(): Promise<BenchClusters> {
  const distribution = await ensureDistribution({ logger: stderrLogger });
  const machine = describeMachine(javaCommand(), distribution.version);
  const namesrvA = process.env["BENCH_NAMESRV_A"];
  const namesrvB = process.env["BENCH_NAMESRV_B"];
  if (namesrvA && namesrvB) return { namesrvA, namesrvB, sandbox: undefined, machine };
  progress("starting two local RocketMQ clusters (sandbox)");
  const sandbox = await startSandbox({ clusters: 2, logger: stderrLogger });
  const [a, b] = sandbox.clusters;
  if (!a || !b) throw new Error("the sandbox did not start two clusters");
  return { namesrvA: a.namesrv, namesrvB: b.namesrv, sandbox, machine };
}
