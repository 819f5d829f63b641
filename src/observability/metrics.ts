/**
 * The connector's Prometheus metrics, in a registry of their own (never prom-client's global one,
 * so a library user's metrics and ours do not collide and tests can run several side by side).
 *
 * Almost everything is read from `engine.status()` at scrape time, in `collect()` callbacks: the
 * engine keeps monotonic counters and positions per queue anyway, so copying them at scrape time
 * costs nothing on the replication path. Only the latency histogram needs every observation; it is
 * fed by the engine's `onReplicated` event (see `events`).
 *
 * docs/metrics.md lists every metric; test/observability/docs.test.ts holds the two together.
 */
import { readFileSync } from "node:fs";
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { EngineEvents, EngineStatus, QueueLabels, QueueStatus } from "../connector/engine.js";
import type { ProbeStatus } from "../connector/probes.js";
import { PerMessageHistogram, type HistogramSeries } from "./per-message-histogram.js";

/** Prefix of every metric the connector exposes, process defaults included. */
export const METRIC_PREFIX = "rmq_connector_";

/** Latency histogram buckets, in seconds: 1 ms to 60 s. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/** What the metrics read: the engine, or anything that reports the same status (tests). */
export interface StatusSource {
  status(): EngineStatus;
}

const QUEUE_LABELS = ["route", "source_cluster", "target_cluster", "topic", "broker", "queue_id"] as const;
const ROUTE_LABELS = ["route", "source_cluster", "target_cluster"] as const;
type QueueLabelName = (typeof QUEUE_LABELS)[number];
type RouteLabelName = (typeof ROUTE_LABELS)[number];

/** One per-queue metric read from QueueStatus; `undefined` leaves the queue's sample out. */
interface QueueMetric {
  name: string;
  help: string;
  type: "counter" | "gauge";
  value(q: QueueStatus, nowMs: number): number | undefined;
}

const seconds = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : ms / 1000);

/** Per-queue metrics, in the order docs/metrics.md lists them. */
const QUEUE_METRICS: readonly QueueMetric[] = [
  {
    name: "replicated_messages_total",
    type: "counter",
    help: "Messages acknowledged by the target (TPS is the rate of this).",
    value: (q) => q.replicatedMessages,
  },
  {
    name: "replicated_bytes_total",
    type: "counter",
    help: "Body bytes of the messages acknowledged by the target.",
    value: (q) => q.replicatedBytes,
  },
  {
    name: "filtered_messages_total",
    type: "counter",
    help: "Messages not replicated because the route's tag expression excludes them.",
    value: (q) => q.filteredMessages,
  },
  {
    name: "loop_skipped_messages_total",
    type: "counter",
    help: "Messages not replicated because the target cluster is already in their RMQC_PATH.",
    value: (q) => q.loopSkippedMessages,
  },
  {
    name: "dead_lettered_messages_total",
    type: "counter",
    help: "Messages the target refused for good, sent to the route's dead-letter topic.",
    value: (q) => q.deadLetteredMessages,
  },
  {
    name: "pulls_total",
    type: "counter",
    help: "Successful pull requests to the source.",
    value: (q) => q.pulls,
  },
  {
    name: "sends_total",
    type: "counter",
    help: "Send requests (single or batch) to the target, retries included.",
    value: (q) => q.sends,
  },
  {
    name: "send_retries_total",
    type: "counter",
    help: "Sends retried after a retriable failure (with at-least-once the target may then hold duplicates).",
    value: (q) => q.sendRetries,
  },
  {
    name: "unknown_send_outcomes_total",
    type: "counter",
    help: "Sends whose outcome was unknown (timeout, lost connection): re-sent with at-least-once, settled from the target with exactly-once.",
    value: (q) => q.unknownOutcomes,
  },
  {
    name: "settled_landed_messages_total",
    type: "counter",
    help: "Messages of sends with an unknown outcome that exactly-once found stored in the target, and so did not send again.",
    value: (q) => q.settledLandedMessages,
  },
  {
    name: "lag_messages",
    type: "gauge",
    help: "Source max offset minus the acknowledged position; absent before the first lag refresh.",
    value: (q) => (q.lagMessages === undefined ? undefined : Number(q.lagMessages)),
  },
  {
    name: "lag_seconds",
    type: "gauge",
    help: "Age of the oldest message not yet replicated; 0 when caught up.",
    value: (q) => q.lagMs / 1000,
  },
  {
    name: "last_sync_timestamp_seconds",
    type: "gauge",
    help: "Unix time when the target last acknowledged a message of the queue; absent before the first.",
    value: (q) => seconds(q.lastSyncAtMs),
  },
  {
    name: "last_replicated_source_store_timestamp_seconds",
    type: "gauge",
    help: "Source store time (Unix seconds) of the last replicated message; absent before the first.",
    value: (q) => seconds(q.lastSourceStoreMs),
  },
  {
    name: "in_flight_messages",
    type: "gauge",
    help: "Messages pulled from the source and not yet acknowledged by the target.",
    value: (q) => q.inFlightMessages,
  },
  {
    name: "in_flight_bytes",
    type: "gauge",
    help: "Bytes (body plus a fixed 256 per message) pulled and not yet acknowledged.",
    value: (q) => q.inFlightBytes,
  },
  {
    name: "commits_total",
    type: "counter",
    help: "Commits of the queue's acknowledged position to the source cluster.",
    value: (q) => q.commits,
  },
  {
    name: "last_commit_age_seconds",
    type: "gauge",
    help: "Seconds since the queue's position was last committed; absent before the first commit.",
    value: (q, now) =>
      q.lastCommitAtMs === undefined ? undefined : Math.max(0, now - q.lastCommitAtMs) / 1000,
  },
  {
    name: "queue_running",
    type: "gauge",
    help: "1 when the queue's replicator is running, else 0 (failed, draining, stopped).",
    value: (q) => (q.state === "running" ? 1 : 0),
  },
];

function queueLabels(q: QueueStatus): Record<QueueLabelName, string> {
  return {
    route: q.route,
    source_cluster: q.sourceCluster,
    target_cluster: q.targetCluster,
    topic: q.sourceTopic,
    broker: q.sourceBroker,
    queue_id: String(q.queueId),
  };
}

/** The version in package.json, for rmq_connector_info; "unknown" when it cannot be read. */
function packageVersion(): string {
  try {
    // dist/src/observability/metrics.js -> package.json at the repository (or package) root.
    const text = readFileSync(new URL("../../../package.json", import.meta.url), "utf8");
    const parsed = JSON.parse(text) as { version?: unknown };
    return typeof parsed.version === "string" ? parsed.version : "unknown";
  } catch {
    return "unknown";
  }
}

/** Options of ConnectorMetrics. */
export interface ConnectorMetricsOptions {
  /** The connector's name (label of rmq_connector_info). Default: the engine status's name at scrape. */
  name?: string;
  /** Label of rmq_connector_info. Default: the version in package.json. */
  version?: string;
  /** Register prom-client's default process and Node.js metrics (prefixed). Default true. */
  processMetrics?: boolean;
}

/**
 * The connector's metrics. Create it before the engine, pass `events` to the engine's
 * constructor, then `bind(engine)`:
 *
 *     const metrics = new ConnectorMetrics();
 *     const engine = new ReplicationEngine(config, logger, metrics.events);
 *     metrics.bind(engine);
 *
 * Until bound, only process metrics and rmq_connector_info are exposed.
 */
export class ConnectorMetrics {
  /** The registry holding every metric of this instance. */
  readonly registry = new Registry();
  /** Hooks to pass to the ReplicationEngine constructor; cheap enough for the hot path. */
  readonly events: EngineEvents;
  #source: StatusSource | undefined;
  /** One status snapshot per scrape, shared by every collect() of that scrape. */
  #snapshot: EngineStatus | undefined;
  readonly #latency: PerMessageHistogram<RouteLabelName>;
  /** The latency series of each route, looked up once per route, not once per message. */
  readonly #latencyByRoute = new Map<string, HistogramSeries>();

  constructor(options: ConnectorMetricsOptions = {}) {
    const registers = [this.registry];
    if (options.processMetrics ?? true)
      collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });

    const version = options.version ?? packageVersion();
    const status = (): EngineStatus | undefined => this.#status();
    new Gauge<"name" | "version">({
      name: `${METRIC_PREFIX}info`,
      help: "Always 1; labels name the connector (its consumer group) and its version.",
      labelNames: ["name", "version"],
      registers,
      collect: function (this: Gauge<"name" | "version">) {
        this.reset();
        this.set({ name: options.name ?? status()?.name ?? "", version }, 1);
      },
    });

    for (const def of QUEUE_METRICS) this.#queueMetric(def);

    new Counter<QueueLabelName | "kind">({
      name: `${METRIC_PREFIX}errors_total`,
      help: "Failures by kind: pull, send, dead_letter, offset_moved, rejected, internal.",
      labelNames: [...QUEUE_LABELS, "kind"],
      registers,
      collect: function (this: Counter<QueueLabelName | "kind">) {
        this.reset();
        for (const q of status()?.queues ?? []) {
          const labels = queueLabels(q);
          for (const [kind, n] of Object.entries(q.errorsByKind)) this.inc({ ...labels, kind }, n);
        }
      },
    });

    new Gauge<RouteLabelName>({
      name: `${METRIC_PREFIX}route_up`,
      help: "1 when the route is resolved and running, else 0 (resolving, or error: see /readyz).",
      labelNames: [...ROUTE_LABELS],
      registers,
      collect: function (this: Gauge<RouteLabelName>) {
        this.reset();
        for (const r of status()?.routes ?? []) {
          this.set(
            { route: r.name, source_cluster: r.sourceCluster, target_cluster: r.targetCluster },
            r.state === "running" ? 1 : 0,
          );
        }
      },
    });

    this.#latency = new PerMessageHistogram<RouteLabelName>({
      name: `${METRIC_PREFIX}replication_latency_seconds`,
      help: "Per message: time the target acknowledged it minus its store time at the source.",
      labelNames: [...ROUTE_LABELS],
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers,
    });

    this.#probeMetrics(registers);

    this.events = {
      onReplicated: (queue, latenciesMs) => this.#observeLatencies(queue, latenciesMs),
    };
  }

  /** Reads status from `source` (the engine) from now on. */
  bind(source: StatusSource): void {
    this.#source = source;
  }

  /** MIME type of `text()`, for the Content-Type header. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric, from one status snapshot. */
  async text(): Promise<string> {
    this.#snapshot = this.#source?.status();
    try {
      return await this.registry.metrics();
    } finally {
      this.#snapshot = undefined;
    }
  }

  #status(): EngineStatus | undefined {
    return this.#snapshot ?? this.#source?.status();
  }

  #observeLatencies(queue: QueueLabels, latenciesMs: readonly number[]): void {
    let series = this.#latencyByRoute.get(queue.route);
    if (series === undefined) {
      series = this.#latency.series({
        route: queue.route,
        source_cluster: queue.sourceCluster,
        target_cluster: queue.targetCluster,
      });
      this.#latencyByRoute.set(queue.route, series);
    }
    // Source store time comes from the source broker's clock: skew can make it look negative.
    for (const ms of latenciesMs) series.observe(Math.max(0, ms) / 1000);
  }

  #queueMetric(def: QueueMetric): void {
    const status = (): EngineStatus | undefined => this.#status();
    const name = `${METRIC_PREFIX}${def.name}`;
    const labelNames = [...QUEUE_LABELS];
    /** Calls `apply` with each owned queue's labels and value, read at scrape time. */
    const eachQueue = (apply: (labels: Record<QueueLabelName, string>, value: number) => void): void => {
      const s = status();
      if (s === undefined) return;
      const now = Date.now();
      for (const q of s.queues) {
        const v = def.value(q, now);
        if (v !== undefined) apply(queueLabels(q), v);
      }
    };
    if (def.type === "counter") {
      new Counter<QueueLabelName>({
        name,
        help: def.help,
        labelNames,
        registers: [this.registry],
        // Counters carry the engine's own monotonic totals: reset, then add the absolute value,
        // so the exposition TYPE is counter and a queue that goes away stops being reported.
        collect: function (this: Counter<QueueLabelName>) {
          this.reset();
          eachQueue((labels, v) => this.inc(labels, v));
        },
      });
    } else {
      new Gauge<QueueLabelName>({
        name,
        help: def.help,
        labelNames,
        registers: [this.registry],
        collect: function (this: Gauge<QueueLabelName>) {
          this.reset();
          eachQueue((labels, v) => this.set(labels, v));
        },
      });
    }
  }

  /**
   * rmq_connector_probe_latency_seconds and rmq_connector_last_probe_age_seconds, per route, from
   * `status().probes` (routes with probes enabled; each series absent before the first probe).
   */
  #probeMetrics(registers: Registry[]): void {
    const status = (): EngineStatus | undefined => this.#status();
    const probes = (): readonly ProbeStatus[] => status()?.probes ?? [];
    const labels = (p: ProbeStatus): Record<RouteLabelName, string> => ({
      route: p.route,
      source_cluster: p.sourceCluster,
      target_cluster: p.targetCluster,
    });
    new Gauge<RouteLabelName>({
      name: `${METRIC_PREFIX}probe_latency_seconds`,
      help: "Latency of the route's newest acknowledged heartbeat probe (target ack minus source store time).",
      labelNames: [...ROUTE_LABELS],
      registers,
      collect: function (this: Gauge<RouteLabelName>) {
        this.reset();
        for (const p of probes())
          if (p.lastLatencyMs !== undefined) this.set(labels(p), Math.max(0, p.lastLatencyMs) / 1000);
      },
    });
    new Gauge<RouteLabelName>({
      name: `${METRIC_PREFIX}last_probe_age_seconds`,
      help: "Seconds since the target last acknowledged a heartbeat probe of the route; absent before the first.",
      labelNames: [...ROUTE_LABELS],
      registers,
      collect: function (this: Gauge<RouteLabelName>) {
        this.reset();
        const now = Date.now();
        for (const p of probes())
          if (p.lastAckedAtMs !== undefined) this.set(labels(p), Math.max(0, now - p.lastAckedAtMs) / 1000);
      },
    });
  }
}
