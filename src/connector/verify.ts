/**
 * `verify`: compares source and target message by message through provenance and reports, per
 * source queue, messages missing, duplicated, out of order and altered (issue 10 §3). Read-only:
 * pulls commit no offset, nothing is written.
 *
 * Per route: (1) fix each source queue's upper bound (the connector group's committed offset, or
 * the max offset) BEFORE reading the target, so that on a live connector everything below the
 * bound is already in the target (an offset is committed only after the target acknowledged it);
 * (2) read every read queue of every target topic and of the dead-letter topic to its max offset,
 * recording each copy of ours in the source queue's SourceQueueBook; (3) walk each source queue's
 * range and ask its book what became of each message. Memory: one pull batch of bodies at a time
 * plus a few bytes per replicated offset (verify-book.ts).
 */
import { NameServerClient } from "../client/name-server.js";
import type { Logger } from "../client/logger.js";
import { findOffsetByStoreTime } from "../client/offset-search.js";
import type { PullConsumer } from "../client/pull-consumer.js";
import { RocketMQClient } from "../client/rocketmq-client.js";
import type { MessageQueue } from "../client/types.js";
import { clientOptions } from "../config/client-options.js";
import { RmqError } from "../protocol/errors.js";
import type { MessageExt } from "../protocol/message.js";
import { parseTagExpression, tagMatches } from "../protocol/tag-hash.js";
import type { EngineConfig, EngineRoute } from "./engine-config.js";
import { mapMessage, Provenance, pulledFrom, wouldLoop, type PulledFrom } from "./message-mapping.js";
import { PROBE_TOPIC } from "./probes.js";
import { resolveSourceTopics } from "./route-resolver.js";
import { firstSkippedOffset } from "./pull-gaps.js";
import { waitForDispatch } from "./target-fence.js";
import { EXAMPLES_KEPT, SourceQueueBook } from "./verify-book.js";
import { digestMapped, digestStored } from "./verify-digest.js";

/** How long verify reads an offset the broker skips again before it gives up on the queue. */
const SKIP_PATIENCE_MS = 30_000;

/**
 * Where a source queue's range starts: the source's min offset, the lowest offset of the queue
 * found in the target (default; a queue with none has an empty range), or the first offset
 * stored at or after a time (epoch ms).
 */
export type VerifyFrom =
  { kind: "earliest" } | { kind: "first" } | { kind: "timestamp"; timestampMs: number };

/** Where a range ends (exclusive): the connector group's committed offset, or the max offset at start. */
export type VerifyUntil = "committed" | "max";

export interface VerifyOptions {
  /** Verify only the route of this name (RMQ_VERIFY_ROUTE when there is none). Default: all. */
  route?: string | undefined;
  /** Default { kind: "first" }. */
  from?: VerifyFrom | undefined;
  /** Default "committed". */
  until?: VerifyUntil | undefined;
  logger: Logger;
  signal?: AbortSignal | undefined;
}

/** Problem offsets of one kind: the lowest EXAMPLES_KEPT of each. */
export interface VerifyExamples {
  missing: bigint[];
  duplicated: bigint[];
  outOfOrder: bigint[];
  altered: bigint[];
}

/** What verify counts, per source queue and in total. Counts are messages (source offsets). */
export interface VerifyCounts {
  /** Source messages read in [fromOffset, untilOffset), filtered and loop-skipped ones included. */
  checked: number;
  /** In range, meant to be replicated, found neither in the target topic nor the dead-letter topic. */
  missing: number;
  /** Source offsets found more than once across target topic and dead-letter topic (any range). */
  duplicated: number;
  /** Found in a target queue after a higher source offset of the same queue, and not a duplicate. */
  outOfOrder: number;
  /** In the target, but its body, flag or properties differ from what mapping the source gives. */
  altered: number;
  /** Not matching the route's tag expression: not meant to be replicated. */
  filtered: number;
  /** Would have closed a replication loop: not meant to be replicated. */
  loopSkipped: number;
  /** Found only in the route's dead-letter topic. */
  deadLettered: number;
}

const COUNT_NAMES = [
  "checked",
  "missing",
  "duplicated",
  "outOfOrder",
  "altered",
  "filtered",
  "loopSkipped",
  "deadLettered",
] as const satisfies readonly (keyof VerifyCounts)[];

/** The result for one source queue. */
export interface QueueVerifyReport extends VerifyCounts {
  route: string;
  sourceCluster: string;
  sourceTopic: string;
  sourceBroker: string;
  queueId: number;
  /** First source offset checked. */
  fromOffset: bigint;
  /** Source offset the check stopped before (exclusive). */
  untilOffset: bigint;
  examples: VerifyExamples;
}

export interface VerifyTotals extends VerifyCounts {
  routes: number;
  sourceQueues: number;
  /** Target messages written by another connector (RMQC_WRITER not ours) or by no connector. */
  otherWriters: number;
  /** Our target messages naming a source queue the route does not select (now), or unreadable provenance. */
  unknownSource: number;
  /** Target messages read. */
  targetMessages: number;
}

export interface VerifyReport {
  queues: QueueVerifyReport[];
  totals: VerifyTotals;
  /** No missing, duplicated, out-of-order or altered message. */
  clean: boolean;
}

/** One source queue being verified. */
interface QueueState {
  route: EngineRoute;
  queue: MessageQueue;
  targetTopic: string;
  from: PulledFrom;
  /** Exclusive bound fixed before the target was read; undefined: the group has no offset. */
  bound: bigint | undefined;
  book: SourceQueueBook;
}

/**
 * Verifies the routes of `config` (or the one named by options.route). Throws RmqError
 * RMQ_VERIFY_ROUTE for an unknown route name, RMQ_SOURCE_TOPIC_MISSING as the engine does, and
 * what the client throws when a cluster cannot be read (the check could not run).
 */
export async function verifyRoutes(config: EngineConfig, options: VerifyOptions): Promise<VerifyReport> {
  const routes =
    options.route === undefined ? config.routes : config.routes.filter((r) => r.name === options.route);
  if (routes.length === 0) {
    const names = config.routes.map((r) => r.name).join(", ");
    throw new RmqError(
      "RMQ_VERIFY_ROUTE",
      options.route === undefined
        ? "the config has no route to verify"
        : `no route named "${options.route}" in the config (routes: ${names})`,
    );
  }
  const clients = new Map<string, RocketMQClient>();
  const client = (name: string): RocketMQClient => {
    let c = clients.get(name);
    if (c === undefined) {
      const cluster = config.clusters[name];
      if (cluster === undefined) throw new RmqError("RMQ_CONFIG", `unknown cluster ${name}`);
      c = new RocketMQClient(
        clientOptions(cluster, {
          logger: options.logger,
          instanceName: `${config.name}-verify-${process.pid}`,
        }),
      );
      clients.set(name, c);
    }
    return c;
  };
  const totals: VerifyTotals = {
    routes: routes.length,
    sourceQueues: 0,
    otherWriters: 0,
    unknownSource: 0,
    targetMessages: 0,
    ...zeroCounts(),
  };
  const queues: QueueVerifyReport[] = [];
  try {
    for (const route of routes) {
      const run = new RouteVerification(config, route, client(route.from.cluster), client(route.to.cluster), {
        from: options.from ?? { kind: "first" },
        until: options.until ?? "committed",
        logger: options.logger,
        signal: options.signal,
      });
      queues.push(...(await run.verify(totals)));
    }
  } finally {
    for (const c of clients.values()) c.close();
  }
  for (const q of queues) {
    totals.sourceQueues++;
    for (const name of COUNT_NAMES) totals[name] += q[name];
  }
  const clean = totals.missing + totals.duplicated + totals.outOfOrder + totals.altered === 0;
  return { queues, totals, clean };
}

function zeroCounts(): VerifyCounts {
  return {
    checked: 0,
    missing: 0,
    duplicated: 0,
    outOfOrder: 0,
    altered: 0,
    filtered: 0,
    loopSkipped: 0,
    deadLettered: 0,
  };
}

/** The check of one route (see the file comment for its three steps). */
class RouteVerification {
  readonly #source: PullConsumer;
  readonly #target: PullConsumer;
  readonly #call: { signal?: AbortSignal };
  readonly #batch: number;

  constructor(
    readonly config: EngineConfig,
    readonly route: EngineRoute,
    readonly sourceClient: RocketMQClient,
    readonly targetClient: RocketMQClient,
    readonly options: {
      from: VerifyFrom;
      until: VerifyUntil;
      logger: Logger;
      signal: AbortSignal | undefined;
    },
  ) {
    // The connector's own group: it exists on the source (the engine created it), and pulls
    // without FLAG_COMMIT_OFFSET leave its offsets alone.
    this.#source = sourceClient.pullConsumer({ group: config.name });
    this.#target = targetClient.pullConsumer({ group: config.name });
    this.#call = options.signal === undefined ? {} : { signal: options.signal };
    this.#batch = Math.max(1, config.pull.batchSize);
  }

  async verify(totals: VerifyTotals): Promise<QueueVerifyReport[]> {
    const states = await this.#sourceQueues();
    const byPrefix = new Map(states.map((s) => [s.from.positionPrefix, s]));
    const targetTopics = [...new Set(states.map((s) => s.targetTopic))].sort();
    for (const topic of targetTopics) await this.#scanTarget(topic, false, byPrefix, totals);
    if (this.route.deadLetterTopic !== undefined)
      await this.#scanTarget(this.route.deadLetterTopic, true, byPrefix, totals);
    const out: QueueVerifyReport[] = [];
    for (const state of states) out.push(await this.#checkSource(state));
    return out;
  }

  /** Every source queue of the route, with its upper bound fixed now (step 1). */
  async #sourceQueues(): Promise<QueueState[]> {
    const admin = this.sourceClient.admin;
    const topics = (await resolveSourceTopics(admin, this.route)).filter((t) => t !== PROBE_TOPIC);
    const states: QueueState[] = [];
    for (const topic of topics) {
      const queues = (await admin.getTopicRoute(topic, { refresh: true, ...this.#call })).readQueues();
      for (const queue of queues) {
        const bound =
          this.options.until === "max"
            ? await admin.getMaxOffset(queue, this.#call)
            : await admin.queryConsumerOffset(this.config.name, queue, this.#call);
        states.push({
          route: this.route,
          queue,
          targetTopic: this.route.to.targetTopic(topic),
          from: pulledFrom(this.route.from.cluster, queue, this.config.name),
          bound,
          book: new SourceQueueBook(),
        });
      }
    }
    return states;
  }

  /** Reads every read queue of `topic` on the target up to its max offset now (step 2). */
  async #scanTarget(
    topic: string,
    deadLetters: boolean,
    byPrefix: ReadonlyMap<string, QueueState>,
    totals: VerifyTotals,
  ): Promise<void> {
    let queues: MessageQueue[];
    try {
      queues = (
        await this.targetClient.admin.getTopicRoute(topic, { refresh: true, ...this.#call })
      ).readQueues();
    } catch (err) {
      // Not created yet (nothing replicated, or no message ever dead-lettered): nothing to read.
      if (NameServerClient.isTopicNotExist(err)) return;
      throw err;
    }
    // A max offset counts dispatched messages only: wait until each broker's consume queues hold
    // everything it stored (and so everything acknowledged before the bounds were fixed).
    for (const broker of new Set(queues.map((q) => q.brokerName))) {
      await waitForDispatch(this.targetClient.admin, broker, { signal: this.options.signal });
    }
    for (const queue of queues) {
      const token = `${queue.brokerName}#${queue.queueId}@${topic}`;
      await this.#readRange(this.#target, this.targetClient, queue, undefined, undefined, (m) => {
        totals.targetMessages++;
        if (m.properties[Provenance.WRITER] !== this.config.name) {
          totals.otherWriters++;
          return;
        }
        const source = m.properties[Provenance.SOURCE] ?? "";
        const cut = source.lastIndexOf("/") + 1;
        const state = byPrefix.get(source.slice(0, cut));
        const digits = source.slice(cut);
        if (state === undefined || !/^\d+$/.test(digits)) {
          totals.unknownSource++;
          return;
        }
        const offset = BigInt(digits);
        if (deadLetters) state.book.recordDeadLetter(offset);
        else state.book.recordTarget(offset, digestStored(m), token);
      });
    }
  }

  /** Walks the source queue's range and asks its book about each message (step 3). */
  async #checkSource(state: QueueState): Promise<QueueVerifyReport> {
    const { queue, book } = state;
    const admin = this.sourceClient.admin;
    const minOffset = await admin.getMinOffset(queue, this.#call);
    const until = state.bound ?? minOffset;
    const from = this.options.from;
    let fromOffset =
      from.kind === "earliest"
        ? minOffset
        : from.kind === "first"
          ? (book.lowestSeen ?? until)
          : await findOffsetByStoreTime(admin, this.#source, queue, from.timestampMs, this.#call);
    // Below the min offset the source holds nothing to compare (retention deleted it).
    if (fromOffset < minOffset) fromOffset = minOffset;
    if (fromOffset > until) fromOffset = until;
    const findings = book.targetFindings();
    const report: QueueVerifyReport = {
      route: this.route.name,
      sourceCluster: this.route.from.cluster,
      sourceTopic: queue.topic,
      sourceBroker: queue.brokerName,
      queueId: queue.queueId,
      fromOffset,
      untilOffset: until,
      ...zeroCounts(),
      duplicated: findings.duplicated,
      outOfOrder: findings.outOfOrder,
      examples: {
        missing: [],
        duplicated: findings.examples.duplicated,
        outOfOrder: findings.examples.outOfOrder,
        altered: [],
      },
    };
    const tags = parseTagExpression(this.route.from.tags);
    await this.#readRange(this.#source, this.sourceClient, queue, fromOffset, until, (m) => {
      report.checked++;
      if (!tagMatches(tags, m.tags)) {
        report.filtered++;
        return;
      }
      if (wouldLoop(m, this.route.from.cluster, this.route.to.cluster)) {
        report.loopSkipped++;
        return;
      }
      const verdict = book.checkSource(
        m.queueOffset,
        digestMapped(mapMessage(m, state.from, state.targetTopic)),
      );
      if (verdict === "missing") {
        report.missing++;
        if (report.examples.missing.length < EXAMPLES_KEPT) report.examples.missing.push(m.queueOffset);
      } else if (verdict === "altered") {
        report.altered++;
        if (report.examples.altered.length < EXAMPLES_KEPT) report.examples.altered.push(m.queueOffset);
      } else if (verdict === "dead-lettered") report.deadLettered++;
    });
    return report;
  }

  /**
   * Pulls `queue` from `from` (default: its min offset) to `until` (default: its max offset
   * now), exclusive, one batch at a time, calling `each` for every message in it.
   */
  async #readRange(
    consumer: PullConsumer,
    client: RocketMQClient,
    queue: MessageQueue,
    from: bigint | undefined,
    until: bigint | undefined,
    each: (m: MessageExt) => void,
  ): Promise<void> {
    let offset = from ?? (await client.admin.getMinOffset(queue, this.#call));
    const end = until ?? (await client.admin.getMaxOffset(queue, this.#call));
    let skippingSince: number | undefined;
    while (offset < end) {
      const r = await consumer.pull({
        queue,
        offset,
        maxMessages: this.#batch,
        suspendTimeoutMs: 0,
        decompress: false,
        offsetMsgIds: false,
        ...this.#call,
      });
      // An answer that steps over offsets it holds no message for (pull-gaps.ts) is read again:
      // following it would report messages missing that are there.
      const skipped = firstSkippedOffset(offset, r);
      if (skipped !== undefined) {
        for (const m of r.messages) if (m.queueOffset < skipped && m.queueOffset < end) each(m);
        if (skipped === offset) {
          if (Date.now() - (skippingSince ??= Date.now()) > SKIP_PATIENCE_MS) {
            throw new RmqError(
              "RMQ_VERIFY_INCOMPLETE",
              `${queue.topic} ${queue.brokerName}#${queue.queueId} skips offset ${offset} (answer ${r.status}, next ${r.nextBeginOffset}) for ${SKIP_PATIENCE_MS} ms: cannot verify it`,
            );
          }
          await new Promise((resolve) => setTimeout(resolve, 100));
        } else {
          skippingSince = undefined;
        }
        offset = skipped;
        continue;
      }
      skippingSince = undefined;
      for (const m of r.messages) if (m.queueOffset >= offset && m.queueOffset < end) each(m);
      // NO_NEW_MSG below `end` cannot happen for a bound read from the broker; a bound from a
      // committed offset ahead of the queue's max (set by hand) ends here too.
      if (r.nextBeginOffset <= offset || r.status === "NO_NEW_MSG") break;
      offset = r.nextBeginOffset;
    }
  }
}
