/**
 * `npm run bench:replication`: the connector's own figures (issue #3, section 5) on two local
 * sandbox clusters A -> B, one topic with 8 queues, 1 KiB bodies:
 *
 *  1. catch-up: BENCH_BACKLOG messages (default 200 000) are batch-sent into A first; then the
 *     connector starts from `earliest` and the clock runs until B's 8 queues hold them all
 *     (target max offsets, polled every 25 ms). Compared, in the same run and on the same
 *     brokers, with our client's pull-only rate (the same backlog pulled from A) and send-only
 *     rate (the same number batch-sent to B, in the connector's send batch size). Target:
 *     catch-up >= 0.8 x min(pull, send). Since both brokers and the connector share this
 *     machine's cores, it also runs both baselines at once in one process (the work a catch-up
 *     needs, without the connector) and prints the ceiling their CPU per message allows.
 *  2. steady-state latency: BENCH_RATE msg/s (default 2000) of single sends into A for
 *     BENCH_LATENCY_SECONDS (default 30) while the connector runs; every replicated message is
 *     read back from B and its B store time minus its A store time (RMQC_SOURCE_STORE_MS) taken.
 *     Target: p99 <= 20 ms.
 *  3. peak RSS of the connector during the catch-up (the kernel's VmHWM of its process).
 *     Target: <= 200 MiB.
 *  4. exactly-once against at-least-once (issue 10 section 5): the catch-up and the steady state
 *     run once per delivery and round (ABBA: ALO EO, EO ALO), each phase a connector of its own
 *     on its own source topic (filled with the same backlog, read once unmeasured) and target
 *     topic. Targets: catch-up EO / ALO >= 0.9; p99 EO - ALO <= 2 ms. Then, per delivery, a
 *     connector replicating a fresh topic under BENCH_RATE msg/s is SIGKILLed and restarted
 *     BENCH_RECOVERY_REPS times; the time from the new process's spawn to its first message in
 *     the target is the recovery. Target (exactly-once): <= 2 s for 8 queues. Rows 1-3 come from
 *     the first phase.
 *
 * The connector runs as users run it, `node dist/src/cli/main.js run --config <yaml>`, in a
 * child process: its RSS and CPU profile are its own, not the bench's producers and readers.
 * See docs/benchmarks.md ("Replication").
 */
import { mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { RocketMQClient, type MessageQueue, type Producer } from "../src/client/index.js";
import type { Sandbox } from "../src/sandbox/index.js";
import {
  ConnectorProcess,
  connectorMain,
  procMemory,
  scrapeCounters,
  shebangNodeFlags,
  writeConnectorConfig,
} from "./connector-process.js";
import { formatCpu, measureCpu, processCpuSeconds, type CpuUsage } from "./cpu.js";
import { formatMachine, TWO_CLUSTERS } from "./machine.js";
import {
  envFlags,
  benchClusters,
  envInt,
  perMessageMicros,
  progress,
  sleep,
  sumMaxOffsets,
  waitForTarget,
} from "./harness.js";
import { runBench } from "./main.js";
import { pullPhase, sendPhase } from "./ours.js";
import { fmt, formatTable, LatencyRecorder, median, msgPerSec, type PhaseResult } from "./stats.js";

const HELP = `Usage: npm run bench:replication [-- --cpu-prof DIR]

The connector's figures on two local RocketMQ clusters (started by the sandbox): catch-up
throughput on a backlog vs our client's pull-only and send-only rates, end-to-end latency at a
steady rate, and the connector's peak RSS; all of it for at-least-once and exactly-once, and the
recovery of each after SIGKILL. See docs/benchmarks.md.

Options:
  --cpu-prof DIR   run the connector with node --cpu-prof, writing the profile into DIR
  -h, --help       this help

Environment (defaults in brackets):
  BENCH_BACKLOG            backlog of the catch-up, and of the pull-only and send-only phases [200000]
  BENCH_SIZE               body bytes [1024]
  BENCH_RATE               steady-state produce rate, msg/s [2000]
  BENCH_LATENCY_SECONDS    steady-state duration, s; 0 skips it [30]
  BENCH_LATENCY_WARMUP_SECONDS  unmeasured steady-state warm-up before it, s [10]
  BENCH_DEADLINE_MS        time limit of each measured phase, ms [120000]
  BENCH_CONNECTOR_FLAGS    extra node flags of the connector process, space-separated
  BENCH_WARMUP_CONNECTOR   1: a connector replicates the warm-up messages before the phases; 0: not [1]
  BENCH_CONNECTOR_CONFIG   YAML appended to the connector's config, e.g. "pull: { lingerMs: 0 }"
  BENCH_DELIVERY           at-least-once, exactly-once or both [both]
  BENCH_CONNECTOR_MAIN     another build's dist/src/cli/main.js to run as the connector [this build's]
  BENCH_ROUNDS             catch-up + steady-state phases per delivery, in ABBA order [2]
  BENCH_RECOVERY_REPS      SIGKILL-and-restart cycles per delivery; 0 skips them [5]
  BENCH_RECOVERY_RATE      produce rate while they run, msg/s [BENCH_RATE]
  BENCH_RECOVERY_RUN_MS    replicating time before each SIGKILL, ms [3000]
  BENCH_NAMESRV_A / _B     use these running clusters instead of starting a sandbox
  BENCH_BROKER_PIDS        with them: "pidA,pidB" of their brokers on this machine, for the CPU table
  RMQ_VERSION              RocketMQ version of the sandbox [5.5.0]
`;

const QUEUES = 8;
const BATCH = 32;
/** Send-only's batch: the connector's default send.batchMaxMessages, so broker B's work per message is alike. */
const SEND_BATCH = 64;
const CONCURRENCY = 8;
/** Messages per request in the warm-up phases (see there). */
const WARMUP_BATCH = 2;
const CATCHUP_RATIO_TARGET = 0.8;
const LATENCY_P99_TARGET_MS = 20;
const RSS_TARGET_MIB = 200;
/** Counters scraped from each connector's /metrics after its catch-up and around its steady state. */
const requestCounters = [
  "rmq_connector_pulls_total",
  "rmq_connector_sends_total",
  // prom-client's event-loop delay since the previous scrape: the connector's own stalls.
  "rmq_connector_nodejs_eventloop_lag_max_seconds",
];
/** Whole-bench watchdog: every phase has its own deadline; this catches anything else. */
const WATCHDOG_MS = 15 * 60_000;

function describe(label: string, r: PhaseResult): string {
  const parts = [`${label}: ${fmt(r.messages)} msgs in ${fmt(r.elapsedMs)} ms = ${fmt(msgPerSec(r))} msg/s`];
  if (r.timedOut) parts.push("DEADLINE REACHED");
  if (r.errors > 0) parts.push(`${r.errors} errors, first: ${r.firstError ?? "?"}`);
  return parts.join(", ");
}

interface CatchUp {
  messages: number;
  /** From the connector's "starting" line (config loaded) to the last message in B. */
  elapsedMs: number;
  /** From spawning the process. */
  elapsedFromSpawnMs: number;
  peakRssMiB: number | undefined;
  sampledPeakRssMiB: number;
  /** From half the backlog in B to all of it: the rate without the start and warm-up. */
  secondHalfMs: number | undefined;
  /** From the first message in B to the last: the rate without the start (and recovery). */
  fromFirstMs: number | undefined;
  timedOut: boolean;
}

interface Paced {
  sent: number;
  errors: number;
  firstError: string | undefined;
  elapsedMs: number;
  /** Sends that could not go out on time because 256 were already in flight. */
  lateTicks: number;
  /** Round trip of each send into A (what the shared CPU does to one hop alone). */
  sendLatency: LatencyRecorder;
}

/**
 * Open-loop single sends at `rate` msg/s for `durationMs`, round-robin over `queues`: every 2 ms
 * the messages due by now are sent without waiting for earlier ones (at most 256 in flight).
 */
async function pacedProduce(
  producer: Producer,
  queues: readonly MessageQueue[],
  body: Buffer,
  rate: number,
  durationMs: number,
  stop: () => boolean = () => false,
): Promise<Paced> {
  const started = performance.now();
  let issued = 0;
  let sent = 0;
  let errors = 0;
  let firstError: string | undefined;
  let inFlight = 0;
  let lateTicks = 0;
  const pending = new Set<Promise<void>>();
  const sendLatency = new LatencyRecorder();
  for (;;) {
    const elapsed = performance.now() - started;
    if (elapsed >= durationMs || stop()) break;
    const due = Math.floor((elapsed * rate) / 1000);
    if (issued < due && inFlight >= 256) lateTicks++;
    while (issued < due && inFlight < 256) {
      const queue = queues[issued % queues.length] as MessageQueue;
      issued++;
      inFlight++;
      const t0 = performance.now();
      const p: Promise<void> = producer
        .send({ topic: queue.topic, body }, { queue })
        .then(
          () => {
            sent++;
            sendLatency.add(performance.now() - t0);
          },
          (err: unknown) => {
            errors++;
            firstError ??= String(err);
          },
        )
        .finally(() => {
          inFlight--;
          pending.delete(p);
        });
      pending.add(p);
    }
    await sleep(2);
  }
  await Promise.all(pending);
  return { sent, errors, firstError, elapsedMs: performance.now() - started, lateTicks, sendLatency };
}

interface LatencyReading {
  latency: LatencyRecorder;
  missingProperty: number;
  maxMs: number;
  /** Messages slower than the p99 target. */
  overTarget: number;
  /** Per second of source store time: messages, and the slowest one (ms). */
  perSecond: Map<number, { count: number; maxMs: number; over: number }>;
}

/**
 * Reads B's queues from `from` up to their max offsets and records, per message, B store time
 * minus A store time (RMQC_SOURCE_STORE_MS).
 */
async function readLatencies(
  client: RocketMQClient,
  queues: readonly MessageQueue[],
  from: readonly bigint[],
  group: string,
): Promise<LatencyReading> {
  const consumer = client.pullConsumer({ group });
  const latency = new LatencyRecorder();
  let missingProperty = 0;
  let maxMs = Number.NEGATIVE_INFINITY;
  let overTarget = 0;
  const perSecond = new Map<number, { count: number; maxMs: number; over: number }>();
  await Promise.all(
    queues.map(async (queue, i) => {
      const end = await client.admin.getMaxOffset(queue);
      let offset = from[i] ?? 0n;
      while (offset < end) {
        const r = await consumer.pull({ queue, offset, maxMessages: 32, suspendTimeoutMs: 0 });
        for (const m of r.messages) {
          const source = m.properties["RMQC_SOURCE_STORE_MS"];
          if (source === undefined) {
            missingProperty++;
            continue;
          }
          const sourceMs = Number(source);
          const ms = m.storeTimestamp - sourceMs;
          latency.add(ms);
          if (ms > maxMs) maxMs = ms;
          if (ms > LATENCY_P99_TARGET_MS) overTarget++;
          const second = Math.floor(sourceMs / 1000);
          const bucket = perSecond.get(second) ?? { count: 0, maxMs: 0, over: 0 };
          bucket.count++;
          if (ms > bucket.maxMs) bucket.maxMs = ms;
          if (ms > LATENCY_P99_TARGET_MS) bucket.over++;
          perSecond.set(second, bucket);
        }
        if (r.nextBeginOffset === offset) break;
        offset = r.nextBeginOffset;
      }
    }),
  );
  return { latency, missingProperty, maxMs, overTarget, perSecond };
}

/** The two deliveries the bench compares. */
type Delivery = "at-least-once" | "exactly-once";
const DELIVERIES: readonly Delivery[] = ["at-least-once", "exactly-once"];
const DELIVERY_SHORT: Readonly<Record<Delivery, string>> = { "at-least-once": "ALO", "exactly-once": "EO" };
/** Issue 10 §5: exactly-once against at-least-once, measured in the same run. */
const EO_THROUGHPUT_RATIO_TARGET = 0.9;
const EO_P99_DELTA_TARGET_MS = 2;
const RECOVERY_TARGET_MS = 2000;

/** BENCH_CONNECTOR_MAIN: another build's dist/src/cli/main.js (e.g. a change under test), else this one's. */
function connectorMainUnderTest(): string {
  return process.env["BENCH_CONNECTOR_MAIN"] || connectorMain();
}

/** BENCH_DELIVERY: both (the default), or only one of them. */
function envDeliveries(): Delivery[] {
  const raw = process.env["BENCH_DELIVERY"] ?? "";
  if (raw === "" || raw === "both") return [...DELIVERIES];
  if (raw === "at-least-once" || raw === "exactly-once") return [raw];
  throw new Error(`BENCH_DELIVERY must be at-least-once, exactly-once or both, got "${raw}"`);
}

/** ABBA over rounds: A B, B A, A B... so that drift over the run falls on both deliveries alike. */
function phaseOrder(deliveries: readonly Delivery[], rounds: number): Delivery[] {
  const order: Delivery[] = [];
  for (let r = 0; r < rounds; r++) order.push(...(r % 2 === 0 ? deliveries : [...deliveries].reverse()));
  return order;
}

/** One connector process with one delivery: its catch-up, then its steady state. */
interface PhaseOutcome {
  delivery: Delivery;
  label: string;
  /** Its name in the CPU table. */
  cpuPhase: string;
  catchUp: CatchUp;
  catchUpRate: number;
  /** The connector's CPU seconds in the catch-up, from its "starting" line. */
  connectorCpu: number;
  requests: Record<string, number> | undefined;
  paced: Paced | undefined;
  latency: LatencyReading | undefined;
  steadyRssMiB: number | undefined;
  steadyStored: number;
  exitedEarly: boolean;
  problemCount: number;
}

/** The catch-up's rate from the first message in the target: without the start and recovery. */
function fromFirstRate(p: PhaseOutcome): number {
  const ms = p.catchUp.fromFirstMs;
  return ms === undefined || ms <= 0 ? Number.NaN : (p.catchUp.messages * 1000) / ms;
}

function describeSpread(values: readonly (number | undefined)[]): string {
  const xs = values.filter((v): v is number => v !== undefined).sort((x, y) => x - y);
  if (xs.length === 0) return "-";
  return `${fmt(xs[0])} / ${fmt(median(xs))} / ${fmt(xs[xs.length - 1])}`;
}

/** The report's second part: exactly-once against at-least-once (issue 10 §5). */
function compareDeliveries(phases: readonly PhaseOutcome[], recoveries: readonly RecoveryResult[]): string[] {
  const out: string[] = [];
  out.push(
    'Per phase (each its own connector process, source and target topics; catch-up rate from the "starting" line):',
    formatTable(
      [
        "phase",
        "catch-up msg/s",
        '"starting" to first in B, ms',
        "from first in B, msg/s",
        "2nd half msg/s",
        "CPU µs/msg",
        "peak RSS MiB",
        "p50 ms",
        "p99 ms",
        "max ms",
        "send into A p99 ms",
      ],
      phases.map((p) => {
        const s = p.latency?.latency.summary();
        return [
          p.label,
          fmt(p.catchUpRate),
          fmt(p.catchUp.elapsedMs - (p.catchUp.fromFirstMs ?? Number.NaN)),
          fmt(fromFirstRate(p)),
          p.catchUp.secondHalfMs === undefined
            ? "-"
            : fmt((p.catchUp.messages / 2) * (1000 / p.catchUp.secondHalfMs)),
          fmt(perMessageMicros(p.connectorCpu, p.catchUp.messages), 1),
          fmt(p.catchUp.peakRssMiB, 1),
          fmt(s?.p50Ms),
          fmt(s?.p99Ms),
          fmt(p.latency?.maxMs),
          fmt(p.paced?.sendLatency.summary().p99Ms, 1),
        ];
      }),
    ),
    "",
  );
  const of = (d: Delivery, pick: (p: PhaseOutcome) => number | undefined): number =>
    median(phases.filter((p) => p.delivery === d).map((p) => pick(p) ?? Number.NaN));
  const rate = (p: PhaseOutcome): number => p.catchUpRate;
  const startCost = (p: PhaseOutcome): number => p.catchUp.elapsedMs - (p.catchUp.fromFirstMs ?? Number.NaN);
  const p99 = (p: PhaseOutcome): number | undefined => p.latency?.latency.summary().p99Ms;
  const p50 = (p: PhaseOutcome): number | undefined => p.latency?.latency.summary().p50Ms;
  const max = (p: PhaseOutcome): number | undefined => p.latency?.maxMs;
  const met = (ok: boolean): string => (ok ? "yes" : "NO");
  const both =
    phases.some((p) => p.delivery === "at-least-once") && phases.some((p) => p.delivery === "exactly-once");
  const rows: string[][] = [];
  if (both) {
    const ratio = of("exactly-once", rate) / of("at-least-once", rate);
    // Pairs of neighbouring phases (ABBA): each ratio from two phases minutes apart at most.
    const pairs: string[] = [];
    for (let i = 0; i + 1 < phases.length; i += 2) {
      const x = phases[i] as PhaseOutcome;
      const y = phases[i + 1] as PhaseOutcome;
      const eo = x.delivery === "exactly-once" ? x : y;
      const alo = x.delivery === "exactly-once" ? y : x;
      if (eo.delivery !== alo.delivery) pairs.push((eo.catchUpRate / alo.catchUpRate).toFixed(2));
    }
    rows.push(
      [
        "catch-up, msg/s (median): ALO / EO",
        `${fmt(of("at-least-once", rate))} / ${fmt(of("exactly-once", rate))}`,
        "",
        "",
      ],
      [
        "catch-up EO / ALO (of the medians)",
        ratio.toFixed(2),
        `>= ${EO_THROUGHPUT_RATIO_TARGET}`,
        met(ratio >= EO_THROUGHPUT_RATIO_TARGET),
      ],
      ["catch-up EO / ALO per round (neighbouring phases)", pairs.join(", ") || "-", "", ""],
      [
        '"starting" to the first message in B, ms (median): ALO / EO',
        `${fmt(of("at-least-once", startCost))} / ${fmt(of("exactly-once", startCost))}`,
        "",
        "",
      ],
      [
        "catch-up from the first message in B EO / ALO (without start and recovery)",
        (of("exactly-once", fromFirstRate) / of("at-least-once", fromFirstRate)).toFixed(2),
        "",
        "",
      ],
      [
        "connector CPU per message in catch-up, µs: ALO / EO",
        `${fmt(
          of("at-least-once", (p) => perMessageMicros(p.connectorCpu, p.catchUp.messages)),
          1,
        )} / ${fmt(
          of("exactly-once", (p) => perMessageMicros(p.connectorCpu, p.catchUp.messages)),
          1,
        )}`,
        "",
        "",
      ],
    );
    if (phases.some((p) => p.latency !== undefined)) {
      const delta = of("exactly-once", p99) - of("at-least-once", p99);
      rows.push(
        [
          "steady-state p50, ms (median): ALO / EO",
          `${fmt(of("at-least-once", p50))} / ${fmt(of("exactly-once", p50))}`,
          "",
          "",
        ],
        [
          "steady-state p99, ms (median): ALO / EO",
          `${fmt(of("at-least-once", p99))} / ${fmt(of("exactly-once", p99))}`,
          "",
          "",
        ],
        [
          "steady-state p99 EO - ALO, ms",
          fmt(delta),
          `<= ${EO_P99_DELTA_TARGET_MS}`,
          met(delta <= EO_P99_DELTA_TARGET_MS),
        ],
        [
          "steady-state max, ms (median): ALO / EO",
          `${fmt(of("at-least-once", max))} / ${fmt(of("exactly-once", max))}`,
          "",
          "",
        ],
      );
    }
  }
  for (const r of recoveries) {
    const short = DELIVERY_SHORT[r.delivery];
    const firstAcks = r.reps.map((x) => x.firstAckMs);
    const worst = Math.max(...firstAcks.map((x) => x ?? Number.POSITIVE_INFINITY));
    rows.push(
      [
        `${short} recovery after SIGKILL, spawn to first ack, ms (min / median / max of ${r.reps.length})`,
        describeSpread(firstAcks),
        r.delivery === "exactly-once" ? `<= ${RECOVERY_TARGET_MS}` : "",
        r.delivery === "exactly-once" ? met(worst <= RECOVERY_TARGET_MS) : "",
      ],
      [
        `${short} recovery, spawn to all 8 queues acked, ms`,
        describeSpread(r.reps.map((x) => x.allQueuesMs)),
        "",
        "",
      ],
      [
        `${short} target messages beyond the source after ${r.reps.length} SIGKILLs`,
        fmt(r.targetMessages - r.sourceMessages),
        r.delivery === "exactly-once" ? "0" : "",
        r.delivery === "exactly-once" ? met(r.targetMessages === r.sourceMessages) : "",
      ],
    );
  }
  if (rows.length > 0)
    out.push(
      "Exactly-once against at-least-once (issue 10 §5):",
      formatTable(["figure", "value", "target", "met"], rows),
      "",
    );
  if (recoveries.length > 0) {
    out.push(
      "Recovery after SIGKILL, per restart, ms from the new process's spawn (min / median / max):",
      formatTable(
        [
          "delivery",
          '"starting"',
          "first queue recovered",
          "last queue recovered",
          'last "queue assigned"',
          '"running"',
          "first ack",
          "all 8 acked",
        ],
        recoveries.map((r) => [
          DELIVERY_SHORT[r.delivery],
          describeSpread(r.reps.map((x) => x.startingMs)),
          describeSpread(r.reps.map((x) => x.firstRecoveredMs)),
          describeSpread(r.reps.map((x) => x.lastRecoveredMs)),
          describeSpread(r.reps.map((x) => x.lastAssignedMs)),
          describeSpread(r.reps.map((x) => x.runningMs)),
          describeSpread(r.reps.map((x) => x.firstAckMs)),
          describeSpread(r.reps.map((x) => x.allQueuesMs)),
        ]),
      ),
      "",
    );
  }
  return out;
}

/** One restart after a SIGKILL: times from spawning the new process, ms. */
interface RecoveryRep {
  /** The "starting" line: Node loaded, the config read. */
  startingMs: number | undefined;
  /** First and last "queue recovered from the target" line (exactly-once only). */
  firstRecoveredMs: number | undefined;
  lastRecoveredMs: number | undefined;
  /** The last of the 8 "queue assigned" lines: every replicator started. */
  lastAssignedMs: number | undefined;
  /** The "running" line: every route resolved and its queues taken. */
  runningMs: number | undefined;
  /** The first target queue past its max offset at the kill: the first message acknowledged again. */
  firstAckMs: number | undefined;
  /** Every one of the 8 target queues past its max offset at the kill. */
  allQueuesMs: number | undefined;
  timedOut: boolean;
}

interface RecoveryResult {
  delivery: Delivery;
  reps: RecoveryRep[];
  /** Source messages produced in the phase, and target messages beyond them (twice stored). */
  sourceMessages: number;
  targetMessages: number;
  producerErrors: number;
}

interface RecoveryContext {
  a: RocketMQClient;
  b: RocketMQClient;
  producer: Producer;
  body: Buffer;
  delivery: Delivery;
  run: string;
  scratch: string;
  namesrvA: string;
  namesrvB: string;
  connectorYaml: string;
  connectorFlags: string[];
  rate: number;
  reps: number;
  /** How long the connector replicates under the rate before each SIGKILL, ms. */
  runMs: number;
  queuesOf: (client: RocketMQClient, topic: string) => Promise<MessageQueue[]>;
  /** Tells the bench which process to kill should it have to stop. */
  setConnector: (proc: ConnectorProcess) => void;
}

/**
 * Recovery after SIGKILL: a connector replicates a fresh 8-queue topic while `rate` msg/s of
 * single sends go into A; it is SIGKILLed `reps` times, each after `runMs` of replicating, and
 * started again at once. Per restart, the clock starts at the new process's spawn and stops when
 * the target holds a message beyond its max offsets at the kill (read 300 ms after the old
 * process exited, so a request it had in flight has landed by then): the first acknowledgement
 * of the new process. Its log lines break the time down.
 */
async function measureRecovery(ctx: RecoveryContext): Promise<RecoveryResult> {
  const { a, b, delivery } = ctx;
  const short = DELIVERY_SHORT[delivery];
  const topic = `${ctx.run}-rec-${short.toLowerCase()}`;
  await a.admin.createTopic({ topic, queueNums: QUEUES });
  await b.admin.createTopic({ topic, queueNums: QUEUES });
  const sourceQueues = await ctx.queuesOf(a, topic);
  const targetQueues = await ctx.queuesOf(b, topic);
  const configPath = join(ctx.scratch, `recovery-${short}.yaml`);
  writeConnectorConfig(
    configPath,
    `${ctx.run}-rec-${short.toLowerCase()}`,
    { a: ctx.namesrvA, b: ctx.namesrvB },
    { fromCluster: "a", toCluster: "b", topic, start: "earliest" },
    { delivery, extraYaml: ctx.connectorYaml },
  );
  progress(
    `recovery (${delivery}): ${fmt(ctx.rate)} msg/s into A, the connector SIGKILLed ${ctx.reps} times, each after ${fmt(ctx.runMs)} ms of replicating`,
  );
  let stopProducing = false;
  const producing = pacedProduce(
    ctx.producer,
    sourceQueues,
    ctx.body,
    ctx.rate,
    Number.POSITIVE_INFINITY,
    () => stopProducing,
  );
  const spawnConnector = (): ConnectorProcess => {
    const proc = new ConnectorProcess(configPath, ctx.connectorFlags, connectorMainUnderTest());
    ctx.setConnector(proc);
    return proc;
  };
  let proc = spawnConnector();
  const reps: RecoveryRep[] = [];
  try {
    if (!(await proc.waitRunning(60_000)))
      throw new Error(`the recovery connector did not start:\n${proc.tail.join("\n")}`);
    for (let rep = 0; rep < ctx.reps; rep++) {
      await sleep(ctx.runMs);
      if (!proc.alive) throw new Error(`the recovery connector exited on its own:\n${proc.tail.join("\n")}`);
      await proc.kill();
      await sleep(300);
      const atKill = await Promise.all(targetQueues.map((q) => b.admin.getMaxOffset(q)));
      proc = spawnConnector();
      const spawned = proc.spawnedAt;
      const since = (): number => performance.now() - spawned;
      const recovered: number[] = [];
      const assigned: number[] = [];
      proc.onLine((line) => {
        if (line.msg === "queue recovered from the target") recovered.push(since());
        else if (line.msg === "queue assigned") assigned.push(since());
      });
      const past = new Set<number>();
      let firstAckMs: number | undefined;
      let allQueuesMs: number | undefined;
      const until = performance.now() + 30_000;
      while (allQueuesMs === undefined && performance.now() < until && proc.alive) {
        const now = await Promise.all(targetQueues.map((q) => b.admin.getMaxOffset(q)));
        const at = since();
        now.forEach((o, i) => {
          if (o > (atKill[i] ?? 0n)) past.add(i);
        });
        if (past.size > 0) firstAckMs ??= at;
        if (past.size === targetQueues.length) allQueuesMs = at;
        else await sleep(5);
      }
      const t = (x: number | undefined): number | undefined => (x === undefined ? undefined : x - spawned);
      const r: RecoveryRep = {
        startingMs: t(proc.startingAt),
        firstRecoveredMs: recovered.length > 0 ? Math.min(...recovered) : undefined,
        lastRecoveredMs: recovered.length > 0 ? Math.max(...recovered) : undefined,
        lastAssignedMs: assigned.length >= QUEUES ? Math.max(...assigned) : undefined,
        runningMs: t(proc.runningAt),
        firstAckMs,
        allQueuesMs,
        timedOut: allQueuesMs === undefined,
      };
      reps.push(r);
      progress(
        `  ${short} restart ${rep + 1}: from spawn, "starting" ${fmt(r.startingMs)} ms, queues recovered ${fmt(r.firstRecoveredMs)}-${fmt(r.lastRecoveredMs)} ms, ` +
          `last "queue assigned" ${fmt(r.lastAssignedMs)} ms, "running" ${fmt(r.runningMs)} ms, first ack ${fmt(r.firstAckMs)} ms, all 8 queues ${fmt(r.allQueuesMs)} ms` +
          (r.timedOut ? " (NOT ALL QUEUES MOVED IN 30 s)" : ""),
      );
    }
  } finally {
    stopProducing = true;
  }
  const produced = await producing;
  // Let the last connector catch up, then count: exactly-once must hold every message once.
  const sourceTotal = await sumMaxOffsets(a, sourceQueues);
  await waitForTarget(b, targetQueues, 0n, Number(sourceTotal), 30_000, () => proc.alive);
  await sleep(2000);
  const targetTotal = await sumMaxOffsets(b, targetQueues);
  const exit = await proc.stop();
  if (proc.problemCount > 0) {
    progress(
      `  ${short} recovery connector: ${proc.problemCount} warning/error log lines (exit ${String(exit.code)})`,
    );
    for (const line of proc.problems.slice(0, 3)) progress(`  connector: ${line}`);
  }
  progress(
    `  ${short}: source ${fmt(Number(sourceTotal))} messages, target ${fmt(Number(targetTotal))} (${fmt(Number(targetTotal - sourceTotal))} beyond the source)`,
  );
  return {
    delivery,
    reps,
    sourceMessages: Number(sourceTotal),
    targetMessages: Number(targetTotal),
    producerErrors: produced.errors,
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { "cpu-prof": { type: "string" }, help: { type: "boolean", short: "h" } },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const backlog = envInt("BENCH_BACKLOG", 200_000);
  const size = envInt("BENCH_SIZE", 1024);
  const rate = envInt("BENCH_RATE", 2000);
  const latencySeconds = envInt("BENCH_LATENCY_SECONDS", 30, 0);
  const warmupSeconds = envInt("BENCH_LATENCY_WARMUP_SECONDS", 10, 0);
  const connectorYaml = process.env["BENCH_CONNECTOR_CONFIG"] ?? "";
  const warmupConnector = envInt("BENCH_WARMUP_CONNECTOR", 1, 0) === 1;
  const deadlineMs = envInt("BENCH_DEADLINE_MS", 120_000);
  const warmup = Math.min(20_000, Math.ceil(backlog / 10));
  const connectorFlags = envFlags("BENCH_CONNECTOR_FLAGS");
  const cpuProfDir = values["cpu-prof"];
  const deliveries = envDeliveries();
  const rounds = envInt("BENCH_ROUNDS", 2);
  const recoveryReps = envInt("BENCH_RECOVERY_REPS", 5, 0);
  const recoveryRate = envInt("BENCH_RECOVERY_RATE", rate);
  const recoveryRunMs = envInt("BENCH_RECOVERY_RUN_MS", 3000);
  if (cpuProfDir !== undefined) connectorFlags.push("--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`);

  const benchStarted = Date.now();
  const scratch = mkdtempSync(join(tmpdir(), "rmq-bench-repl-"));
  let sandbox: Sandbox | undefined;
  let clientA: RocketMQClient | undefined;
  let clientB: RocketMQClient | undefined;
  let connector: ConnectorProcess | undefined;
  const watchdog = setTimeout(() => {
    progress(`watchdog: the bench ran for ${WATCHDOG_MS / 60_000} min; killing the connector and exiting`);
    connector?.child.kill("SIGKILL");
    void sandbox?.stop().finally(() => process.exit(1));
  }, WATCHDOG_MS);
  watchdog.unref();
  try {
    const clusters = await benchClusters();
    sandbox = clusters.sandbox;
    const { namesrvA, namesrvB, machine } = clusters;
    const [envPidA, envPidB] = (process.env["BENCH_BROKER_PIDS"] ?? "")
      .split(",")
      .map((x) => Number(x) || undefined);
    const brokerPids = (): Record<string, number | undefined> => ({
      "broker A": sandbox?.clusters[0]?.brokerPid ?? envPidA,
      "broker B": sandbox?.clusters[1]?.brokerPid ?? envPidB,
      connector: connector?.pid,
    });
    const cpu: { phase: string; usage: CpuUsage }[] = [];
    const timed = async <T>(phase: string, fn: () => Promise<T>): Promise<T> => {
      const m = measureCpu(brokerPids);
      const result = await fn();
      const usage = m.finish();
      cpu.push({ phase, usage });
      progress(`  ${phase}: ${formatCpu(usage)}`);
      return result;
    };
    const a = (clientA = new RocketMQClient({ namesrv: namesrvA, requestTimeoutMs: 10_000 }));
    const b = (clientB = new RocketMQClient({ namesrv: namesrvB, requestTimeoutMs: 10_000 }));
    const run = `repl-${Date.now().toString(36)}-${randomBytes(2).toString("hex")}`;
    const topic = `${run}-orders`;
    const queuesOf = async (client: RocketMQClient, t: string): Promise<MessageQueue[]> => {
      const queues = (await client.admin.getTopicRoute(t, { refresh: true })).writeQueues();
      if (queues.length !== QUEUES)
        throw new Error(`topic ${t} has ${queues.length} queues, expected ${QUEUES}`);
      return queues;
    };
    // The baselines' topic on A, the send-only topic on B, warm-up topics on both (each
    // delivery phase creates its own source and target topics).
    for (const [client, t] of [
      [a, topic],
      [b, `${run}-sendonly`],
      [a, `${run}-warm`],
      [b, `${run}-warm`],
    ] as const) {
      await client.admin.createTopic({ topic: t, queueNums: QUEUES });
    }
    const sourceQueues = await queuesOf(a, topic);
    const body = randomBytes(size);
    const producerA = a.producer({ group: `${run}_producer` });
    const producerB = b.producer({ group: `${run}_producer` });
    const common = { body, concurrency: CONCURRENCY, deadlineMs, batch: BATCH };

    // Warm-up: our client's paths (batch send, pull) and both brokers' write and read paths. In
    // small requests: the brokers' JITs compile per-request code after thousands of requests, and
    // a catch-up of 200 000 makes only ~6 000 pulls and ~3 000 sends.
    progress(
      `warm-up: ${fmt(warmup)} messages sent to and pulled from each cluster, ${WARMUP_BATCH} per request`,
    );
    for (const [client, producer] of [
      [a, producerA],
      [b, producerB],
    ] as const) {
      const warmQueues = await queuesOf(client, `${run}-warm`);
      await sendPhase(producer, {
        ...common,
        batch: WARMUP_BATCH,
        topic: `${run}-warm`,
        queues: warmQueues,
        count: warmup,
      });
      await pullPhase(client.pullConsumer({ group: `${run}_warm` }), client.admin, {
        queues: warmQueues,
        count: warmup,
        maxMessages: WARMUP_BATCH,
        deadlineMs,
      });
    }

    // Warm-up of the replication itself: a connector copies A's warm-up messages to B. Brokers in
    // production run for months; without this the catch-up is timed while both fresh JVMs still
    // compile the connector's request mix (its first 2 s moved under 3 000 messages).
    if (warmupConnector) {
      progress(`warm-up: a connector replicates the ${fmt(warmup)} warm-up messages from A to B`);
      const warmTargetQueues = await queuesOf(b, `${run}-warm`);
      const warmBaseline = await sumMaxOffsets(b, warmTargetQueues);
      const warmConfig = join(scratch, "warm-connector.yaml");
      writeConnectorConfig(
        warmConfig,
        `${run}-warm-connector`,
        { a: namesrvA, b: namesrvB },
        { fromCluster: "a", toCluster: "b", topic: `${run}-warm`, start: "earliest" },
        connectorYaml,
      );
      const warmProc = new ConnectorProcess(
        warmConfig,
        connectorFlags.filter((f) => !f.startsWith("--cpu-prof")),
        connectorMainUnderTest(),
      );
      let warmAlive = true;
      void warmProc.exited.then(() => (warmAlive = false));
      const warmed = await waitForTarget(
        b,
        warmTargetQueues,
        warmBaseline,
        warmup,
        deadlineMs,
        () => warmAlive,
      );
      await warmProc.stop();
      if (warmed.timedOut)
        throw new Error(`the warm-up connector copied ${warmed.stored} of ${warmup} messages`);
    }

    progress(`filling the backlog: ${fmt(backlog)} messages into A (batch x${BATCH})`);
    const fill = await timed("fill A", () =>
      sendPhase(producerA, {
        ...common,
        topic,
        queues: sourceQueues,
        count: backlog,
        deadlineMs: Math.max(deadlineMs, 300_000),
      }),
    );
    progress(describe("fill (A)", fill));
    if (fill.messages < backlog) throw new Error(`the backlog fill sent ${fill.messages} of ${backlog}`);

    // Pulls decode as the connector's do (no inflating, no offsetMsgId): the same client work.
    const pullOnlyOptions = {
      queues: sourceQueues,
      count: backlog,
      maxMessages: 32,
      deadlineMs,
      asConnector: true,
    };
    // An unmeasured read of the fresh backlog first: broker A's first read of it cost 2-3x its
    // later ones (whichever phase came first paid it), and the catch-up is never the first.
    progress(`warm-up: the backlog read once from A, not measured`);
    await pullPhase(a.pullConsumer({ group: `${run}_warmread` }), a.admin, pullOnlyOptions);

    progress(`send-only: ${fmt(backlog)} messages into B (batch x${SEND_BATCH}, ${CONCURRENCY} senders)`);
    const sendOnlyQueues = await queuesOf(b, `${run}-sendonly`);
    const sendOnlyOptions = {
      ...common,
      batch: SEND_BATCH,
      topic: `${run}-sendonly`,
      queues: sendOnlyQueues,
      count: backlog,
    };
    const sendOnly = await timed("send-only", () => sendPhase(producerB, sendOnlyOptions));
    progress(describe("send-only (B)", sendOnly));

    // Both baselines at once, in one process: the work a catch-up needs (both brokers and one
    // client thread busy together on these cores) without the connector's own logic. The catch-up
    // over this is what the connector costs, whatever the machine. It runs before pull-only, so that a
    // read-only phase lies between B's last writes and the catch-up, as before.
    progress(`pull + send at once: the backlog from A again while ${fmt(backlog)} more go into B`);
    const bothStarted = performance.now();
    const [bothSend, bothPull] = await timed("pull + send at once", () =>
      Promise.all([
        sendPhase(producerB, sendOnlyOptions),
        pullPhase(a.pullConsumer({ group: `${run}_both` }), a.admin, pullOnlyOptions),
      ]),
    );
    const both: PhaseResult = {
      messages: Math.min(bothSend.messages, bothPull.messages),
      elapsedMs: performance.now() - bothStarted,
      timedOut: bothSend.timedOut || bothPull.timedOut,
      errors: bothSend.errors + bothPull.errors,
      firstError: bothSend.firstError ?? bothPull.firstError,
    };
    progress(describe("pull + send at once", both));
    progress(`pull-only: the ${fmt(backlog)}-message backlog from A (32 per pull, one loop per queue)`);
    const pullOnly = await timed("pull-only", () =>
      pullPhase(a.pullConsumer({ group: `${run}_pullonly` }), a.admin, pullOnlyOptions),
    );
    progress(describe("pull-only (A)", pullOnly));

    // ---- catch-up and steady state, per delivery ----
    // Each phase is one connector process with one delivery: its own source topic on A, filled
    // with the same backlog and read once (unmeasured) just before, its own target topic and
    // connector name (consumer group, checkpoint topic). The deliveries alternate (ABBA over
    // rounds), so the brokers' drift over the run falls on both alike.
    const runPhase = async (delivery: Delivery, index: number): Promise<PhaseOutcome> => {
      const label = `${DELIVERY_SHORT[delivery]} #${index + 1}`;
      const phaseTopic = `${run}-p${index}-${DELIVERY_SHORT[delivery].toLowerCase()}`;
      await a.admin.createTopic({ topic: phaseTopic, queueNums: QUEUES });
      // Created here so the connector's clock holds only its own work (it would create it).
      await b.admin.createTopic({ topic: phaseTopic, queueNums: QUEUES });
      const phaseSource = await queuesOf(a, phaseTopic);
      const phaseTarget = await queuesOf(b, phaseTopic);
      progress(`[${label}] filling ${fmt(backlog)} messages into A (${phaseTopic}) and reading them once`);
      const phaseFill = await sendPhase(producerA, {
        ...common,
        topic: phaseTopic,
        queues: phaseSource,
        count: backlog,
        deadlineMs: Math.max(deadlineMs, 300_000),
      });
      if (phaseFill.messages < backlog)
        throw new Error(`the backlog fill of ${phaseTopic} sent ${phaseFill.messages} of ${backlog}`);
      await pullPhase(a.pullConsumer({ group: `${run}_warmread${index}` }), a.admin, {
        ...pullOnlyOptions,
        queues: phaseSource,
      });
      const configPath = join(scratch, `connector-${index}.yaml`);
      writeConnectorConfig(
        configPath,
        `${run}-c${index}`,
        { a: namesrvA, b: namesrvB },
        { fromCluster: "a", toCluster: "b", topic: phaseTopic, start: "earliest" },
        { delivery, extraYaml: connectorYaml },
      );
      const targetBaseline = await sumMaxOffsets(b, phaseTarget);
      progress(
        `[${label}] catch-up: starting the connector, delivery ${delivery} (${["node", ...shebangNodeFlags(), ...connectorFlags, "dist/src/cli/main.js run"].join(" ")})`,
      );
      const cpuPhase = `catch-up ${label}`;
      const catchUpCpu = measureCpu(brokerPids);
      const proc = (connector = new ConnectorProcess(configPath, connectorFlags, connectorMainUnderTest()));
      proc.startRssSampling();
      let alive = true;
      void proc.exited.then(() => (alive = false));
      const reached = await waitForTarget(b, phaseTarget, targetBaseline, backlog, deadlineMs, () => alive);
      cpu.push({ phase: cpuPhase, usage: catchUpCpu.finish() });
      // From its "starting" line, as the rate: not what loading Node and the code cost (~0.4 s).
      const connectorCpu =
        (processCpuSeconds(proc.pid) ?? Number.NaN) - (proc.cpuAtStartingSeconds ?? Number.NaN);
      const hwm = procMemory(proc.pid)?.hwmMiB;
      const sampledPeak = proc.stopRssSampling();
      const t0 = proc.startingAt ?? proc.spawnedAt;
      const catchUp: CatchUp = {
        messages: Math.min(reached.stored, backlog),
        elapsedMs: reached.doneAt - t0,
        elapsedFromSpawnMs: reached.doneAt - proc.spawnedAt,
        peakRssMiB: hwm,
        sampledPeakRssMiB: sampledPeak,
        secondHalfMs: reached.halfAt === undefined ? undefined : reached.doneAt - reached.halfAt,
        fromFirstMs: reached.firstAt === undefined ? undefined : reached.doneAt - reached.firstAt,
        timedOut: reached.timedOut,
      };
      const rateNow = (catchUp.messages * 1000) / catchUp.elapsedMs;
      progress(
        `[${label}] catch-up: ${fmt(catchUp.messages)} msgs in ${fmt(catchUp.elapsedMs)} ms = ${fmt(rateNow)} msg/s ` +
          `(from spawn ${fmt(catchUp.elapsedFromSpawnMs)} ms; process start to "starting" ${fmt(t0 - proc.spawnedAt)} ms, ` +
          `"starting" to "running" ${proc.runningAt === undefined ? "-" : fmt(proc.runningAt - t0)} ms, ` +
          `to the first message in B ${reached.firstAt === undefined ? "-" : fmt(reached.firstAt - t0)} ms), ` +
          `connector CPU ${fmt(perMessageMicros(connectorCpu, catchUp.messages), 1)} µs/msg, ` +
          `peak RSS ${fmt(hwm, 1)} MiB${reached.timedOut ? ", DEADLINE REACHED or connector exited" : ""}`,
      );
      const requests = await scrapeCounters(proc.metricsListen, requestCounters);
      if (requests)
        progress(
          `  catch-up requests: ${fmt(requests["rmq_connector_pulls_total"])} pulls, ` +
            `${fmt(requests["rmq_connector_sends_total"])} sends ` +
            `(${fmt(backlog / (requests["rmq_connector_pulls_total"] || 1), 1)} and ` +
            `${fmt(backlog / (requests["rmq_connector_sends_total"] || 1), 1)} messages each)`,
        );

      // Steady state, in the same process, now at the head of its source topic.
      let latency: LatencyReading | undefined;
      let paced: Paced | undefined;
      let steadyRssMiB: number | undefined;
      let steadyStored = 0;
      if (latencySeconds > 0 && alive && !reached.timedOut) {
        if (warmupSeconds > 0) {
          // Steady state means after the catch-up's after-effects (the brokers flushing and
          // dispatching 200k messages, page-cache writeback) and with the single-send and
          // long-poll paths JIT-compiled in both brokers: the same rate, not measured.
          progress(
            `[${label}] steady-state warm-up: ${fmt(rate)} msg/s for ${warmupSeconds} s, not measured`,
          );
          const before = await sumMaxOffsets(b, phaseTarget);
          const warm = await pacedProduce(producerA, phaseSource, body, rate, warmupSeconds * 1000);
          await waitForTarget(b, phaseTarget, before, warm.sent, 30_000, () => alive);
        }
        const from = await Promise.all(phaseTarget.map((q) => b.admin.getMaxOffset(q)));
        const baseline = from.reduce((x, y) => x + y, 0n);
        // Let the connector settle at the head (its pulls now long-poll).
        await sleep(1000);
        const before = await scrapeCounters(proc.metricsListen, requestCounters);
        progress(
          `[${label}] steady state: ${fmt(rate)} msg/s of single sends into A for ${latencySeconds} s`,
        );
        proc.startRssSampling();
        paced = await timed(`steady state ${label}`, () =>
          pacedProduce(producerA, phaseSource, body, rate, latencySeconds * 1000),
        );
        progress(
          `  produced ${fmt(paced.sent)} in ${fmt(paced.elapsedMs)} ms = ${fmt((paced.sent * 1000) / paced.elapsedMs)} msg/s` +
            (paced.errors > 0 ? `, ${paced.errors} errors, first: ${paced.firstError ?? "?"}` : "") +
            (paced.lateTicks > 0 ? `, behind schedule ${paced.lateTicks} ticks` : ""),
        );
        const drained = await waitForTarget(b, phaseTarget, baseline, paced.sent, 30_000, () => alive);
        steadyRssMiB = proc.stopRssSampling();
        const after = await scrapeCounters(proc.metricsListen, requestCounters);
        if (before && after) {
          const delta = (name: string): number => (after[name] ?? 0) - (before[name] ?? 0);
          const pulls = delta("rmq_connector_pulls_total");
          const sends = delta("rmq_connector_sends_total");
          progress(
            `  steady-state requests: ${fmt(pulls)} pulls, ${fmt(sends)} sends ` +
              `(${fmt(paced.sent / (pulls || 1), 2)} and ${fmt(paced.sent / (sends || 1), 2)} messages each); ` +
              `connector event-loop delay max ${fmt(1000 * (after["rmq_connector_nodejs_eventloop_lag_max_seconds"] ?? Number.NaN), 1)} ms`,
          );
        }
        steadyStored = drained.stored;
        progress(`  ${fmt(drained.stored)} of ${fmt(paced.sent)} in the target; reading them back`);
        latency = await readLatencies(b, phaseTarget, from, `${run}_latency${index}`);
        // Where the tail comes from: a few stalls (GC, the CPU taken away) or a slow pipeline.
        const seconds = [...latency.perSecond.entries()].sort((x, y) => x[0] - y[0]);
        const first = seconds[0]?.[0] ?? 0;
        const s = latency.latency.summary();
        progress(
          `  [${label}] latency p50 ${fmt(s.p50Ms, 0)} / p99 ${fmt(s.p99Ms, 0)} / max ${fmt(latency.maxMs, 0)} ms; ` +
            `per second of the run (source store time): slowest message, ms [messages over ${LATENCY_P99_TARGET_MS} ms]: ` +
            seconds
              .map(([sec, v]) => `${sec - first}s:${v.maxMs}${v.over > 0 ? `[${v.over}]` : ""}`)
              .join(" "),
        );
      }

      const exitedEarly = !alive;
      const exit = await proc.stop();
      progress(
        `[${label}] connector stopped (code ${String(exit.code)}${exit.signal ? `, signal ${exit.signal}` : ""}${exit.killed ? ", killed after the grace period" : ""}); ` +
          `${proc.problemCount} warning/error log lines`,
      );
      for (const line of proc.problems.slice(0, 5)) progress(`  connector: ${line}`);
      if (exitedEarly) progress(`connector output (tail):\n${proc.tail.join("\n")}`);
      return {
        delivery,
        label,
        cpuPhase,
        catchUp,
        catchUpRate: rateNow,
        connectorCpu,
        requests,
        paced,
        latency,
        steadyRssMiB,
        steadyStored,
        exitedEarly,
        problemCount: proc.problemCount,
      };
    };

    const phases: PhaseOutcome[] = [];
    for (const [i, delivery] of phaseOrder(deliveries, rounds).entries()) {
      const outcome = await runPhase(delivery, i);
      phases.push(outcome);
      if (outcome.exitedEarly) break;
    }
    if (cpuProfDir !== undefined) progress(`CPU profiles of the connectors in ${cpuProfDir}`);

    // ---- recovery after SIGKILL ----
    const recoveries: RecoveryResult[] = [];
    if (recoveryReps > 0 && !phases.some((p) => p.exitedEarly)) {
      for (const delivery of deliveries) {
        recoveries.push(
          await measureRecovery({
            a,
            b,
            producer: producerA,
            body,
            delivery,
            run,
            scratch,
            namesrvA,
            namesrvB,
            connectorYaml,
            connectorFlags: connectorFlags.filter((f) => !f.startsWith("--cpu-prof")),
            rate: recoveryRate,
            reps: recoveryReps,
            runMs: recoveryRunMs,
            queuesOf,
            setConnector: (p) => (connector = p),
          }),
        );
      }
    }
    // ---- report ----
    // The rows of the issue #3 report come from the first phase (at-least-once unless
    // BENCH_DELIVERY says otherwise); the comparison of the deliveries follows them.
    const primary = phases[0];
    if (primary === undefined) throw new Error("no catch-up phase ran");
    const { catchUp, catchUpRate, paced, latency, steadyRssMiB, steadyStored } = primary;
    const connectorCatchUpCpu = primary.connectorCpu;
    const pullRate = msgPerSec(pullOnly);
    const sendRate = msgPerSec(sendOnly);
    const floor = Math.min(pullRate, sendRate);
    const met = (ok: boolean | undefined): string => (ok === undefined ? "-" : ok ? "yes" : "NO");
    const cpuOf = (phase: string, processName: string): number =>
      cpu.find((c) => c.phase === phase)?.usage.byProcess[processName] ?? Number.NaN;
    // The bench process itself is idle during the catch-up (it only polls B's offsets).
    const totalCpuOf = (phase: string): number =>
      Object.values(cpu.find((c) => c.phase === phase)?.usage.byProcess ?? {}).reduce<number>(
        (sum, v) => sum + (v ?? 0),
        0,
      );
    // What this machine allows at best: the brokers' CPU per message in the two baselines plus
    // our bare client's, spread over every core. A connector costing no more than the client
    // would reach it; when 0.8 x min(pull, send) lies above it, no connector can meet the
    // target here, because the catch-up needs both brokers' work at once on the same cores.
    const brokersAndClientMicros =
      perMessageMicros(cpuOf("pull-only", "broker A") + cpuOf("pull-only", "bench"), pullOnly.messages) +
      perMessageMicros(cpuOf("send-only", "broker B") + cpuOf("send-only", "bench"), sendOnly.messages);
    const bothRate = msgPerSec(both);
    const ceiling = (availableParallelism() * 1e6) / brokersAndClientMicros;
    const summary = latency?.latency.summary();
    const rows: string[][] = [
      ["backlog fill into A (batch x32), msg/s", fmt(msgPerSec(fill)), "", ""],
      ["pull-only from A, msg/s", fmt(pullRate), "", ""],
      [`send-only into B (batch x${SEND_BATCH}), msg/s`, fmt(sendRate), "", ""],
      [
        "catch-up A->B, msg/s",
        fmt(catchUpRate),
        `>= ${fmt(CATCHUP_RATIO_TARGET * floor)}`,
        met(!catchUp.timedOut && catchUpRate >= CATCHUP_RATIO_TARGET * floor),
      ],
      [
        "catch-up / min(pull-only, send-only)",
        (catchUpRate / floor).toFixed(2),
        `>= ${CATCHUP_RATIO_TARGET}`,
        "",
      ],
      // Catch-up does the work of both baselines; when both brokers and the connector share the
      // same cores, 1 / (1/pull + 1/send) is the rate if that work ran back to back.
      [
        "catch-up / same-CPU bound 1/(1/pull + 1/send)",
        (catchUpRate * (1 / pullRate + 1 / sendRate)).toFixed(2),
        "",
        "",
      ],
      [
        `ceiling here: ${availableParallelism()} cores / (brokers' + our client's CPU per message), msg/s`,
        Number.isFinite(ceiling) ? fmt(ceiling) : "-",
        "",
        "",
      ],
      [
        "ceiling / min(pull-only, send-only): is 0.8 reachable on this machine?",
        Number.isFinite(ceiling) ? (ceiling / floor).toFixed(2) : "-",
        `>= ${CATCHUP_RATIO_TARGET}`,
        Number.isFinite(ceiling) ? met(ceiling >= CATCHUP_RATIO_TARGET * floor) : "-",
      ],
      ["catch-up / ceiling", Number.isFinite(ceiling) ? (catchUpRate / ceiling).toFixed(2) : "-", "", ""],
      ["pull + send at once (our client, one process), msg/s", fmt(bothRate), "", ""],
      [
        "catch-up / pull + send at once: the connector's own cost",
        (catchUpRate / bothRate).toFixed(2),
        "",
        "",
      ],
      [
        "catch-up, second half of the backlog only, msg/s",
        catchUp.secondHalfMs === undefined ? "-" : fmt((backlog / 2) * (1000 / catchUp.secondHalfMs)),
        "",
        "",
      ],
      [
        "connector CPU per message in catch-up (from its start line), µs",
        fmt(perMessageMicros(connectorCatchUpCpu, catchUp.messages), 1),
        "",
        "",
      ],
      [
        "our client alone, pull-only + send-only CPU per message, µs",
        fmt(
          perMessageMicros(cpuOf("pull-only", "bench"), pullOnly.messages) +
            perMessageMicros(cpuOf("send-only", "bench"), sendOnly.messages),
          1,
        ),
        "",
        "",
      ],
      [
        "all processes' CPU per message: catch-up / (pull-only + send-only)",
        (
          perMessageMicros(totalCpuOf(primary.cpuPhase), catchUp.messages) /
          (perMessageMicros(totalCpuOf("pull-only"), pullOnly.messages) +
            perMessageMicros(totalCpuOf("send-only"), sendOnly.messages))
        ).toFixed(2),
        "",
        "",
      ],
      [
        "catch-up incl. process start, msg/s",
        fmt((catchUp.messages * 1000) / catchUp.elapsedFromSpawnMs),
        "",
        "",
      ],
      [
        "connector peak RSS in catch-up (VmHWM), MiB",
        fmt(catchUp.peakRssMiB, 1),
        `<= ${RSS_TARGET_MIB}`,
        met(catchUp.peakRssMiB === undefined ? undefined : catchUp.peakRssMiB <= RSS_TARGET_MIB),
      ],
    ];
    if (paced && latency && summary) {
      rows.push(
        [
          `steady produce rate into A, msg/s (asked ${fmt(rate)})`,
          fmt((paced.sent * 1000) / paced.elapsedMs),
          "",
          "",
        ],
        [
          "one send into A, round trip p50 / p99, ms (for scale)",
          `${fmt(paced.sendLatency.summary().p50Ms, 1)} / ${fmt(paced.sendLatency.summary().p99Ms, 1)}`,
          "",
          "",
        ],
        ["end-to-end latency p50, ms", fmt(summary.p50Ms, 0), "", ""],
        [
          "end-to-end latency p99, ms",
          fmt(summary.p99Ms, 0),
          `<= ${LATENCY_P99_TARGET_MS}`,
          met(latency.latency.count > 0 && summary.p99Ms <= LATENCY_P99_TARGET_MS),
        ],
        ["end-to-end latency max, ms", fmt(latency.maxMs, 0), "", ""],
        [
          `messages over ${LATENCY_P99_TARGET_MS} ms, % (seconds with one)`,
          `${fmt((100 * latency.overTarget) / Math.max(1, latency.latency.count), 2)} (${[...latency.perSecond.values()].filter((v) => v.over > 0).length} of ${latency.perSecond.size})`,
          "",
          "",
        ],
        ["messages measured / produced", `${fmt(latency.latency.count)} / ${fmt(paced.sent)}`, "", ""],
        ["connector peak RSS in steady state (sampled), MiB", fmt(steadyRssMiB, 1), "", ""],
      );
    }
    const out = [
      "",
      "RocketMQ connector replication benchmark",
      formatMachine(machine, TWO_CLUSTERS),
      `Settings: ${size} B bodies, ${QUEUES} queues, backlog ${fmt(backlog)}, warm-up ${fmt(warmup)} per cluster${warmupConnector ? " and through a connector" : ""}, ` +
        `steady ${fmt(rate)} msg/s for ${latencySeconds} s after ${warmupSeconds} s unmeasured, phase deadline ${deadlineMs} ms; connector: its own process, ` +
        `config ${connectorYaml === "" ? "defaults (pull 32, no linger, send batches <= 64)" : `defaults + ${JSON.stringify(connectorYaml)}`}, node ${[...shebangNodeFlags(), ...connectorFlags].join(" ") || "(no flags)"} (the rmq-connector shebang's flags first)`,
      "",
      formatTable(["figure", "value", "target", "met"], rows),
      "",
      ...compareDeliveries(phases, recoveries),
      "CPU seconds per phase (utime + stime; 'machine' is the busy share of all cores, other users included):",
      formatTable(
        ["phase", "wall s", "broker A", "broker B", "bench", "connector", "machine busy"],
        cpu.map(({ phase, usage }) => [
          phase,
          fmt(usage.wallSeconds, 1),
          fmt(usage.byProcess["broker A"], 1),
          fmt(usage.byProcess["broker B"], 1),
          fmt(usage.byProcess["bench"], 1),
          fmt(usage.byProcess["connector"], 1),
          usage.machineBusy === undefined ? "-" : `${(usage.machineBusy * 100).toFixed(0)} %`,
        ]),
      ),
      "",
    ];
    if (catchUp.timedOut)
      out.push(`NOTE: the catch-up did not finish (${fmt(catchUp.messages)} of ${fmt(backlog)}).`);
    if (pullOnly.timedOut || sendOnly.timedOut) out.push("NOTE: a baseline phase reached its deadline.");
    if (paced && steadyStored < paced.sent)
      out.push(
        `NOTE: only ${fmt(steadyStored)} of ${fmt(paced.sent)} steady-state messages reached the target in 30 s.`,
      );
    if (latency && latency.missingProperty > 0)
      out.push(`NOTE: ${latency.missingProperty} target messages had no RMQC_SOURCE_STORE_MS.`);
    const exitedEarly = phases.some((p) => p.exitedEarly);
    if (exitedEarly) out.push("NOTE: a connector exited on its own before the bench stopped it.");
    const problems = phases.reduce((n, p) => n + p.problemCount, 0);
    if (problems > 0) out.push(`NOTE: the connectors logged ${problems} warnings/errors (stderr).`);
    out.push(`Total bench time: ${fmt((Date.now() - benchStarted) / 1000, 1)} s`, "");
    process.stdout.write(out.join("\n"));
    if (exitedEarly) return 1;
    return 0;
  } finally {
    clearTimeout(watchdog);
    if (connector && connector.child.exitCode === null && connector.child.signalCode === null) {
      connector.child.kill("SIGKILL");
    }
    clientA?.close();
    clientB?.close();
    await sandbox?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

runBench(main);
