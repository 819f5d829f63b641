/**
 * Replicates one source queue into one target queue, in order, at least once.
 *
 * Two loops joined by an ordered buffer: the pull loop long-polls the source and maps messages
 * into the buffer while in-flight limits allow (so the next pull overlaps the current send);
 * the send loop takes runs of buffered items and sends them as batches to the mapped target
 * queue. `ackedOffset` is the source offset up to which everything has been acknowledged by the
 * target (or deliberately not sent: filtered, loop-prevented, dead-lettered); only it is ever
 * committed, so a crash re-sends but never skips.
 *
 * A send that fails with a retriable error (connection, timeout, busy) is retried with backoff;
 * its outcome was unknown, so the target may hold a duplicate (at-least-once). A message the
 * target refuses for good is isolated (the batch is re-sent one message at a time) and then
 * dead-lettered if the route has a dead-letter topic, or else stops this queue at that message
 * with an error naming topic, queue and offset. Nothing is skipped silently.
 *
 * Failures are kept per direction: a failed pull is under way until a later pull of this queue
 * succeeds (one that brings nothing new too), a failed send until the target acknowledges a later
 * send. They are separate because one direction's success says nothing of the other: pulls go on
 * succeeding while the target is down. `lastError` keeps the latest of any kind, for people.
 */
import type { Admin } from "../client/admin.js";
import type { Logger } from "../client/logger.js";
import type { Producer } from "../client/producer.js";
import type { PullConsumer } from "../client/pull-consumer.js";
import type { Message, MessageQueue } from "../client/types.js";
import { RmqError } from "../protocol/errors.js";
import { ResponseCode } from "../protocol/codes.js";
import { EncodedProperties, encodeProperties, rewriteProperties } from "../protocol/properties.js";
import { backoffDelay, sleep, type BackoffOptions } from "./backoff.js";
import type { ByteBudget } from "./byte-budget.js";
import { mapMessage, pulledFrom, wouldLoop } from "./message-mapping.js";
import { RingQueue } from "./ring-queue.js";

export interface ReplicatorSettings {
  pullBatchSize: number;
  suspendTimeoutMs: number;
  /** Pause after a pull that reached the queue's head, so that the next one carries more. */
  pullLingerMs: number;
  sendBatchMaxMessages: number;
  sendBatchMaxBytes: number;
  sendTimeoutMs: number;
  inFlightMessagesPerQueue: number;
  inFlightBytesPerQueue: number;
  backoff: BackoffOptions;
}

export interface QueueEndpoints {
  sourceCluster: string;
  targetCluster: string;
  sourceQueue: MessageQueue;
  targetQueue: MessageQueue;
  /** Tag expression applied at the source ("*" for all). */
  tags: string;
  deadLetterTopic?: string | undefined;
  /** The connector's name, written as RMQC_WRITER on every message. */
  writer: string;
}

export interface ReplicatorDeps {
  consumer: PullConsumer;
  producer: Producer;
  /** Admin of the source cluster: max offsets for lag. */
  sourceAdmin: Admin;
  budget: ByteBudget;
  logger: Logger;
  /**
   * Called after the target acknowledged messages, with each one's latency (ack time minus source
   * store time, ms) and their body bytes. For histograms; must not throw.
   */
  onAcknowledged?: ((latenciesMs: readonly number[], bytes: number) => void) | undefined;
}

export type QueueState = "starting" | "running" | "draining" | "stopped" | "failed";

/** One recorded error: its kind ("pull", "send", "dead_letter", ...), message and time (ms). */
export interface QueueError {
  kind: string;
  message: string;
  atMs: number;
}

/** A failure under way in one direction: the latest error, and when the run of failures began. */
export interface QueueFailure extends QueueError {
  /** When the first failure of this run happened, ms (atMs is the latest). */
  sinceMs: number;
}

/** The two directions a queue can fail in: reading the source, writing the target. */
export type QueueDirection = "pull" | "send";

/** A replicator's counters and positions, read by status and metrics. */
export interface QueueProgress {
  state: QueueState;
  /** Next source offset the pull loop will read. */
  pullOffset: bigint;
  /** Everything before this source offset is acknowledged by the target (or deliberately not sent). */
  ackedOffset: bigint;
  replicatedMessages: number;
  replicatedBytes: number;
  filteredMessages: number;
  loopSkippedMessages: number;
  deadLetteredMessages: number;
  sendRetries: number;
  pulls: number;
  sends: number;
  /** Messages and bytes pulled but not yet acknowledged. */
  inFlightMessages: number;
  inFlightBytes: number;
  /** When (ms) the target last acknowledged a message of this queue. */
  lastSyncAtMs: number | undefined;
  /** Source store time (ms) of the last replicated message. */
  lastSourceStoreMs: number | undefined;
  /** Source store time of the oldest message pulled but not yet acknowledged. */
  oldestPendingStoreMs: number | undefined;
  /** Ack time minus source store time of the last batch, ms. */
  lastLatencyMs: number | undefined;
  /** The latest error of any kind, kept after it is overcome (status page, /api/status). */
  lastError: QueueError | undefined;
  /** The pull failure under way; undefined once a later pull succeeded (NO_NEW_MSG included). */
  pullFailure: QueueFailure | undefined;
  /** The send failure under way (dead-letter sends included); undefined once a later send was acknowledged. */
  sendFailure: QueueFailure | undefined;
  errorsByKind: Record<string, number>;
}

type Item =
  | {
      kind: "message";
      message: Message;
      nextOffset: bigint;
      sourceOffset: bigint;
      bytes: number;
      storeMs: number;
    }
  | { kind: "skip"; nextOffset: bigint };

/** Error codes that mean "this message will never be accepted", as opposed to "try later". */
const POISON_CODES = new Set(["RMQ_INVALID_PROPERTY", "RMQ_PROPERTIES_TOO_LONG", "RMQ_INVALID_ARGUMENT"]);
function isPoison(err: unknown): boolean {
  if (!(err instanceof RmqError)) return false;
  if (POISON_CODES.has(err.code)) return true;
  return err.context.responseCode === ResponseCode.MESSAGE_ILLEGAL;
}

/** What a dead-lettered message keeps besides provenance when its properties are refused. */
const DEAD_LETTER_KEPT = new Set(["TAGS", "KEYS", "UNIQ_KEY"]);

/** Properties a dead-lettered message gets, replacing any it had (from an earlier dead-lettering). */
const DeadLetter = {
  REASON: "RMQC_DLQ_REASON",
  TARGET_TOPIC: "RMQC_DLQ_TARGET_TOPIC",
  PROPERTIES_DROPPED: "RMQC_DLQ_PROPERTIES_DROPPED",
} as const;
const DEAD_LETTER_INFO: ReadonlySet<string> = new Set(Object.values(DeadLetter));
function isDeadLetterInfo(name: string): boolean {
  return DEAD_LETTER_INFO.has(name);
}

/**
 * A message's properties in wire form. Mapped messages carry them encoded: rewriting that text
 * keeps values the encoder would refuse (a \u0001 inside a value is legal on the wire), where a
 * decode and re-encode would turn a dead-lettering into a stopped queue.
 */
function encodedText(m: Message): string {
  return m.properties instanceof EncodedProperties ? m.properties.text : encodeProperties(m.properties ?? {});
}

export class QueueReplicator {
  readonly endpoints: QueueEndpoints;
  readonly progress: QueueProgress;
  readonly #deps: ReplicatorDeps;
  readonly #settings: ReplicatorSettings;
  readonly #buffer = new RingQueue<Item>();
  /** Stop pulling (and abort a long poll in progress). */
  readonly #stop = new AbortController();
  /** Stop sending too: abandon retries and in-flight sends (no drain, or the drain timed out). */
  readonly #hardStop = new AbortController();
  #drain = true;
  #wakeSend: (() => void) | undefined;
  #wakePull: (() => void) | undefined;
  #loops: Promise<unknown> | undefined;
  /** After a permanent failure in a batch, send one at a time up to this offset to find the culprit. */
  #singleUntil = -1n;

  constructor(
    endpoints: QueueEndpoints,
    startOffset: bigint,
    deps: ReplicatorDeps,
    settings: ReplicatorSettings,
  ) {
    this.endpoints = endpoints;
    this.#deps = deps;
    this.#settings = settings;
    this.progress = {
      state: "starting",
      pullOffset: startOffset,
      ackedOffset: startOffset,
      replicatedMessages: 0,
      replicatedBytes: 0,
      filteredMessages: 0,
      loopSkippedMessages: 0,
      deadLetteredMessages: 0,
      sendRetries: 0,
      pulls: 0,
      sends: 0,
      inFlightMessages: 0,
      inFlightBytes: 0,
      lastSyncAtMs: undefined,
      lastSourceStoreMs: undefined,
      oldestPendingStoreMs: undefined,
      lastLatencyMs: undefined,
      lastError: undefined,
      pullFailure: undefined,
      sendFailure: undefined,
      errorsByKind: {},
    };
  }

  /** Starts both loops. */
  start(): void {
    this.progress.state = "running";
    const pull = this.#pullLoop().catch((err: unknown) => this.#fail("internal", err));
    const send = this.#sendLoop().catch((err: unknown) => this.#fail("internal", err));
    this.#loops = Promise.all([pull, send]);
  }

  /**
   * Stops pulling. With `drain` (default) buffered messages are still sent (retrying as usual)
   * until `drainTimeoutMs` passes; without, in-flight sends are abandoned (they are re-sent after
   * a restart, since ackedOffset did not move past them). Resolves when both loops ended.
   */
  async stop(options: { drain?: boolean; drainTimeoutMs?: number } = {}): Promise<void> {
    this.#drain = options.drain ?? true;
    if (this.progress.state === "running") this.progress.state = this.#drain ? "draining" : "stopped";
    this.#stop.abort();
    if (!this.#drain) this.#hardStop.abort();
    this.#wakeSend?.();
    this.#wakePull?.();
    const deadline = options.drainTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#loops,
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          this.#drain = false;
          this.#hardStop.abort();
          this.#wakeSend?.();
          resolve();
        }, deadline);
      }),
    ]);
    clearTimeout(timer);
    await this.#loops;
    if (this.progress.state !== "failed") this.progress.state = "stopped";
    this.#releaseAll();
  }

  get stopped(): boolean {
    return this.progress.state === "stopped" || this.progress.state === "failed";
  }

  #stopping(): boolean {
    return this.#stop.signal.aborted;
  }

  async #pullLoop(): Promise<void> {
    const { consumer, logger } = this.#deps;
    const { sourceQueue, sourceCluster, targetCluster, targetQueue, tags } = this.endpoints;
    const from = pulledFrom(sourceCluster, sourceQueue, this.endpoints.writer);
    let attempt = 0;
    while (!this.#stopping() && this.progress.state === "running") {
      if (
        this.progress.inFlightMessages >= this.#settings.inFlightMessagesPerQueue ||
        this.progress.inFlightBytes >= this.#settings.inFlightBytesPerQueue
      ) {
        await new Promise<void>((resolve) => (this.#wakePull = resolve));
        this.#wakePull = undefined;
        continue;
      }
      const offset = this.progress.pullOffset;
      let result;
      try {
        result = await consumer.pull({
          queue: sourceQueue,
          offset,
          tags,
          maxMessages: this.#settings.pullBatchSize,
          suspendTimeoutMs: this.#settings.suspendTimeoutMs,
          signal: this.#stop.signal,
          // Compressed bodies pass through compressed (mapMessage sends storedBody).
          decompress: false,
          offsetMsgIds: false, // never read here
        });
        this.progress.pulls++;
        attempt = 0;
        this.#recovered("pull");
      } catch (err) {
        if (this.#stopping()) break;
        this.#recordError("pull", err, "pull");
        await sleep(backoffDelay(attempt++, this.#settings.backoff), this.#stop.signal);
        continue;
      }
      if (result.status === "OFFSET_ILLEGAL") {
        this.#recordError(
          "offset_moved",
          new RmqError(
            "RMQ_OFFSET_MOVED",
            `source offset ${offset} of ${sourceQueue.topic} ${sourceQueue.brokerName}#${sourceQueue.queueId} is outside [${result.minOffset}, ${result.maxOffset}]; continuing at ${result.nextBeginOffset}`,
          ),
        );
      }
      this.progress.filteredMessages += result.filteredOut;
      const items: Extract<Item, { kind: "message" }>[] = [];
      let pulledBytes = 0;
      for (const m of result.messages) {
        if (wouldLoop(m, sourceCluster, targetCluster)) {
          this.progress.loopSkippedMessages++;
          continue;
        }
        let message: Message;
        try {
          message = mapMessage(m, from, targetQueue.topic);
        } catch (err) {
          // Not expected (every appended value is encodable), but a message that cannot be
          // mapped must stop its queue by name, not as an anonymous internal failure.
          this.#fail("rejected", this.#rejectedError(m.queueOffset, err));
          return;
        }
        const bytes = message.body.length + 256;
        pulledBytes += bytes;
        items.push({
          kind: "message",
          message,
          sourceOffset: m.queueOffset,
          nextOffset: m.queueOffset + 1n,
          bytes,
          storeMs: m.storeTimestamp,
        });
      }
      // One reservation per pull: the process-wide budget bounds memory across queues.
      if (items.length > 0 && !(await this.#deps.budget.acquire(pulledBytes, this.#stop.signal))) {
        break; // stopping: this pull is read again after a restart (ackedOffset did not pass it)
      }
      for (const item of items) this.#buffer.push(item);
      this.progress.inFlightMessages += items.length;
      this.progress.inFlightBytes += pulledBytes;
      if (items[0]) this.progress.oldestPendingStoreMs ??= items[0].storeMs;
      if (result.nextBeginOffset !== offset)
        this.#buffer.push({ kind: "skip", nextOffset: result.nextBeginOffset });
      this.progress.pullOffset = result.nextBeginOffset;
      logger.debug(
        {
          topic: sourceQueue.topic,
          queueId: sourceQueue.queueId,
          nextOffset: String(result.nextBeginOffset),
          status: result.status,
        },
        "pulled",
      );
      this.#wakeSend?.();
      // At the head, each long poll returns as soon as one message arrives: one pull and one
      // send per message. A short pause lets the next pull and send carry what came meanwhile.
      if (
        this.#settings.pullLingerMs > 0 &&
        result.status === "FOUND" &&
        result.nextBeginOffset >= result.maxOffset
      ) {
        await sleep(this.#settings.pullLingerMs, this.#stop.signal);
      }
    }
  }

  async #sendLoop(): Promise<void> {
    let attempt = 0;
    for (;;) {
      this.#ackLeadingSkips();
      if (this.#buffer.length === 0) {
        if (this.#stopping()) return;
        await new Promise<void>((resolve) => (this.#wakeSend = resolve));
        this.#wakeSend = undefined;
        continue;
      }
      if (this.#stopping() && !this.#drain) return;
      if (this.progress.state === "failed") return;
      const batch = this.#takeBatch();
      const messages = batch.filter((i): i is Extract<Item, { kind: "message" }> => i.kind === "message");
      try {
        await this.#send(messages.map((m) => m.message));
        attempt = 0;
        this.#recovered("send");
        this.#acknowledge(batch.length, messages);
      } catch (err) {
        if (isPoison(err)) {
          if (messages.length > 1) {
            // Find the culprit: re-send this run one message at a time.
            this.#singleUntil = (messages[messages.length - 1] as { sourceOffset: bigint }).sourceOffset;
            continue;
          }
          const culprit = messages[0];
          if (culprit && (await this.#deadLetter(culprit, err))) {
            this.#acknowledge(batch.length, [], culprit);
            continue;
          }
          this.#fail("rejected", this.#rejectedError(culprit?.sourceOffset, err));
          this.#releaseAll();
          return;
        }
        this.progress.sendRetries++;
        this.#recordError("send", err, "send");
        if (this.#stopping() && !this.#drain) return;
        await sleep(backoffDelay(attempt++, this.#settings.backoff), this.#hardStop.signal);
      }
    }
  }

  /** Takes (without removing) the next run of items that can go in one send. */
  #takeBatch(): Item[] {
    const out: Item[] = [];
    let count = 0;
    let bytes = 0;
    let compression: number | undefined;
    for (let i = 0; i < this.#buffer.length; i++) {
      const item = this.#buffer.at(i) as Item;
      if (item.kind === "skip") {
        out.push(item);
        continue;
      }
      const single = item.sourceOffset <= this.#singleUntil;
      const bits = item.message.compressionSysFlag ?? 0;
      if (count > 0) {
        if (single || count >= this.#settings.sendBatchMaxMessages) break;
        if (bytes + item.bytes > this.#settings.sendBatchMaxBytes) break;
        if (bits !== compression) break;
      }
      out.push(item);
      count++;
      bytes += item.bytes;
      compression = bits;
      if (single) break;
    }
    // Trailing skips belong to the next run only if no message follows; keep them here.
    return out;
  }

  async #send(messages: Message[]): Promise<void> {
    const { producer } = this.#deps;
    const options = {
      queue: this.endpoints.targetQueue,
      timeoutMs: this.#settings.sendTimeoutMs,
      signal: this.#hardStop.signal,
    };
    this.progress.sends++;
    if (messages.length === 1) await producer.send(messages[0] as Message, options);
    else await producer.sendBatch(messages, options);
  }

  /** Removes `count` items from the buffer after the target acknowledged their messages. */
  #acknowledge(
    count: number,
    sent: readonly Extract<Item, { kind: "message" }>[],
    deadLettered?: Extract<Item, { kind: "message" }>,
  ): void {
    const last = this.#buffer.at(Math.min(count, this.#buffer.length) - 1);
    if (last) this.progress.ackedOffset = last.nextOffset;
    const now = Date.now();
    const { messages, bytes: released } = this.#tally(count);
    this.#buffer.dropFront(count);
    this.#deps.budget.release(released);
    this.progress.inFlightMessages -= messages;
    this.progress.inFlightBytes -= released;
    if (deadLettered) this.progress.deadLetteredMessages++;
    if (sent.length > 0) {
      this.progress.replicatedMessages += sent.length;
      this.progress.replicatedBytes += sent.reduce((n, m) => n + m.message.body.length, 0);
      const newest = sent[sent.length - 1] as { storeMs: number };
      this.progress.lastSyncAtMs = now;
      this.progress.lastSourceStoreMs = newest.storeMs;
      this.progress.lastLatencyMs = Math.max(0, now - (sent[0] as { storeMs: number }).storeMs);
      this.#deps.onAcknowledged?.(
        sent.map((m) => Math.max(0, now - m.storeMs)),
        sent.reduce((n, m) => n + m.message.body.length, 0),
      );
    }
    const next = this.#buffer.find((i) => i.kind === "message");
    this.progress.oldestPendingStoreMs = next?.kind === "message" ? next.storeMs : undefined;
    this.#wakePull?.();
  }

  /** Messages, and their bytes, among the first `count` buffered items. */
  #tally(count: number): { messages: number; bytes: number } {
    let messages = 0;
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const item = this.#buffer.at(i);
      if (item?.kind !== "message") continue;
      messages++;
      bytes += item.bytes;
    }
    return { messages, bytes };
  }

  #ackLeadingSkips(): void {
    let n = 0;
    while (this.#buffer.at(n)?.kind === "skip") n++;
    if (n > 0) this.#acknowledge(n, []);
  }

  async #deadLetter(item: Extract<Item, { kind: "message" }>, cause: unknown): Promise<boolean> {
    const topic = this.endpoints.deadLetterTopic;
    if (topic === undefined) return false;
    const reason = cause instanceof Error ? cause.message : String(cause);
    const info: [string, string][] = [
      // A property value cannot hold the separators, nor be empty.
      [
        DeadLetter.REASON,
        reason.slice(0, 1000).replaceAll("\u0001", " ").replaceAll("\u0002", " ") || "unknown",
      ],
      [DeadLetter.TARGET_TOPIC, item.message.topic],
    ];
    const own = encodedText(item.message);
    let message: Message = {
      ...item.message,
      topic,
      properties: rewriteProperties(own, isDeadLetterInfo, info),
    };
    let strippedProperties = false;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#deps.producer.send(message, {
          timeoutMs: this.#settings.sendTimeoutMs,
          signal: this.#hardStop.signal,
        });
        this.#recovered("send");
        this.#deps.logger.warn(
          {
            topic: this.endpoints.sourceQueue.topic,
            queueId: this.endpoints.sourceQueue.queueId,
            offset: String(item.sourceOffset),
            deadLetterTopic: topic,
            err: reason,
          },
          "message refused by the target; sent to the dead-letter topic",
        );
        return true;
      } catch (err) {
        this.#recordError("dead_letter", err, "send");
        if (isPoison(err)) {
          if (strippedProperties) return false;
          // The user properties may be what the target refuses: keep body, tags, keys, message
          // id and provenance, and say that the rest was dropped.
          strippedProperties = true;
          const notKept = (name: string): boolean =>
            isDeadLetterInfo(name) || !(name.startsWith("RMQC_") || DEAD_LETTER_KEPT.has(name));
          message = {
            ...message,
            properties: rewriteProperties(own, notKept, [...info, [DeadLetter.PROPERTIES_DROPPED, "true"]]),
          };
          continue;
        }
        if (this.#stopping() && !this.#drain) return false;
        await sleep(backoffDelay(attempt, this.#settings.backoff), this.#hardStop.signal);
      }
    }
  }

  #rejectedError(sourceOffset: bigint | undefined, cause: unknown): RmqError {
    const { sourceQueue, targetQueue } = this.endpoints;
    const offset = sourceOffset === undefined ? "?" : String(sourceOffset);
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new RmqError(
      "RMQ_MESSAGE_REJECTED",
      `queue stopped: the target refused message at offset ${offset} of ${sourceQueue.topic} ${sourceQueue.brokerName}#${sourceQueue.queueId} ` +
        `(going to ${targetQueue.topic}): ${reason}. Fix the cause, or set the route's deadLetterTopic, and restart.`,
      {
        cause,
        context: {
          topic: sourceQueue.topic,
          brokerName: sourceQueue.brokerName,
          queueId: sourceQueue.queueId,
          offset,
        },
      },
    );
  }

  /**
   * Records an error: always as lastError and in errorsByKind; with a direction also as that
   * direction's failure under way, until #recovered clears it.
   */
  #recordError(kind: string, err: unknown, direction?: QueueDirection): void {
    const message = err instanceof Error ? err.message : String(err);
    const atMs = Date.now();
    this.progress.lastError = { kind, message, atMs };
    this.progress.errorsByKind[kind] = (this.progress.errorsByKind[kind] ?? 0) + 1;
    if (direction !== undefined) {
      const key = direction === "pull" ? "pullFailure" : "sendFailure";
      // A new object each time: status snapshots share these, so they are never mutated.
      this.progress[key] = { kind, message, atMs, sinceMs: this.progress[key]?.sinceMs ?? atMs };
    }
    const { sourceQueue } = this.endpoints;
    this.#deps.logger.warn(
      {
        topic: sourceQueue.topic,
        brokerName: sourceQueue.brokerName,
        queueId: sourceQueue.queueId,
        kind,
        err: message,
      },
      `${kind} failed`,
    );
  }

  /** A request in `direction` succeeded: the failure under way there, if any, is over. */
  #recovered(direction: QueueDirection): void {
    const key = direction === "pull" ? "pullFailure" : "sendFailure";
    const failure = this.progress[key];
    if (failure === undefined) return;
    this.progress[key] = undefined;
    const { sourceQueue } = this.endpoints;
    this.#deps.logger.info(
      {
        topic: sourceQueue.topic,
        brokerName: sourceQueue.brokerName,
        queueId: sourceQueue.queueId,
        kind: failure.kind,
        failedForMs: Date.now() - failure.sinceMs,
      },
      `${direction} succeeded again`,
    );
  }

  #fail(kind: string, err: unknown): void {
    this.#recordError(kind, err);
    this.progress.state = "failed";
    const { sourceQueue } = this.endpoints;
    this.#deps.logger.error(
      {
        topic: sourceQueue.topic,
        brokerName: sourceQueue.brokerName,
        queueId: sourceQueue.queueId,
        nextOffset: String(this.progress.ackedOffset),
        err: err instanceof Error ? err.message : String(err),
      },
      "queue replication stopped",
    );
    this.#stop.abort();
    this.#hardStop.abort();
    this.#wakePull?.();
    this.#wakeSend?.();
  }

  #releaseAll(): void {
    const { bytes } = this.#tally(this.#buffer.length);
    this.#buffer.dropFront(this.#buffer.length);
    this.#deps.budget.release(bytes);
    this.progress.inFlightMessages = 0;
    this.progress.inFlightBytes = 0;
  }
}
