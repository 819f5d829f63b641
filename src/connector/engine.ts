/**
 * The replication engine: one RocketMQ client per configured cluster, routes resolved to source
 * topics and queues (and re-resolved periodically, so new topics of regex routes and new queues
 * are picked up, and queues that went away are released), periodic checkpoints, lag and status.
 *
 * What happens to a queue once the engine decided to replicate it (recover, run, save, drain,
 * release) is queue-ownership.ts; how progress is kept and what an unknown send outcome leads to
 * is the route's delivery mode (at-least-once.ts). By default the engine owns every queue its
 * routes resolve to; a scale-out layer will hand queues in and out through the same take/release.
 */
import type { Logger } from "../client/logger.js";
import { NameServerClient } from "../client/name-server.js";
import { RocketMQClient } from "../client/rocketmq-client.js";
import { accessDeniedReason } from "../client/access-denied.js";
import { clientOptions } from "../config/client-options.js";
import { compareQueues, queueKey, type MessageQueue } from "../client/types.js";
import { crc32 } from "../protocol/crc32.js";
import { RmqError } from "../protocol/errors.js";
import { atLeastOnceMode } from "./at-least-once.js";
import { ByteBudget } from "./byte-budget.js";
import { CheckpointStore } from "./checkpoint-store.js";
import { EXACTLY_ONCE_DEFAULTS, ExactlyOnceMode } from "./exactly-once.js";
import { mapQueue } from "./queue-mapping.js";
import { PeriodicTask } from "./periodic-task.js";
import type { QueueProgress, ReplicatorSettings } from "./queue-replicator.js";
import { QueueOwnership, assignmentKey, type DeliveryMode, type QueueAssignment } from "./queue-ownership.js";
import type { EngineConfig, EngineRoute } from "./engine-config.js";
import { Probes, type ProbeLabels, type ProbeStatus } from "./probes.js";
import { resolveSourceTopics, targetQueueNums } from "./route-resolver.js";

/** One source queue owned by the engine, with where it goes. */
export interface QueueStatus extends QueueProgress {
  route: string;
  sourceCluster: string;
  targetCluster: string;
  sourceTopic: string;
  sourceBroker: string;
  queueId: number;
  targetTopic: string;
  targetBroker: string;
  targetQueueId: number;
  committedOffset: bigint | undefined;
  /** Source max offset at the last lag refresh. */
  sourceMaxOffset: bigint | undefined;
  /** sourceMaxOffset - acknowledged position; undefined before the first refresh. */
  lagMessages: bigint | undefined;
  /**
   * Age (ms) of the oldest message not yet replicated; 0 when caught up. Exact while that message
   * is pulled but not acknowledged; before it is pulled, an upper bound (time since the last
   * replicated message was stored at the source).
   */
  lagMs: number;
  /** Commits of this queue's position to the source, and when the last one happened. */
  commits: number;
  lastCommitAtMs: number | undefined;
}

export interface RouteStatus {
  name: string;
  sourceCluster: string;
  targetCluster: string;
  /** "running" when resolved and every queue runs; "error" with lastError otherwise. */
  state: "resolving" | "running" | "error";
  sourceTopics: string[];
  lastError: { message: string; atMs: number } | undefined;
}

/** Labels of one owned source queue, as metrics use them: the part of its status that names it. */
export type QueueLabels = Pick<
  QueueStatus,
  "route" | "sourceCluster" | "targetCluster" | "sourceTopic" | "sourceBroker" | "queueId" | "targetTopic"
>;

/** Hooks for observers (metrics). Called synchronously on the hot path: keep them cheap. */
export interface EngineEvents {
  /** The target acknowledged messages of a queue: per-message latency in ms, body bytes. */
  onReplicated?(queue: QueueLabels, latenciesMs: readonly number[], bytes: number): void;
  /** The target acknowledged heartbeat probes of a route (src/connector/probes.ts): latency of each, ms. */
  onProbeAcknowledged?(probe: ProbeLabels, latenciesMs: readonly number[]): void;
}

export interface EngineStatus {
  name: string;
  startedAtMs: number;
  routes: RouteStatus[];
  queues: QueueStatus[];
  /** Heartbeat probes, one entry per route with probes enabled; probe pipelines are not in `queues`. */
  probes: ProbeStatus[];
}

interface RouteRuntime {
  route: EngineRoute;
  status: RouteStatus;
}

export class ReplicationEngine {
  readonly config: EngineConfig;
  readonly #logger: Logger;
  readonly #clients = new Map<string, RocketMQClient>();
  readonly #ownership: QueueOwnership;
  /**
   * Delivery modes: at-least-once by source cluster (its checkpoint is the source's consumer
   * offsets), exactly-once by source and target cluster (its checkpoint lives in the target).
   */
  readonly #modes = new Map<string, DeliveryMode>();
  /** Exactly-once checkpoint stores by target cluster. */
  readonly #stores = new Map<string, CheckpointStore>();
  /** Source max offsets at the last lag refresh, by assignment key. */
  readonly #sourceMaxOffsets = new Map<string, bigint>();
  readonly #routes: RouteRuntime[];
  readonly #budget: ByteBudget;
  readonly #settings: ReplicatorSettings;
  /** Which route replicates a source topic (cluster/topic): a topic is replicated by one route per connector. */
  readonly #topicOwners = new Map<string, string>();
  readonly #groupsEnsured = new Set<string>();
  /** Clusters whose group creation was refused (warned once). */
  readonly #groupsDenied = new Set<string>();
  /** Commits, route refreshes and lag refreshes; stop() waits for a run under way. */
  readonly #periodic: PeriodicTask[] = [];
  #resolving: Promise<void> | undefined;
  #stopped = false;
  readonly startedAtMs: number;

  readonly #events: EngineEvents;
  readonly #probes: Probes;

  constructor(config: EngineConfig, logger: Logger, events: EngineEvents = {}) {
    this.config = config;
    this.startedAtMs = config.startedAtMs ?? Date.now();
    this.#logger = logger;
    this.#events = events;
    this.#budget = new ByteBudget(config.limits.inFlightBytesTotal);
    this.#settings = {
      pullBatchSize: config.pull.batchSize,
      suspendTimeoutMs: config.pull.suspendTimeoutMs,
      pullLingerMs: config.pull.lingerMs ?? 0,
      sendBatchMaxMessages: config.send.batchMaxMessages,
      sendBatchMaxBytes: config.send.batchMaxBytes,
      sendTimeoutMs: config.send.timeoutMs,
      inFlightMessagesPerQueue: config.limits.inFlightMessagesPerQueue,
      inFlightBytesPerQueue: config.limits.inFlightBytesPerQueue,
      backoff: { initialMs: config.retry.initialBackoffMs, maxMs: config.retry.maxBackoffMs },
    };
    this.#ownership = new QueueOwnership({
      name: config.name,
      client: (cluster) => this.client(cluster),
      budget: this.#budget,
      settings: this.#settings,
      logger,
      mode: (route) => this.#mode(route),
      onAcknowledged: (a, latenciesMs, bytes) => this.#events.onReplicated?.(labelsOf(a), latenciesMs, bytes),
    });
    this.#probes = new Probes(config, {
      name: config.name,
      group: this.group,
      client: (cluster) => this.client(cluster),
      budget: this.#budget,
      settings: this.#settings,
      backoff: this.#settings.backoff,
      commitIntervalMs: config.commit.intervalMs,
      logger,
      onAcknowledged: (probe, latenciesMs) => this.#events.onProbeAcknowledged?.(probe, latenciesMs),
    });
    this.#routes = config.routes.map((route) => ({
      route,
      status: {
        name: route.name,
        sourceCluster: route.from.cluster,
        targetCluster: route.to.cluster,
        state: "resolving",
        sourceTopics: [],
        lastError: undefined,
      },
    }));
  }

  /** The consumer group holding progress on source clusters. */
  get group(): string {
    return this.config.name;
  }

  /** The client of a configured cluster (created on first use). */
  client(cluster: string): RocketMQClient {
    let client = this.#clients.get(cluster);
    if (!client) {
      const c = this.config.clusters[cluster];
      if (!c) throw new RmqError("RMQ_CONFIG", `unknown cluster ${cluster}`);
      client = new RocketMQClient(
        clientOptions(c, { logger: this.#logger, instanceName: `${this.config.name}-${process.pid}` }),
      );
      this.#clients.set(cluster, client);
    }
    return client;
  }

  /**
   * Resolves every route and starts replicating, then keeps topics, queues, commits and lag
   * fresh in the background. Route failures (a cluster down, a topic missing) do not throw:
   * they are logged, shown in status() and retried at the next refresh.
   */
  async start(): Promise<void> {
    await this.resolveRoutes();
    // Stopped while resolving: no timer may start after stop() cleared them.
    if (this.#stopped) return;
    // Probes set themselves up in the background: a cluster down must not delay the start.
    this.#probes.start();
    const onError = (err: unknown): void =>
      this.#logger.warn({ err: errorMessage(err) }, "background task failed");
    this.#periodic.push(
      new PeriodicTask(this.config.commit.intervalMs, () => this.#ownership.saveAll(), onError),
      new PeriodicTask(this.config.topicRefreshIntervalMs, () => this.resolveRoutes(), onError),
      new PeriodicTask(this.config.lagRefreshIntervalMs, () => this.refreshLag(), onError),
    );
  }

  /** Re-resolves every route (topics, queues, target topics) and starts queues not yet owned. */
  resolveRoutes(): Promise<void> {
    this.#resolving ??= (async () => {
      try {
        for (const runtime of this.#routes) {
          if (this.#stopped) return;
          await this.#resolveRoute(runtime);
        }
      } finally {
        this.#resolving = undefined;
      }
    })();
    return this.#resolving;
  }

  async #resolveRoute(runtime: RouteRuntime): Promise<void> {
    const { route, status } = runtime;
    try {
      const source = this.client(route.from.cluster);
      await this.#ensureGroup(route.from.cluster);
      const topics = await this.#sourceTopics(route);
      status.sourceTopics = topics;
      const deadLetterQueues =
        route.deadLetterTopic === undefined
          ? undefined
          : await this.#ensureTargetTopic(route, route.deadLetterTopic, 1);
      const resolved = new Set<string>();
      const assignments: QueueAssignment[] = [];
      for (const topic of topics) {
        const ownerKey = `${route.from.cluster}/${topic}`;
        const owner = this.#topicOwners.get(ownerKey);
        if (owner !== undefined && owner !== route.name) {
          throw new RmqError(
            "RMQ_ROUTE_CONFLICT",
            `topic ${topic} of cluster ${route.from.cluster} is already replicated by route ${owner}; ` +
              `one connector replicates a topic once (its progress is one consumer group) — use a second connector for fan-out`,
          );
        }
        this.#topicOwners.set(ownerKey, route.name);
        const sourceRoute = await source.admin.getTopicRoute(topic, { refresh: true });
        const sourceQueues = sourceRoute.readQueues();
        const targetTopic = route.to.targetTopic(topic);
        const targetQueues = await this.#ensureTargetTopic(route, targetTopic, sourceQueues.length);
        for (const queue of sourceQueues) {
          const key = assignmentKey(route, queue);
          resolved.add(key);
          if (this.#ownership.has(key)) continue;
          assignments.push({
            route,
            sourceQueue: queue,
            targetQueue: mapQueue(queue, sourceQueues, targetQueues),
            deadLetterQueue:
              deadLetterQueues && deadLetterQueueOf(route.from.cluster, queue, deadLetterQueues),
          });
        }
      }
      if (!this.#stopped) await this.#ownership.takeAll(assignments);
      // Queues the route no longer resolves to (a topic out of a regex's reach, fewer queues):
      // drained and released, their position saved.
      for (const owned of this.#ownership.queues()) {
        if (owned.assignment.route !== route || resolved.has(owned.key)) continue;
        this.#logger.info(
          { route: route.name, queue: queueKey(owned.assignment.sourceQueue) },
          "source queue no longer in the route; releasing it",
        );
        await this.revoke(owned.key);
      }
      status.state = "running";
      status.lastError = undefined;
    } catch (err) {
      status.state = "error";
      status.lastError = { message: errorMessage(err), atMs: Date.now() };
      this.#logger.error(
        { route: route.name, err: errorMessage(err) },
        "route cannot run; retrying at the next refresh",
      );
    }
  }

  #sourceTopics(route: EngineRoute): Promise<string[]> {
    return resolveSourceTopics(this.client(route.from.cluster).admin, route);
  }

  async #ensureGroup(cluster: string): Promise<void> {
    if (this.#groupsEnsured.has(cluster)) return;
    const admin = this.client(cluster).admin;
    try {
      // UPDATE_CONSUMER_OFFSET on 5.3+ needs the group to exist; create it on every master.
      await admin.createSubscriptionGroup({ group: this.group });
      // mqadmin consumerProgress and the Dashboard find a group's brokers through the route of
      // its retry topic, which a Java consumer's heartbeat would create; we pull without
      // heartbeats, so create it, or the connector's lag would not show there.
      await admin.createTopic({ topic: `%RETRY%${this.group}`, queueNums: 1 });
    } catch (err) {
      // A least-privileged access key may not create groups or topics, and need not: an operator
      // who secures a cluster creates the group with it. Go on; a missing group then shows as
      // the offset commit's own error.
      // Tried again at every refresh (a master further down the list may not have been asked,
      // and a grant may come later), said once per cluster.
      const denied = accessDeniedReason(err);
      if (denied === undefined) throw err;
      if (!this.#groupsDenied.has(cluster)) {
        this.#groupsDenied.add(cluster);
        this.#logger.warn(
          { cluster, group: this.group, err: denied },
          "cannot create the connector's consumer group and its retry topic (denied); going on as if they exist (create them with mqadmin updateSubGroup / updateTopic if they do not)",
        );
      }
      return;
    }
    this.#groupsEnsured.add(cluster);
  }

  async #ensureTargetTopic(
    route: EngineRoute,
    topic: string,
    sourceQueueCount: number,
  ): Promise<MessageQueue[]> {
    const target = this.client(route.to.cluster);
    try {
      return (await target.admin.getTopicRoute(topic)).writeQueues();
    } catch (err) {
      if (!NameServerClient.isTopicNotExist(err)) throw err;
      if (!route.to.createTopic) {
        throw new RmqError(
          "RMQ_TARGET_TOPIC_MISSING",
          `target topic ${topic} does not exist on cluster ${route.to.cluster} and the route says not to create it`,
          { cause: err },
        );
      }
    }
    const masters = await target.admin.masterAddresses();
    const queueNums = targetQueueNums(sourceQueueCount, masters.length);
    this.#logger.info({ cluster: route.to.cluster, topic, queueNums }, "creating target topic");
    await target.admin.createTopic({ topic, queueNums });
    return (await target.admin.getTopicRoute(topic, { refresh: true })).writeQueues();
  }

  /**
   * Takes ownership of a source queue: its delivery mode recovers where it starts (a queue never
   * saved starts at the route's start position, saved at once so a restart never skips what
   * arrived in between), then it runs.
   */
  async assign(assignment: QueueAssignment): Promise<void> {
    if (this.#stopped) return;
    await this.#ownership.take(assignment);
  }

  /** Stops replicating a source queue (by assignment key): drains in-flight sends, saves, forgets it. */
  async revoke(key: string, options: { drain?: boolean } = {}): Promise<void> {
    await this.#ownership.release(key, options);
    this.#sourceMaxOffsets.delete(key);
  }

  /** Saves the position of every queue that moved. */
  commitAll(): Promise<void> {
    return this.#ownership.saveAll();
  }

  get delivery(): "at-least-once" | "exactly-once" {
    return this.config.delivery ?? "at-least-once";
  }

  #mode(route: EngineRoute): DeliveryMode {
    const from = route.from.cluster;
    const to = route.to.cluster;
    const exactlyOnce = this.delivery === "exactly-once";
    const key = exactlyOnce ? `${from}->${to}` : from;
    let mode = this.#modes.get(key);
    if (mode === undefined) {
      mode = exactlyOnce
        ? new ExactlyOnceMode({
            source: this.client(from),
            target: this.client(to),
            sourceCluster: from,
            writer: this.config.name,
            store: this.#store(to),
            logger: this.#logger,
            settings: { ...EXACTLY_ONCE_DEFAULTS, ...this.config.exactlyOnce },
            startedAtMs: this.startedAtMs,
          })
        : atLeastOnceMode(this.client(from), this.group);
      this.#modes.set(key, mode);
    }
    return mode;
  }

  #store(targetCluster: string): CheckpointStore {
    let store = this.#stores.get(targetCluster);
    if (store === undefined) {
      store = new CheckpointStore({
        client: this.client(targetCluster),
        connectorName: this.config.name,
        logger: this.#logger,
      });
      this.#stores.set(targetCluster, store);
    }
    return store;
  }

  /** Refreshes the source max offsets, for lag in messages (also for idle queues). */
  async refreshLag(): Promise<void> {
    await Promise.all(
      this.#ownership.queues().map(async (o) => {
        try {
          const { route, sourceQueue } = o.assignment;
          this.#sourceMaxOffsets.set(
            o.key,
            await this.client(route.from.cluster).admin.getMaxOffset(sourceQueue),
          );
        } catch {
          // Lag stays at its last value; the pull loop reports the cluster's trouble.
        }
      }),
    );
  }

  /** A snapshot of routes and queues for status, metrics and tests. */
  status(): EngineStatus {
    const now = Date.now();
    const queues: QueueStatus[] = this.#ownership.queues().map((o) => {
      const { endpoints, progress } = o.replicator;
      const position = progress.ackedOffset;
      const sourceMaxOffset = this.#sourceMaxOffsets.get(o.key);
      const lagMessages = sourceMaxOffset === undefined ? undefined : maxBig(0n, sourceMaxOffset - position);
      return {
        ...progress,
        errorsByKind: { ...progress.errorsByKind },
        route: o.assignment.route.name,
        sourceCluster: endpoints.sourceCluster,
        targetCluster: endpoints.targetCluster,
        sourceTopic: endpoints.sourceQueue.topic,
        sourceBroker: endpoints.sourceQueue.brokerName,
        queueId: endpoints.sourceQueue.queueId,
        targetTopic: endpoints.targetQueue.topic,
        targetBroker: endpoints.targetQueue.brokerName,
        targetQueueId: endpoints.targetQueue.queueId,
        committedOffset: o.committedOffset,
        sourceMaxOffset,
        lagMessages,
        lagMs: lagAgeMs(progress, lagMessages, now),
        commits: o.commits,
        lastCommitAtMs: o.lastCommitAtMs,
      };
    });
    return {
      name: this.config.name,
      startedAtMs: this.startedAtMs,
      routes: this.#routes.map((r) => ({ ...r.status, sourceTopics: [...r.status.sourceTopics] })),
      queues,
      probes: this.#probes.status(),
    };
  }

  /**
   * Stops every queue (draining in-flight sends unless `drain: false`), commits, closes clients.
   */
  async stop(options: { drain?: boolean; drainTimeoutMs?: number } = {}): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    // No periodic run starts from here on; one under way (a commit the broker is slow to answer)
    // is waited for below: it would otherwise run on after stop() returned, fail on the clients
    // closed at the end, and log that as a failure.
    const periodic = this.#periodic.map((t) => t.stop());
    await this.#resolving?.catch(() => undefined);
    await Promise.all([this.#ownership.stop(options), this.#probes.stop(options), ...periodic]);
    for (const c of this.#clients.values()) c.close();
  }
}

function labelsOf({ route, sourceQueue, targetQueue }: QueueAssignment): QueueLabels {
  return {
    route: route.name,
    sourceCluster: route.from.cluster,
    targetCluster: route.to.cluster,
    sourceTopic: sourceQueue.topic,
    sourceBroker: sourceQueue.brokerName,
    queueId: sourceQueue.queueId,
    targetTopic: targetQueue.topic,
  };
}

/**
 * The dead-letter queue of a source queue: fixed (a hash of the source queue's identity), so
 * exactly-once recovery knows the one queue a dead letter of it may have landed in.
 */
function deadLetterQueueOf(
  cluster: string,
  queue: MessageQueue,
  queues: readonly MessageQueue[],
): MessageQueue {
  const sorted = [...queues].sort(compareQueues);
  if (sorted.length === 0) throw new RmqError("RMQ_NO_QUEUE", "the dead-letter topic has no writable queue");
  return sorted[crc32(Buffer.from(`${cluster}|${queueKey(queue)}`)) % sorted.length] as MessageQueue;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function lagAgeMs(progress: QueueProgress, lagMessages: bigint | undefined, now: number): number {
  if (progress.oldestPendingStoreMs !== undefined) return Math.max(0, now - progress.oldestPendingStoreMs);
  if (lagMessages === undefined || lagMessages === 0n) return 0;
  return progress.lastSourceStoreMs === undefined ? 0 : Math.max(0, now - progress.lastSourceStoreMs);
}
