/**
 * Helpers for replication tests: a fast engine configuration, a logger that keeps what it was
 * told, and readers that drain a topic per queue with a bounded wait.
 */
import { after, before } from "node:test";
import assert from "node:assert/strict";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import { useSandbox, type TestSandbox } from "./sandbox.js";
import type { Logger } from "../../src/client/logger.js";
import type { MessageQueue } from "../../src/client/types.js";
import type { EngineConfig, EngineRoute } from "../../src/connector/engine-config.js";
import { ReplicationEngine } from "../../src/connector/engine.js";
import { startHttpServer, type HttpServerHandle } from "../../src/observability/http-server.js";
import { ConnectorMetrics } from "../../src/observability/metrics.js";
import type { MessageExt } from "../../src/protocol/message.js";
import { EncodedProperties } from "../../src/protocol/properties.js";

/** A logger that records entries (for assertions) and prints errors when RMQ_TEST_LOG is set. */
export function recordingLogger(): Logger & {
  entries: { level: string; message: string; fields: object }[];
} {
  const entries: { level: string; message: string; fields: object }[] = [];
  const at =
    (level: string) =>
    (fields: object, message: string): void => {
      entries.push({ level, message, fields });
      if (process.env["RMQ_TEST_LOG"] && level !== "debug")
        console.error(level, message, JSON.stringify(fields));
    };
  return { entries, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

export interface TestRoute {
  from: string;
  to: string;
  topic: string | RegExp;
  targetTopic?: (source: string) => string;
  tags?: string;
  start?: EngineRoute["start"];
  deadLetterTopic?: string;
  createTopic?: boolean;
  /** Per-route override of the probe settings (see TestOptions.probeIntervalMs). */
  probes?: { enabled?: boolean; intervalMs?: number };
}

export interface TestOptions {
  /** Turn heartbeat probes on with this interval (ms). Off when absent, so other tests see no probe traffic. */
  probeIntervalMs?: number;
}

/** An engine configuration with timings fit for tests (short polls, frequent commits). */
export function testConfig(
  name: string,
  clusters: Record<string, string>,
  routes: TestRoute[],
  options: TestOptions = {},
): EngineConfig {
  return {
    name,
    clusters: Object.fromEntries(Object.entries(clusters).map(([k, namesrv]) => [k, { namesrv: [namesrv] }])),
    routes: routes.map((r) => ({
      name: `${r.from}:${String(r.topic)}->${r.to}`,
      from: {
        cluster: r.from,
        topic:
          typeof r.topic === "string"
            ? { kind: "name", name: r.topic }
            : { kind: "regex", pattern: r.topic.source, regex: r.topic },
        tags: r.tags ?? "*",
      },
      to: { cluster: r.to, createTopic: r.createTopic ?? true, targetTopic: r.targetTopic ?? ((t) => t) },
      start: r.start ?? { kind: "earliest" },
      deadLetterTopic: r.deadLetterTopic,
      includeSystemTopics: false,
      probes: r.probes,
    })),
    // A linger (off by default) so that every engine suite also checks the pause at the head
    // loses and reorders nothing; the CLI and demo tests run the config defaults (no linger).
    pull: { batchSize: 32, suspendTimeoutMs: 1000, lingerMs: 2 },
    send: { batchMaxMessages: 64, batchMaxBytes: 1024 * 1024, timeoutMs: 3000 },
    limits: {
      inFlightMessagesPerQueue: 1024,
      inFlightBytesPerQueue: 4 * 1024 * 1024,
      inFlightBytesTotal: 64 * 1024 * 1024,
    },
    commit: { intervalMs: 200 },
    retry: { initialBackoffMs: 100, maxBackoffMs: 2000 },
    topicRefreshIntervalMs: 1000,
    lagRefreshIntervalMs: 500,
    ...(options.probeIntervalMs === undefined
      ? {}
      : { probes: { enabled: true, intervalMs: options.probeIntervalMs } }),
  };
}

/**
 * Reads every queue of `topic` from offset 0 until `expected` messages arrived in total and
 * nothing more came for `quietMs`, or `timeoutMs` passed. Returns messages per queue id.
 */
export async function readTopic(
  client: RocketMQClient,
  topic: string,
  options: { expected?: number; timeoutMs?: number; quietMs?: number } = {},
): Promise<Map<number, MessageExt[]>> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const quietMs = options.quietMs ?? 1000;
  const consumer = client.pullConsumer({ group: "rmq_connector_test_reader" });
  const out = new Map<number, MessageExt[]>();
  const offsets = new Map<string, bigint>();
  let lastGrowth = Date.now();
  let total = 0;
  while (Date.now() < deadline) {
    let queues: MessageQueue[] = [];
    try {
      queues = (await client.admin.getTopicRoute(topic, { refresh: true })).readQueues();
    } catch {
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    for (const q of queues) {
      const key = `${q.brokerName}#${q.queueId}`;
      for (;;) {
        const r = await consumer.pull({ queue: q, offset: offsets.get(key) ?? 0n, suspendTimeoutMs: 0 });
        offsets.set(key, r.nextBeginOffset);
        if (r.messages.length === 0) break;
        const list = out.get(q.queueId) ?? [];
        list.push(...r.messages);
        out.set(q.queueId, list);
        total += r.messages.length;
        lastGrowth = Date.now();
      }
    }
    const enough = options.expected === undefined || total >= options.expected;
    if (enough && Date.now() - lastGrowth >= quietMs) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return out;
}

/** Waits until `predicate(engine status)` holds, or throws after `timeoutMs` with the last status. */
export async function waitForStatus(
  engine: ReplicationEngine,
  predicate: (s: ReturnType<ReplicationEngine["status"]>) => boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = engine.status();
    if (predicate(s)) return;
    if (Date.now() > deadline) {
      throw new Error(
        `engine status did not reach the expected state in ${timeoutMs} ms: ${JSON.stringify(s, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Total messages replicated by the engine so far. */
export function replicatedTotal(engine: ReplicationEngine): number {
  return engine.status().queues.reduce((n, q) => n + q.replicatedMessages, 0);
}

/** Two clusters A and B with a client each, and engines that are stopped when the suite ends. */
export interface ReplicationClusters {
  sandbox: TestSandbox;
  /** Clients and namesrv addresses; available from the suite's `before` hooks on. */
  clients(): { a: RocketMQClient; b: RocketMQClient; clusters: Record<string, string> };
  /** Starts an engine (stopped without draining after the suite); safe to destructure. */
  startEngine(this: void, config: EngineConfig): Promise<ReplicationEngine>;
  /** Stops `engine` after the suite. */
  track(engine: ReplicationEngine): ReplicationEngine;
}

/**
 * The shared setup of replication suites: two shared sandbox clusters "a" and "b", a client
 * for each, and teardown of every engine the suite started. Call inside `describe`.
 */
export function useReplicationClusters(): ReplicationClusters {
  const sandbox = useSandbox(2);
  const engines: ReplicationEngine[] = [];
  let current: { a: RocketMQClient; b: RocketMQClient; clusters: Record<string, string> } | undefined;
  before(async () => {
    const [ca, cb] = await sandbox.clusters();
    assert.ok(ca && cb);
    current = {
      a: new RocketMQClient({ namesrv: ca.namesrv }),
      b: new RocketMQClient({ namesrv: cb.namesrv }),
      clusters: { a: ca.namesrv, b: cb.namesrv },
    };
  });
  after(async () => {
    await Promise.all(engines.map((e) => e.stop({ drain: false })));
    current?.a.close();
    current?.b.close();
  });
  const track = (engine: ReplicationEngine): ReplicationEngine => {
    engines.push(engine);
    return engine;
  };
  return {
    sandbox,
    clients() {
      assert.ok(current, "clients() is available from the suite's before hooks on");
      return current;
    },
    async startEngine(config) {
      const engine = track(new ReplicationEngine(config, recordingLogger()));
      await engine.start();
      return engine;
    },
    track,
  };
}

/** An engine observed as `rmq-connector run` observes it: its metrics, its HTTP endpoints. */
export interface ObservedEngine {
  engine: ReplicationEngine;
  metrics: ConnectorMetrics;
  server: HttpServerHandle;
}

/**
 * Makes an engine (not started) with its metrics bound (process metrics off: they vary between
 * runs) and its HTTP endpoints on a free loopback port. `track` (useReplicationClusters' own)
 * stops it when the suite ends; the caller closes the server.
 */
export async function observedEngine(
  config: EngineConfig,
  logger: Logger = recordingLogger(),
  track: (engine: ReplicationEngine) => ReplicationEngine = (e) => e,
): Promise<ObservedEngine> {
  const metrics = new ConnectorMetrics({ processMetrics: false });
  const engine = track(new ReplicationEngine(config, logger, metrics.events));
  metrics.bind(engine);
  const server = await startHttpServer({ listen: "127.0.0.1:0", engine, metrics, logger: recordingLogger() });
  return { engine, metrics, server };
}

/**
 * Properties of a message the source stores and the target refuses for good: they fit at the
 * source but not once provenance is added (MESSAGE_ILLEGAL, over 32767 bytes). What dead-letter
 * tests send.
 */
export function poisonProperties(): EncodedProperties {
  // With UNIQ_KEY the stored properties end up a few bytes under the 32 767-byte limit at the
  // source (measured: a 32 659-byte value is the largest a 5.5 broker takes alone); provenance
  // adds about 150 bytes, so the target must refuse it. Written as wire text, which also carries
  // values holding \u0001: legal on the wire (Java takes them), refused by our encoder, so the
  // connector must forward them without a decode and re-encode, in a dead letter too.
  return new EncodedProperties(
    "TAGS\u0001Poison\u0002KEYS\u0001k\u0001z\u0002RMQC_PATH\u0001x\u0001y\u0002" +
      `pad\u0001${"p".repeat(32_600)}\u0002`,
    undefined,
  );
}
