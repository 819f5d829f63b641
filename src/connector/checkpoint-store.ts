/**
 * The exactly-once checkpoint, kept as messages in a connector-owned topic of the TARGET cluster
 * (docs/exactly-once.md, "The checkpoint"): a message is in the data's durability domain, consumer
 * offsets are not (flushed every 5 s, on a slave 10-60 s late).
 *
 * Layout. The topic has `queueCount` queues (default 8) on every master; records live on one
 * "home" broker, the first by name among the masters that have the topic, in queue
 * `crc32(sourceKey) mod queueCount`. One broker, because readLatest must know where to look from
 * the source queue alone. Adding a master whose name sorts before the home broker moves the home:
 * records written before are then not found (a first start) — keep broker names or name the
 * topic's home in a later version.
 */
import type { Logger } from "../client/logger.js";
import type { Producer } from "../client/producer.js";
import type { PullConsumer } from "../client/pull-consumer.js";
import type { RocketMQClient } from "../client/rocketmq-client.js";
import type { Message, MessageQueue } from "../client/types.js";
import { TOPIC_MAX_LENGTH } from "../config/names.js";
import { crc32 } from "../protocol/crc32.js";
import { BrokerError, RmqError } from "../protocol/errors.js";
import type { MessageExt } from "../protocol/message.js";
import {
  decodeCheckpointRecord,
  encodeCheckpointRecord,
  sourceKey,
  type CheckpointRecord,
  type SourceQueueId,
} from "./checkpoint-record.js";
import { readQueueRange, waitForDispatch } from "./target-fence.js";

export {
  sourceKey,
  type CheckpointRecord,
  type CheckpointTarget,
  type SourceFingerprint,
  type SourceQueueId,
} from "./checkpoint-record.js";

const TOPIC_PREFIX = "RMQC_CHECKPOINT_";

/**
 * The checkpoint topic of connector `connectorName`: "RMQC_CHECKPOINT_" + the name with every
 * character a topic may not hold replaced by "_". A result over the broker's 127-character
 * limit keeps the start of the name and ends in "_" + 8 hex digits of crc32(name), so two long
 * names that share their start still get different topics.
 */
export function checkpointTopic(connectorName: string): string {
  const safe = connectorName.replace(/[^a-zA-Z0-9_-]/g, "_");
  const topic = TOPIC_PREFIX + safe;
  if (topic.length <= TOPIC_MAX_LENGTH) return topic;
  const hash = crc32(Buffer.from(connectorName, "utf8")).toString(16).padStart(8, "0");
  return `${topic.slice(0, TOPIC_MAX_LENGTH - 9)}_${hash}`;
}

export interface CheckpointStoreDeps {
  /** Client of the TARGET cluster. */
  client: RocketMQClient;
  /** The connector's name: the records' writer, and the topic's name unless `topic` is given. */
  connectorName: string;
  logger: Logger;
  /** Default checkpointTopic(connectorName). */
  topic?: string;
  /** Queues of the topic per master. Default 8. */
  queueCount?: number;
  /** Group the reads are accounted to (never commits). Default "rmq_connector_checkpoint_reader". */
  group?: string;
}

/** Records per SEND_BATCH_MESSAGE: ~300 bytes each, far below the 4 MiB body limit. */
const RECORDS_PER_BATCH = 512;
/** Messages per backward step of readLatest: the most one pull returns from memory. */
const READ_STEP = 32n;

export class CheckpointStore {
  readonly topic: string;
  readonly queueCount: number;
  readonly #client: RocketMQClient;
  /** The connector name records are written and read as (RMQC_WRITER). */
  readonly writer: string;
  readonly #logger: Logger;
  readonly #producer: Producer;
  readonly #consumer: PullConsumer;

  constructor(deps: CheckpointStoreDeps) {
    this.#client = deps.client;
    this.writer = deps.connectorName;
    this.#logger = deps.logger;
    this.topic = deps.topic ?? checkpointTopic(deps.connectorName);
    this.queueCount = deps.queueCount ?? 8;
    if (!Number.isInteger(this.queueCount) || this.queueCount < 1 || this.queueCount > 1024) {
      throw new RmqError(
        "RMQ_INVALID_ARGUMENT",
        `checkpoint queueCount ${this.queueCount} must be an integer 1-1024`,
      );
    }
    this.#producer = deps.client.producer({ group: "rmq_connector_checkpoint" });
    this.#consumer = deps.client.pullConsumer({ group: deps.group ?? "rmq_connector_checkpoint_reader" });
  }

  /**
   * Creates the topic with queueCount queues on every master that lacks it; leaves masters that
   * have it alone (idempotent, and never changes a topic someone configured). Throws RmqError
   * RMQ_EO_CHECKPOINT_TOPIC when a master has it with fewer than queueCount read or write queues.
   */
  async ensureTopic(options: { signal?: AbortSignal } = {}): Promise<void> {
    const admin = this.#client.admin;
    const info = await admin.getClusterInfo(options);
    const existing = await this.#route(true, options).catch((err: unknown) => {
      if (err instanceof BrokerError && err.code === "RMQ_BROKER_TOPIC_NOT_EXIST") return undefined;
      throw err;
    });
    for (const broker of info.brokers) {
      const address = broker.brokerAddrs.get(0);
      if (address === undefined) continue;
      const data = existing?.data.queueDatas.find((q) => q.brokerName === broker.brokerName);
      if (data === undefined) {
        await admin.createTopic({
          topic: this.topic,
          queueNums: this.queueCount,
          brokerAddr: address,
          ...options,
        });
        this.#logger.info({ topic: this.topic, broker: broker.brokerName }, "created the checkpoint topic");
      } else if (data.readQueueNums < this.queueCount || data.writeQueueNums < this.queueCount) {
        throw new RmqError(
          "RMQ_EO_CHECKPOINT_TOPIC",
          `checkpoint topic ${this.topic} has ${data.readQueueNums} read / ${data.writeQueueNums} write queues on broker ${broker.brokerName}; it needs ${this.queueCount}`,
          { context: { topic: this.topic, brokerName: broker.brokerName } },
        );
      }
    }
    this.#client.nameServer.invalidateRoute(this.topic);
  }

  /** The checkpoint queue of a source queue. Throws RMQ_EO_CHECKPOINT_TOPIC when the topic has no master. */
  async queueOf(source: SourceQueueId, options: { signal?: AbortSignal } = {}): Promise<MessageQueue> {
    const home = await this.#homeBroker(options);
    return this.#queueOn(home, source);
  }

  /**
   * Writes records: one SEND_BATCH_MESSAGE per checkpoint queue (more only past 512 records in one
   * queue), all queues at once. Resolves when every batch is stored; throws the first failure
   * (BrokerError, ConnectionError / RequestTimeoutError when the outcome is unknown) after all
   * were tried. A record written twice is harmless: the later one wins.
   */
  async write(records: readonly CheckpointRecord[], options: { signal?: AbortSignal } = {}): Promise<void> {
    if (records.length === 0) return;
    const home = await this.#homeBroker(options);
    const byQueue = new Map<number, Message[]>();
    for (const r of records) {
      if (r.writer !== this.writer) {
        throw new RmqError(
          "RMQ_INVALID_ARGUMENT",
          `checkpoint record of writer ${r.writer} given to the store of ${this.writer}`,
        );
      }
      const queueId = this.#queueOn(home, r.source).queueId;
      let list = byQueue.get(queueId);
      if (list === undefined) byQueue.set(queueId, (list = []));
      list.push({ topic: this.topic, body: encodeCheckpointRecord(r) });
    }
    const sends = [...byQueue].map(async ([queueId, messages]) => {
      const queue = { topic: this.topic, brokerName: home, queueId };
      for (let i = 0; i < messages.length; i += RECORDS_PER_BATCH) {
        await this.#producer.sendBatch(messages.slice(i, i + RECORDS_PER_BATCH), {
          queue,
          ...(options.signal ? { signal: options.signal } : {}),
        });
      }
    });
    const failed = (await Promise.allSettled(sends)).find((s) => s.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  }

  /**
   * The latest record of each of `sources` (by sourceKey; a source without one is absent).
   *
   * "Latest" rule: first wait until the home broker has dispatched all it stored (waitForDispatch),
   * so a record written just before, even by a process SIGKILLed since, is seen. Then read each
   * needed checkpoint queue backwards from its max offset in steps of 32. The latest record of a
   * source is the one at the HIGHEST queue offset (store order, not the writers' clocks) with our
   * writer. Reading a queue stops when every requested source of it has a record, or at the min
   * offset, and at nothing else: a record however old is still the truth for its source (a queue
   * that was not owned for a while, or failed safe, must not look like a first start). Live queues
   * rewrite their record at least once a minute, so their records are found near the end; only a
   * source that never had a record reads the whole queue, once.
   * Records that do not decode, or of another writer, are skipped with a warning naming queue
   * and offset. Throws RMQ_EO_DISPATCH_TIMEOUT, RMQ_EO_CHECKPOINT_UNREADABLE, client errors.
   */
  async readLatest(
    sources: readonly SourceQueueId[],
    options: { signal?: AbortSignal } = {},
  ): Promise<Map<string, CheckpointRecord>> {
    const found = new Map<string, CheckpointRecord>();
    if (sources.length === 0) return found;
    const home = await this.#homeBroker(options);
    const wantedByQueue = new Map<number, Set<string>>();
    for (const s of sources) {
      const queueId = this.#queueOn(home, s).queueId;
      let wanted = wantedByQueue.get(queueId);
      if (wanted === undefined) wantedByQueue.set(queueId, (wanted = new Set()));
      wanted.add(sourceKey(s));
    }
    await waitForDispatch(this.#client.admin, home, options);
    await Promise.all(
      [...wantedByQueue].map(([queueId, wanted]) =>
        this.#readQueue({ topic: this.topic, brokerName: home, queueId }, wanted, found, options.signal),
      ),
    );
    return found;
  }

  async #readQueue(
    queue: MessageQueue,
    wanted: Set<string>,
    found: Map<string, CheckpointRecord>,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const admin = this.#client.admin;
    const call = { signal };
    const [minOffset, maxOffset] = await Promise.all([
      admin.getMinOffset(queue, call),
      admin.getMaxOffset(queue, call),
    ]);
    let end = maxOffset;
    while (end > minOffset && wanted.size > 0) {
      const from = end - READ_STEP > minOffset ? end - READ_STEP : minOffset;
      const step: MessageExt[] = [];
      await readQueueRange(this.#consumer, queue, from, end, { signal }, (m) => step.push(m));
      for (let i = step.length - 1; i >= 0; i--) {
        const record = this.#decode(queue, step[i] as MessageExt);
        if (record === undefined) continue;
        const key = sourceKey(record.source);
        if (wanted.delete(key)) found.set(key, record);
      }
      end = from;
    }
  }

  #decode(queue: MessageQueue, m: MessageExt): CheckpointRecord | undefined {
    const where = {
      topic: queue.topic,
      broker: queue.brokerName,
      queueId: queue.queueId,
      offset: m.queueOffset.toString(),
    };
    let record: CheckpointRecord;
    try {
      record = decodeCheckpointRecord(m.body ?? m.storedBody);
    } catch (err) {
      this.#logger.warn(
        { ...where, err },
        `skipped checkpoint message at offset ${m.queueOffset} of ${queue.brokerName}#${queue.queueId}: ${err instanceof Error ? err.message : String(err)}`,
      );
      return undefined;
    }
    if (record.writer !== this.writer) {
      this.#logger.warn(
        { ...where, writer: record.writer },
        `skipped checkpoint record of writer ${record.writer} at offset ${m.queueOffset} of ${queue.brokerName}#${queue.queueId}: this store reads ${this.writer}'s`,
      );
      return undefined;
    }
    return record;
  }

  #queueOn(home: string, source: SourceQueueId): MessageQueue {
    const queueId = crc32(Buffer.from(sourceKey(source), "utf8")) % this.queueCount;
    return { topic: this.topic, brokerName: home, queueId };
  }

  async #homeBroker(options: { signal?: AbortSignal }): Promise<string> {
    const route = await this.#route(false, options);
    const names = route.data.queueDatas
      .filter((q) => q.readQueueNums >= this.queueCount && q.writeQueueNums >= this.queueCount)
      .map((q) => q.brokerName)
      .filter((name) => route.masterAddress(name) !== undefined)
      .sort();
    const home = names[0];
    if (home === undefined) {
      throw new RmqError(
        "RMQ_EO_CHECKPOINT_TOPIC",
        `checkpoint topic ${this.topic} has no master with ${this.queueCount} queues; call ensureTopic first`,
        { retriable: true, context: { topic: this.topic } },
      );
    }
    return home;
  }

  #route(refresh: boolean, options: { signal?: AbortSignal }) {
    return this.#client.admin.getTopicRoute(this.topic, { refresh, ...options });
  }
}
