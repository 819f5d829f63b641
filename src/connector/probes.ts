/**
 * Heartbeat probes (issue 4, section 2): per route, a small message written into the source
 * cluster every `intervalMs`, replicated along the same path as the route's data (pull from the
 * source, a QueueReplicator, send to the target) and acknowledged by the target, so every route
 * has a measured latency and a "last probe" time even when no user message flows.
 *
 * - Probes live in the connector-owned topic PROBE_TOPIC (one queue per master, created when
 *   missing on both clusters). Its prefix is excluded from regex routes (system-topics.ts), so
 *   user routes never pick it up, and probes are sent into the same topic on the target cluster,
 *   never into a user topic.
 * - Every route has its own tag (a hash of connector and route name) and its probe pipeline pulls
 *   with that tag: routes that share clusters, and connectors that share clusters, each measure
 *   their own probes. A probe that arrived on the target is not read again by a route going back
 *   (different tag), and even if it were, its RMQC_PATH names the cluster it came from, so the
 *   loop rule (message-mapping.ts) would skip it.
 * - Probe pipelines are not user queues: they are not in EngineStatus.queues nor in replicated
 *   totals; their figures are in EngineStatus.probes (ProbeStatus below).
 * - Failures (a cluster down, the topic cannot be created) never throw: they are recorded as
 *   lastError and retried with backoff, and lastAckedAtMs stops moving, which is what the
 *   "last probe age" alert watches.
 */
import { createHash } from "node:crypto";
import type { Logger } from "../client/logger.js";
import type { Producer } from "../client/producer.js";
import { NameServerClient } from "../client/name-server.js";
import type { RocketMQClient } from "../client/rocketmq-client.js";
import { compareQueues, queueKey, type MessageQueue } from "../client/types.js";
import { RmqError } from "../protocol/errors.js";
import { backoffDelay, type BackoffOptions } from "./backoff.js";
import type { EngineConfig, EngineRoute } from "./engine-config.js";
import { PeriodicTask } from "./periodic-task.js";
import { atLeastOnce } from "./delivery.js";
import { createPipeline, type PipelineHost } from "./pipeline.js";
import type { QueueReplicator } from "./queue-replicator.js";

/** The connector-owned topic probes are written to (source) and replicated into (target). */
export const PROBE_TOPIC = "rocketmq-connector-probe";

/** Properties on a probe, for people reading the probe topic (mqadmin queryMsgByKey etc.). */
export const ProbeProperty = {
  /** The route's name, URI-encoded. */
  ROUTE: "RMQC_PROBE_ROUTE",
  /** The connector's name. */
  CONNECTOR: "RMQC_PROBE_CONNECTOR",
} as const;

/**
 * The tag of a route's probes: stable across restarts and processes (so a restarted connector
 * reads its own backlog), distinct per connector and route, and a valid single tag (hex only).
 */
export function probeTag(connector: string, route: string): string {
  const hash = createHash("sha256").update(`${connector}\n${route}`).digest("hex").slice(0, 16);
  return `rmqc-probe-${hash}`;
}

/** A route's probe settings after the route's override is applied; absent config = off. */
export function effectiveProbeSettings(
  config: Pick<EngineConfig, "probes">,
  route: Pick<EngineRoute, "probes">,
): { enabled: boolean; intervalMs: number } {
  return {
    enabled: route.probes?.enabled ?? config.probes?.enabled ?? false,
    intervalMs: route.probes?.intervalMs ?? config.probes?.intervalMs ?? 1000,
  };
}

/** One route's probes, as EngineStatus.probes lists them (only routes with probes enabled). */
export interface ProbeStatus {
  route: string;
  sourceCluster: string;
  targetCluster: string;
  /** The probes' tag on PROBE_TOPIC (see probeTag). */
  tag: string;
  intervalMs: number;
  /** "starting" until the topics exist and the pipeline runs; "error" while that fails. */
  state: "starting" | "running" | "error";
  /** Probes written into the source cluster. */
  sentTotal: number;
  /** Probes the target cluster acknowledged (after travelling the route's path). */
  ackedTotal: number;
  /** When the source last stored a probe (ms). */
  lastSentAtMs: number | undefined;
  /** When the target last acknowledged a probe (ms): "last probe age" is now minus this. */
  lastAckedAtMs: number | undefined;
  /** Target acknowledgement time minus source store time of the newest acknowledged probe (ms). */
  lastLatencyMs: number | undefined;
  /** The latest failure of writing, pulling or sending probes; kept (with its time) after recovery. */
  lastError: { kind: string; message: string; atMs: number } | undefined;
}

/** Labels of a route's probes, for observers. */
export interface ProbeLabels {
  route: string;
  sourceCluster: string;
  targetCluster: string;
}

/** What the probes need from the engine. */
export interface ProbeHost extends PipelineHost {
  /** The consumer group holding probe progress (the connector's name, as for data queues). */
  group: string;
  backoff: BackoffOptions;
  commitIntervalMs: number;
  logger: Logger;
  /** The target acknowledged probes of a route: each one's latency in ms. Must not throw. */
  onAcknowledged?: ((probe: ProbeLabels, latenciesMs: readonly number[]) => void) | undefined;
}

/** The probes of every route with probes enabled. */
export class Probes {
  readonly #host: ProbeHost;
  readonly #routes: RouteProbe[];
  /** Last offset committed per shared source probe queue (cluster|queueKey). */
  readonly #committed = new Map<string, bigint>();
  #committer: PeriodicTask | undefined;

  constructor(config: EngineConfig, host: ProbeHost) {
    this.#host = host;
    this.#routes = config.routes
      .map((route) => ({ route, settings: effectiveProbeSettings(config, route) }))
      .filter(({ settings }) => settings.enabled)
      .map(({ route, settings }) => new RouteProbe(route, settings.intervalMs, host, this.#committed));
  }

  /** Starts every route's probe timer (setup happens on the first tick, in the background). */
  start(): void {
    for (const r of this.#routes) r.start();
    if (this.#routes.length === 0) return;
    // commitAll logs its own failures.
    this.#committer = new PeriodicTask(
      this.#host.commitIntervalMs,
      () => this.commitAll(),
      () => undefined,
    );
  }

  /**
   * Commits probe progress into the connector's group. Routes with the same source cluster share
   * the probe queue and so one committed offset: the furthest of them is committed. A restart
   * then may drop a probe a slower route had not sent yet, never re-send old ones (which would
   * report a stale latency for a healthy route); a newer probe follows within one interval.
   */
  async commitAll(): Promise<void> {
    const furthest = new Map<string, { probe: RouteProbe; offset: bigint }>();
    for (const r of this.#routes) {
      const at = r.position();
      if (at === undefined) continue;
      const current = furthest.get(at.key);
      if (current === undefined || at.offset > current.offset)
        furthest.set(at.key, { probe: r, offset: at.offset });
    }
    await Promise.all(
      [...furthest].map(async ([key, { probe, offset }]) => {
        const committed = this.#committed.get(key);
        if (committed !== undefined && offset <= committed) return;
        try {
          await probe.commit(offset);
          this.#committed.set(key, offset);
        } catch (err) {
          this.#host.logger.debug({ route: probe.route.name, err: errorMessage(err) }, "probe commit failed");
        }
      }),
    );
  }

  status(): ProbeStatus[] {
    return this.#routes.map((r) => r.status());
  }

  /** Stops writing probes, lets the pipelines send what they hold, commits. */
  async stop(options: { drain?: boolean; drainTimeoutMs?: number } = {}): Promise<void> {
    await Promise.all([this.#committer?.stop(), ...this.#routes.map((r) => r.stop(options))]);
    if (options.drain ?? true) await this.commitAll();
  }
}

/** Where a route's probes go, once set up. */
interface Pipeline {
  sourceQueue: MessageQueue;
  /** Writes probes into the source cluster. */
  writer: Producer;
  replicator: QueueReplicator;
}

/** One route's probe writer and probe pipeline. */
class RouteProbe {
  readonly route: EngineRoute;
  readonly #intervalMs: number;
  readonly #host: ProbeHost;
  readonly #committed: Map<string, bigint>;
  readonly #tag: string;
  readonly #labels: ProbeLabels;
  #pipeline: Pipeline | undefined;
  #ticker: PeriodicTask | undefined;
  #stopped = false;
  /** Failed attempts in a row (setup or write), for the backoff; the next try waits until #retryAtMs. */
  #attempt = 0;
  #retryAtMs = 0;
  #state: ProbeStatus["state"] = "starting";
  #sentTotal = 0;
  #ackedTotal = 0;
  #lastSentAtMs: number | undefined;
  #lastAckedAtMs: number | undefined;
  #lastLatencyMs: number | undefined;
  #lastError: ProbeStatus["lastError"];
  /** The previous write failed: log the next success (and not every failure at warn). */
  #failing = false;

  constructor(route: EngineRoute, intervalMs: number, host: ProbeHost, committed: Map<string, bigint>) {
    this.route = route;
    this.#intervalMs = intervalMs;
    this.#host = host;
    this.#committed = committed;
    this.#tag = probeTag(host.name, route.name);
    this.#labels = { route: route.name, sourceCluster: route.from.cluster, targetCluster: route.to.cluster };
  }

  start(): void {
    // #tick records its own failures.
    this.#ticker = new PeriodicTask(
      this.#intervalMs,
      () => this.#tick(),
      () => undefined,
      { now: true },
    );
  }

  async #tick(): Promise<void> {
    if (Date.now() < this.#retryAtMs) return;
    try {
      if (this.#pipeline?.replicator.progress.state === "failed") await this.#restartPipeline();
      if (this.#pipeline === undefined) {
        this.#pipeline = await this.#setup();
        this.#state = "running";
      }
      if (this.#stopped) return;
      await this.#write(this.#pipeline);
      this.#attempt = 0;
    } catch (err) {
      if (this.#stopped) return;
      const kind = this.#pipeline === undefined ? "probe_setup" : "probe_write";
      if (this.#pipeline === undefined) this.#state = "error";
      this.#lastError = { kind, message: errorMessage(err), atMs: Date.now() };
      // Quiet: a cluster that is down fails every interval; say it once at warn, then at debug.
      const fields = { route: this.route.name, kind, err: errorMessage(err) };
      if (this.#failing) this.#host.logger.debug(fields, "probe failed");
      else this.#host.logger.warn(fields, "probe failed; retrying with backoff");
      this.#failing = true;
      this.#retryAtMs = Date.now() + backoffDelay(this.#attempt++, this.#host.backoff);
    }
  }

  /** Writes one probe into the source probe queue. */
  async #write({ writer, sourceQueue }: Pipeline): Promise<void> {
    const now = Date.now();
    await writer.send(
      {
        topic: PROBE_TOPIC,
        body: Buffer.from(
          JSON.stringify({ connector: this.#host.name, route: this.route.name, sentAtMs: now }),
        ),
        tags: this.#tag,
        properties: {
          [ProbeProperty.ROUTE]: encodeURIComponent(this.route.name),
          [ProbeProperty.CONNECTOR]: this.#host.name,
        },
      },
      { queue: sourceQueue },
    );
    this.#sentTotal++;
    this.#lastSentAtMs = Date.now();
    if (this.#failing) this.#host.logger.info({ route: this.route.name }, "probes are written again");
    this.#failing = false;
  }

  /**
   * Creates the probe topic where missing (source and target), the group on the source, finds
   * where to start (the committed offset, else the queue's end, committed at once like any
   * queue), and starts the pipeline.
   */
  async #setup(): Promise<Pipeline> {
    const { group } = this.#host;
    const source = this.#host.client(this.route.from.cluster);
    const target = this.#host.client(this.route.to.cluster);
    const sourceQueue = await this.#unlessStopped(
      ensureProbeQueue(source, this.route.from.cluster, this.#host.logger),
    );
    const targetQueue = await this.#unlessStopped(
      ensureProbeQueue(target, this.route.to.cluster, this.#host.logger),
    );
    // UPDATE_CONSUMER_OFFSET on 5.3+ needs the group; idempotent, and the route may not have run yet.
    await this.#unlessStopped(source.admin.createSubscriptionGroup({ group }));
    let start = await this.#unlessStopped(source.admin.queryConsumerOffset(group, sourceQueue));
    if (start === 0n && !(await this.#unlessStopped(source.admin.hasConsumerOffset(group, sourceQueue))))
      start = undefined;
    if (start === undefined) {
      // Old probes (of an earlier connector with this name) are of no interest: start at the end.
      start = await this.#unlessStopped(source.admin.getMaxOffset(sourceQueue));
      await this.#unlessStopped(source.admin.updateConsumerOffset(group, sourceQueue, start));
      const key = sharedKey(this.route.from.cluster, sourceQueue);
      const committed = this.#committed.get(key);
      if (committed === undefined || start > committed) this.#committed.set(key, start);
    }
    // Probes are at-least-once whatever the route's delivery: a probe sent twice reports one
    // latency twice, and recovering a probe queue from the target would only slow the start.
    const replicator = createPipeline(this.#host, {
      endpoints: {
        sourceCluster: this.route.from.cluster,
        targetCluster: this.route.to.cluster,
        sourceQueue,
        targetQueue,
        tags: this.#tag,
      },
      start: { offset: start },
      policy: atLeastOnce,
      onAcknowledged: (latenciesMs) => this.#acknowledged(latenciesMs),
    });
    if (this.#stopped) throw stoppedError();
    replicator.start();
    this.#host.logger.info(
      {
        route: this.route.name,
        tag: this.#tag,
        source: queueKey(sourceQueue),
        target: queueKey(targetQueue),
        nextOffset: String(start),
      },
      "probes started",
    );
    const writer = source.producer({
      group: `${group}_producer`,
      sendTimeoutMs: this.#host.settings.sendTimeoutMs,
    });
    return { sourceQueue, writer, replicator };
  }

  /** The value of a setup step, unless the probes were stopped meanwhile: setup gives up between steps. */
  async #unlessStopped<T>(step: Promise<T>): Promise<T> {
    const value = await step;
    if (this.#stopped) throw stoppedError();
    return value;
  }

  /** A pipeline stopped for good (the target refused a probe): start over from its commit, with backoff. */
  async #restartPipeline(): Promise<void> {
    const pipeline = this.#pipeline;
    if (pipeline === undefined) return;
    this.#pipeline = undefined;
    await pipeline.replicator.stop({ drain: false });
    throw new RmqError(
      "RMQ_PROBE_PIPELINE_FAILED",
      `probe pipeline stopped: ${pipeline.replicator.progress.lastError?.message ?? "unknown error"}`,
    );
  }

  #acknowledged(latenciesMs: readonly number[]): void {
    this.#ackedTotal += latenciesMs.length;
    this.#lastAckedAtMs = Date.now();
    // The newest probe of the batch tells how the link is now; older ones waited in a backlog.
    this.#lastLatencyMs = latenciesMs[latenciesMs.length - 1];
    this.#host.onAcknowledged?.(this.#labels, latenciesMs);
  }

  /** The acknowledged position of the pipeline, keyed by the (shared) source queue. */
  position(): { key: string; offset: bigint } | undefined {
    const p = this.#pipeline;
    if (p === undefined) return undefined;
    return {
      key: sharedKey(this.route.from.cluster, p.sourceQueue),
      offset: p.replicator.progress.ackedOffset,
    };
  }

  async commit(offset: bigint): Promise<void> {
    const p = this.#pipeline;
    if (p === undefined) return;
    await this.#host
      .client(this.route.from.cluster)
      .admin.updateConsumerOffset(this.#host.group, p.sourceQueue, offset);
  }

  status(): ProbeStatus {
    // The pipeline's own errors (pull, send) are as much the probes' as the writer's: show the latest.
    const pipelineError = this.#pipeline?.replicator.progress.lastError;
    const lastError =
      pipelineError !== undefined &&
      (this.#lastError === undefined || pipelineError.atMs > this.#lastError.atMs)
        ? { ...pipelineError }
        : this.#lastError && { ...this.#lastError };
    return {
      ...this.#labels,
      tag: this.#tag,
      intervalMs: this.#intervalMs,
      state: this.#state,
      sentTotal: this.#sentTotal,
      ackedTotal: this.#ackedTotal,
      lastSentAtMs: this.#lastSentAtMs,
      lastAckedAtMs: this.#lastAckedAtMs,
      lastLatencyMs: this.#lastLatencyMs,
      lastError,
    };
  }

  async stop(options: { drain?: boolean; drainTimeoutMs?: number }): Promise<void> {
    this.#stopped = true;
    // A write in flight may land on the broker: let it finish and be counted before the engine
    // closes the clients under it. (It is replicated after a restart: the pipeline stops pulling.)
    // A setup under way gives up at its next step (#unlessStopped).
    await this.#ticker?.stop();
    await this.#pipeline?.replicator.stop(options);
  }
}

/**
 * The queue probes use on a cluster: the first (as Java sorts MessageQueue) writable queue of
 * PROBE_TOPIC, which is created (one queue per master) when missing. Deterministic, so the writer,
 * the pipeline and a restarted connector agree.
 */
async function ensureProbeQueue(
  client: RocketMQClient,
  cluster: string,
  logger: Logger,
): Promise<MessageQueue> {
  let queues: MessageQueue[];
  try {
    queues = (await client.admin.getTopicRoute(PROBE_TOPIC, { refresh: true })).writeQueues();
  } catch (err) {
    if (!NameServerClient.isTopicNotExist(err)) throw err;
    logger.info({ cluster, topic: PROBE_TOPIC }, "creating the probe topic");
    await client.admin.createTopic({ topic: PROBE_TOPIC, queueNums: 1 });
    queues = (await client.admin.getTopicRoute(PROBE_TOPIC, { refresh: true })).writeQueues();
  }
  const first = [...queues].sort(compareQueues)[0];
  if (first === undefined) {
    throw new RmqError(
      "RMQ_NO_QUEUE",
      `probe topic ${PROBE_TOPIC} of cluster ${cluster} has no writable queue`,
    );
  }
  return first;
}

function stoppedError(): RmqError {
  return new RmqError("RMQ_STOPPED", "probes stopped");
}

function sharedKey(cluster: string, queue: MessageQueue): string {
  return `${cluster}|${queueKey(queue)}`;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
