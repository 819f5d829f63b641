/**
 * The fault harness of the delivery proofs (issue 10 §4) and the soak run: a producer that keeps
 * writing through outages, the connector as a process that can be SIGKILLed and restarted, a
 * kill loop drawn from a seeded PRNG (printed, replayable with RMQ_CHAOS_SEED), broker crashes,
 * and the drain that ends every run before the check: `verifyRoutes` (src/connector/verify.ts,
 * what `rmq-connector verify` runs), on the connector's own config file.
 */
import { randomInt } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import type { MessageQueue } from "../../src/client/types.js";
import type { Logger } from "../../src/client/logger.js";
import { silentLogger } from "../../src/client/logger.js";
import { loadConfig } from "../../src/config/index.js";
import type { EngineConfig } from "../../src/connector/engine-config.js";
import { verifyRoutes, type VerifyReport } from "../../src/connector/verify.js";
import type { StopProcessOptions } from "../../src/sandbox/index.js";
import {
  ConnectorRun,
  writeConnectorConfig,
  type ConnectorConfigOptions,
  type ConnectorRoute,
} from "./connector-process.js";
import { useSandbox, type TestCluster } from "./sandbox.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What a chaos suite works with: clusters a and b, a client on each, their NameServers by name, a temp dir. */
export interface ChaosEnv {
  ca: TestCluster;
  cb: TestCluster;
  a: RocketMQClient;
  b: RocketMQClient;
  /** For ConnectorProcessOptions.clusters: { a, b } -> NameServer address. */
  clusters: Record<string, string>;
  /** Where the suite's connectors keep their configs and logs. */
  dir: string;
}

/**
 * Sets a chaos suite up (call it in describe()): two clusters, the file's own with `dedicated`
 * (a suite that kills brokers must not share them), a client on each and a temp dir, made in its
 * before hook and closed and removed after it. Returns their getter.
 */
export function useChaosEnv(options: { dedicated?: boolean; dirPrefix: string }): () => ChaosEnv {
  const sandbox = useSandbox(2, { dedicated: options.dedicated ?? false });
  let env: ChaosEnv | undefined;
  before(async () => {
    const [ca, cb] = await sandbox.clusters();
    if (ca === undefined || cb === undefined) throw new Error("the sandbox gave fewer than 2 clusters");
    env = {
      ca,
      cb,
      a: new RocketMQClient({ namesrv: ca.namesrv }),
      b: new RocketMQClient({ namesrv: cb.namesrv }),
      clusters: { a: ca.namesrv, b: cb.namesrv },
      dir: mkdtempSync(join(tmpdir(), options.dirPrefix)),
    };
  });
  after(() => {
    env?.a.close();
    env?.b.close();
    if (env) rmSync(env.dir, { recursive: true, force: true });
  });
  return () => {
    if (env === undefined) throw new Error("the chaos env is available from the suite's before hooks on");
    return env;
  };
}

/** Env var that replays a chaos run: the seed its first line printed. */
export const CHAOS_SEED_ENV = "RMQ_CHAOS_SEED";

/** The seed of this run: RMQ_CHAOS_SEED when set, else a random one. */
export function chaosSeed(): number {
  const fromEnv = process.env[CHAOS_SEED_ENV];
  if (fromEnv !== undefined && fromEnv !== "") {
    const seed = Number(fromEnv);
    if (!Number.isSafeInteger(seed)) throw new Error(`${CHAOS_SEED_ENV}=${fromEnv} is not an integer`);
    return seed;
  }
  return randomInt(2 ** 31);
}

/** A PRNG (mulberry32) giving numbers in [0, 1): the same seed, the same faults at the same moments. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A number in [min, max) from `random`. */
export function between(random: () => number, min: number, max: number): number {
  return min + random() * (max - min);
}

// ---------------------------------------------------------------------------------------------

export interface ContinuousProducerOptions {
  client: RocketMQClient;
  topic: string;
  /** Messages per second over all queues. */
  ratePerSecond: number;
  /** Most messages per send (one SEND_BATCH_MESSAGE). Default 16. */
  batchMax?: number;
  /** Per send, ms. Default 3000. */
  sendTimeoutMs?: number;
}

export interface ProducerTotals {
  /** Messages the source acknowledged. */
  acknowledged: number;
  /** Sends that failed and were retried (each may have stored its batch at the source anyway). */
  failedSends: number;
  /** Batches given up because stop() came while the source did not answer. */
  abandonedBatches: number;
}

/**
 * Produces to every queue of a topic (an explicit queue per send, one sender per queue, so each
 * queue gets its share of the rate) with bodies `<topic> q<queueId> #<seq>`. A failed send is
 * retried with backoff (100 ms doubling to 2 s) until it succeeds: through a broker outage the
 * producer keeps going. A retried send may have been stored already, which makes two source
 * messages: that is the source's own duplicate, not the connector's, and the check counts by
 * source offset. After an outage it does not burst to catch up more than 2 s of its rate.
 */
export class ContinuousProducer {
  readonly #options: Required<ContinuousProducerOptions>;
  readonly #totals: ProducerTotals = { acknowledged: 0, failedSends: 0, abandonedBatches: 0 };
  #stopping = false;
  #loops: Promise<void>[] = [];

  private constructor(options: ContinuousProducerOptions) {
    this.#options = { batchMax: 16, sendTimeoutMs: 3000, ...options };
  }

  /** Resolves the topic's queues and starts sending. */
  static async start(options: ContinuousProducerOptions): Promise<ContinuousProducer> {
    const producer = new ContinuousProducer(options);
    const route = await options.client.admin.getTopicRoute(options.topic, { refresh: true });
    const queues = route.writeQueues();
    if (queues.length === 0) throw new Error(`topic ${options.topic} has no writable queue`);
    const perQueueRate = options.ratePerSecond / queues.length;
    producer.#loops = queues.map((q) => producer.#run(q, perQueueRate));
    return producer;
  }

  /** What the source acknowledged so far. */
  get totals(): Readonly<ProducerTotals> {
    return this.#totals;
  }

  /** Waits until the source acknowledged `count` messages, or `timeoutMs` passed (bounded, no throw). */
  async waitAcknowledged(count: number, timeoutMs: number): Promise<void> {
    const until = performance.now() + timeoutMs;
    while (this.#totals.acknowledged < count && performance.now() < until) await sleep(200);
  }

  /** Stops taking new messages; resolves when the last send in flight ended. */
  async stop(): Promise<ProducerTotals> {
    this.#stopping = true;
    await Promise.all(this.#loops);
    return { ...this.#totals };
  }

  async #run(queue: MessageQueue, perSecond: number): Promise<void> {
    const { client, topic, batchMax } = this.#options;
    const producer = client.producer({ sendTimeoutMs: this.#options.sendTimeoutMs });
    const started = performance.now();
    const maxDebt = Math.max(batchMax, Math.ceil(perSecond * 2));
    let produced = 0;
    while (!this.#stopping) {
      const due = Math.floor(((performance.now() - started) * perSecond) / 1000);
      if (due - produced > maxDebt) produced = due - maxDebt;
      const n = Math.min(due - produced, batchMax);
      if (n <= 0) {
        await sleep(Math.min(50, 1000 / perSecond));
        continue;
      }
      const batch = Array.from({ length: n }, (_, i) => ({
        topic,
        body: Buffer.from(`${topic} q${queue.queueId} #${produced + i}`),
      }));
      if (!(await this.#sendUntilStored(() => producer.sendBatch(batch, { queue })))) {
        this.#totals.abandonedBatches++;
        return;
      }
      this.#totals.acknowledged += n;
      produced += n;
    }
  }

  /** true once stored; false when stop() came while it kept failing. */
  async #sendUntilStored(send: () => Promise<unknown>): Promise<boolean> {
    let backoffMs = 100;
    for (;;) {
      try {
        await send();
        return true;
      } catch {
        this.#totals.failedSends++;
        if (this.#stopping) return false;
        await sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 2000);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------

export interface ConnectorProcessOptions {
  /** Directory for the config file and the log file (the caller removes it). */
  dir: string;
  /** The connector's name (also its consumer group on the source). */
  name: string;
  /** Cluster key -> NameServer address. */
  clusters: Readonly<Record<string, string>>;
  /** One route, or several served by the one process. */
  route: ConnectorRoute | readonly ConnectorRoute[];
  config?: ConnectorConfigOptions;
  /** Deadline for the "running" line of each start, ms. Default 90 000. */
  startTimeoutMs?: number;
}

/**
 * The connector as users run it, across restarts: one config file, a new process per start
 * (ConnectorRun), every life's output appended to one log file, and kills and warnings counted
 * over all of them.
 */
export class ConnectorProcess {
  readonly configPath: string;
  readonly logFile: string;
  readonly name: string;
  readonly #startTimeoutMs: number;
  readonly #runs: ConnectorRun[] = [];
  /** SIGKILLs sent by kill(). */
  kills = 0;

  constructor(options: ConnectorProcessOptions) {
    this.name = options.name;
    this.configPath = join(options.dir, `${options.name}.yaml`);
    this.logFile = join(options.dir, `${options.name}.log`);
    this.#startTimeoutMs = options.startTimeoutMs ?? 90_000;
    writeConnectorConfig(this.configPath, options.name, options.clusters, options.route, options.config);
    writeFileSync(this.logFile, "");
  }

  /** The current (last started) process, if any. */
  get current(): ConnectorRun | undefined {
    return this.#runs.at(-1);
  }

  /** Processes started so far. */
  get starts(): number {
    return this.#runs.length;
  }

  /**
   * Per life that logged "running", ms from spawn to that line: the time to recover (under
   * exactly-once the engine logs it once every queue is recovered). Lives killed before it are
   * left out.
   */
  get recoveryMs(): number[] {
    return this.#runs.flatMap((r) =>
      r.runningAt === undefined ? [] : [Math.round(r.runningAt - r.spawnedAt)],
    );
  }

  /** Warning and error log lines over every life. */
  get problemCount(): number {
    return this.#runs.reduce((n, r) => n + r.problemCount, 0);
  }

  /** Spawns a process without waiting for it to run. @throws when one is still alive. */
  spawn(): ConnectorRun {
    if (this.current?.alive) throw new Error(`connector ${this.name} is already running`);
    const run = new ConnectorRun(this.configPath, { logFile: this.logFile });
    this.#runs.push(run);
    return run;
  }

  /** Spawns a process and waits for its "running" line. @throws with the log's tail when it does not come. */
  async start(): Promise<ConnectorRun> {
    const run = this.spawn();
    await this.waitRunning(run);
    return run;
  }

  /** Waits for `run` (default: the current one) to log "running". @throws with the log's tail otherwise. */
  async waitRunning(run = this.current): Promise<void> {
    if (run === undefined) throw new Error(`connector ${this.name} was never started`);
    if (await run.waitRunning(this.#startTimeoutMs)) return;
    const how = run.alive ? `not running after ${this.#startTimeoutMs} ms` : "exited before running";
    throw new Error(`connector ${this.name} ${how}:\n${this.report()}`);
  }

  /** SIGKILL of the current process (a crash: no drain, no commit). */
  async kill(): Promise<void> {
    const run = this.current;
    if (run?.alive) {
      this.kills++;
      await run.kill();
    }
  }

  /** kill(), then start(). */
  async restart(): Promise<ConnectorRun> {
    await this.kill();
    return this.start();
  }

  /** SIGTERM (drain and commit), SIGKILL after `graceMs`. */
  async stop(graceMs = 30_000): Promise<void> {
    await this.current?.stop(graceMs);
  }

  /** The JSON log lines (every life) whose `msg` is `msg`, parsed. */
  logLines(msg: string): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const text of readFileSync(this.logFile, "utf8").split("\n")) {
      if (!text.startsWith("{") || !text.includes(msg)) continue;
      try {
        const line = JSON.parse(text) as Record<string, unknown>;
        if (line["msg"] === msg) out.push(line);
      } catch {
        // A line cut by a SIGKILL.
      }
    }
    return out;
  }

  /**
   * Unknown send outcomes the exactly-once connector settled from the target, and how many of
   * them had landed (the "landed but unknown" case), from its log.
   */
  settledOutcomes(): { settled: number; landed: number } {
    const lines = this.logLines("unknown send outcome settled from the target");
    return { settled: lines.length, landed: lines.filter((l) => Number(l["landed"]) > 0).length };
  }

  /** The last `lines` lines of the log file (every life), for a failure message. */
  report(lines = 40): string {
    return readFileSync(this.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  }
}

// ---------------------------------------------------------------------------------------------

/** When in its life a kill met the process. */
export type KillPhase = "boot" | "startup" | "recovery" | "steady";

export interface KillRecord {
  /** What the loop aimed at. */
  planned: KillPhase;
  /** What the process's log says it was at: before "starting", before "running", or after. */
  observed: "before-starting" | "before-running" | "running";
  /** ms from spawn to the kill. */
  upMs: number;
}

export interface KillLoopOptions {
  process: ConnectorProcess;
  /** SIGKILLs to send. */
  times: number;
  /** Range of the time a "steady" life runs after "running" before its kill, ms. */
  minUpMs: number;
  maxUpMs: number;
  random: () => number;
  /** Called after each kill (progress output). */
  onKill?: (kill: KillRecord, index: number) => void;
  /** Stop early (the soak's deadline). */
  signal?: AbortSignal;
}

/**
 * Kills in this cycle: a steady life between two of each other kind, so the connector also
 * makes progress between the kills aimed at its start-up.
 * - boot: 0-300 ms after spawn (Node loading, config not read yet);
 * - startup: at the "starting" line + 0-30 ms (route resolution, offsets read, recovery);
 * - recovery: 0-1000 ms after "running" (the first pulls and sends after a restart);
 * - steady: minUpMs-maxUpMs after "running".
 */
const KILL_CYCLE: readonly KillPhase[] = ["steady", "startup", "steady", "recovery", "steady", "boot"];

/**
 * SIGKILLs the connector `times` times at moments drawn from `random`, starting a new process
 * right after each kill; leaves a freshly spawned process behind (the caller waits for it to run).
 * Resolves with what each kill met.
 */
export async function killLoop(options: KillLoopOptions): Promise<KillRecord[]> {
  const { process: connector, random } = options;
  const kills: KillRecord[] = [];
  if (!connector.current?.alive) connector.spawn();
  for (let i = 0; i < options.times && options.signal?.aborted !== true; i++) {
    const run = connector.current as ConnectorRun;
    const planned = KILL_CYCLE[i % KILL_CYCLE.length] as KillPhase;
    if (planned === "boot") {
      await sleep(between(random, 0, 300));
    } else if (planned === "startup") {
      await run.waitStarting(60_000);
      await sleep(between(random, 0, 30));
    } else {
      await connector.waitRunning(run);
      const [min, max] = planned === "recovery" ? [0, 1000] : [options.minUpMs, options.maxUpMs];
      await sleep(between(random, min, max));
    }
    if (!run.alive) throw new Error(`connector ${connector.name} ended by itself:\n${connector.report()}`);
    const observed =
      run.startingAt === undefined
        ? "before-starting"
        : run.runningAt === undefined
          ? "before-running"
          : "running";
    const kill: KillRecord = { planned, observed, upMs: Math.round(performance.now() - run.spawnedAt) };
    await connector.kill();
    kills.push(kill);
    options.onKill?.(kill, i);
    connector.spawn();
  }
  return kills;
}

/** Counts of kills by what they met (for the report). */
export function summarizeKills(kills: readonly KillRecord[]): Record<KillRecord["observed"], number> {
  const out = { "before-starting": 0, "before-running": 0, running: 0 };
  for (const k of kills) out[k.observed]++;
  return out;
}

// ---------------------------------------------------------------------------------------------

/** What a broker crash needs: TestCluster (dedicated) and the sandbox's LocalCluster both fit. */
export interface BrokerControl {
  stopBroker(options?: StopProcessOptions): Promise<void>;
  startBroker(): Promise<void>;
}

/**
 * SIGKILLs a broker (its store and ports kept), leaves it down `downMs`, and starts it again;
 * resolves once it serves (the sandbox proves readiness over the protocol). Returns how long the
 * start took, ms.
 */
export async function crashBroker(cluster: BrokerControl, downMs: number): Promise<{ restartMs: number }> {
  await cluster.stopBroker({ graceMs: 0 });
  await sleep(downMs);
  const started = performance.now();
  await cluster.startBroker();
  return { restartMs: Math.round(performance.now() - started) };
}

// ---------------------------------------------------------------------------------------------

export interface CommittedWait {
  /** Whether every queue's committed offset reached its max offset in time. */
  reached: boolean;
  /** Messages between committed and max offsets, summed over queues, at the last look. */
  behind: number;
  waitedMs: number;
}

/**
 * Waits until `group`'s committed offset of every queue of `topic` on the source reaches the
 * queue's max offset as read at the call (the producer has stopped), or `timeoutMs` passes.
 * Brokers that do not answer count as behind and are asked again.
 */
export async function waitCommitted(
  source: RocketMQClient,
  group: string,
  topic: string,
  timeoutMs: number,
): Promise<CommittedWait> {
  const started = performance.now();
  const deadline = started + timeoutMs;
  const call = { timeoutMs: 5000 };
  let targets: { queue: MessageQueue; max: bigint }[] | undefined;
  let behind = Number.NaN;
  while (performance.now() < deadline) {
    try {
      if (targets === undefined) {
        const queues = (await source.admin.getTopicRoute(topic, { refresh: true })).readQueues();
        targets = [];
        for (const queue of queues)
          targets.push({ queue, max: await source.admin.getMaxOffset(queue, call) });
      }
      behind = 0;
      for (const { queue, max } of targets) {
        const committed = (await source.admin.queryConsumerOffset(group, queue, call)) ?? 0n;
        if (committed < max) behind += Number(max - committed);
      }
      if (behind === 0) return { reached: true, behind, waitedMs: Math.round(performance.now() - started) };
    } catch {
      // A broker restarting: ask again.
    }
    await sleep(250);
  }
  return { reached: false, behind, waitedMs: Math.round(performance.now() - started) };
}

export interface DrainAndCheckOptions {
  /** The source cluster, to read committed and max offsets from. */
  source: RocketMQClient;
  /** The connector: its config file is what verify reads, its name is its consumer group. */
  connector: { readonly configPath: string; readonly name: string };
  /** Source topics of its routes (every one is drained before the check). */
  topics: readonly string[];
  /** Bound of the drain, ms (shared by the topics). */
  drainTimeoutMs: number;
  /** For verify's clients. Default: silent. */
  logger?: Logger;
}

/**
 * The end of every chaos run: waits for the connector's committed position to reach the source's
 * max offsets of each topic (or the bound), then runs `verifyRoutes` on the connector's own config
 * file over every source message (`from: earliest`, `until: max`). The check runs either way, so
 * a drain that never ends still reports what is missing. Address maps are dropped from the
 * config: verify reads the brokers directly, not through the fault proxies the run used.
 * @throws what verifyRoutes throws when a cluster cannot be read.
 */
export async function drainAndCheck(
  options: DrainAndCheckOptions,
): Promise<{ drain: CommittedWait; report: VerifyReport }> {
  const started = performance.now();
  const drain: CommittedWait = { reached: true, behind: 0, waitedMs: 0 };
  for (const topic of options.topics) {
    const left = Math.max(1, options.drainTimeoutMs - (performance.now() - started));
    const one = await waitCommitted(options.source, options.connector.name, topic, left);
    drain.reached &&= one.reached;
    drain.behind += one.behind;
  }
  drain.waitedMs = Math.round(performance.now() - started);
  const loaded: EngineConfig = await loadConfig(options.connector.configPath);
  const config: EngineConfig = {
    ...loaded,
    clusters: Object.fromEntries(
      Object.entries(loaded.clusters).map(([key, cluster]) => [key, { ...cluster, addressMap: undefined }]),
    ),
  };
  const report = await verifyRoutes(config, {
    from: { kind: "earliest" },
    until: "max",
    logger: options.logger ?? silentLogger,
  });
  return { drain, report };
}

/** One line of verify's totals, for progress output and failure messages. */
export function formatVerify(report: Pick<VerifyReport, "totals">): string {
  const t = report.totals;
  return (
    `${t.checked} checked, ${t.missing} missing, ${t.duplicated} duplicated, ${t.outOfOrder} out of order, ` +
    `${t.altered} altered (${t.deadLettered} dead-lettered, ${t.otherWriters} other writers, ${t.unknownSource} unknown source)`
  );
}

/** The source queues verify found a problem in, with its example offsets, as JSON (for failure messages). */
export function verifyProblems(report: VerifyReport): string {
  const bad = report.queues.filter((q) => q.missing + q.duplicated + q.outOfOrder + q.altered > 0);
  return JSON.stringify(bad, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v));
}
