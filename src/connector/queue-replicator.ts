/**
 * Replicates one source queue into one target queue, in order, with the guarantee its delivery
 * policy gives (delivery.ts: at-least-once or exactly-once).
 *
 * Two loops joined by an ordered buffer: the pull loop long-polls the source and maps messages
 * into the buffer while in-flight limits allow (so the next pull overlaps the current send);
 * the send loop takes runs of buffered items and sends them as batches to the mapped target
 * queue. `ackedOffset` is the source offset up to which everything has been acknowledged by the
 * target (or deliberately not sent: filtered, loop-prevented, dead-lettered); only it is ever
 * committed, so a crash re-sends but never skips.
 *
 * Sends go one request at a time, in source order, to one target queue (and the route's
 * dead-letter queue): at most one request of this queue has an unknown outcome at any moment,
 * which is what exactly-once recovery relies on. A send the broker certainly did not store (busy,
 * not available) is retried with backoff. A send whose outcome is unknown (timeout, lost
 * connection) is settled by the policy first: at-least-once sends it again (the target may hold a
 * duplicate); exactly-once reads the target to learn what landed and sends only the rest. Each
 * acknowledgement's SendResult moves the queue's target position (`targets`), which checkpoints
 * record as the watermark of recovery. A message the
 * target refuses for good is isolated (the batch is re-sent one message at a time) and then
 * dead-lettered if the route has a dead-letter topic, or else stops this queue at that message
 * with an error naming topic, queue and offset. Nothing is skipped silently.
 *
 * Failures are kept per direction: a failed pull is under way until a later pull of this queue
 * succeeds (one that brings nothing new too), a failed send until the target acknowledges a later
 * send. They are separate because one direction's success says nothing of the other: pulls go on
 * succeeding while the target is down. `lastError` keeps the latest of any kind, for people.
 */
import { accessDeniedReason } from "../client/access-denied.js";
import type { Admin } from "../client/admin.js";
import type { Logger } from "../client/logger.js";
import type { Producer } from "../client/producer.js";
import type { PullConsumer } from "../client/pull-consumer.js";
import { queueKey, type Message, type MessageQueue, type SendResult } from "../client/types.js";
import { RmqError } from "../protocol/errors.js";
import { crc32 } from "../protocol/crc32.js";
import { EncodedProperties, encodeProperties, rewriteProperties } from "../protocol/properties.js";
import { backoffDelay, sleep, type BackoffOptions } from "./backoff.js";
import type { ByteBudget } from "./byte-budget.js";
import { classifySendFailure, type DeliveryPolicy } from "./delivery.js";
import { mapMessage, pulledFrom, wouldLoop } from "./message-mapping.js";
import { filtersNothing, firstSkippedOffset } from "./pull-gaps.js";
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
  /** The fixed queue of the dead-letter topic this source queue's refused messages go to. */
  deadLetterQueue?: MessageQueue | undefined;
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
  /** What an unknown send outcome leads to (at-least-once or exactly-once). */
  policy: DeliveryPolicy;
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
  /** Sends whose outcome was unknown (timeout, lost connection), settled by the delivery policy. */
  unknownOutcomes: number;
  /** Messages of such sends that the policy found stored in the target (exactly-once only). */
  settledLandedMessages: number;
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

/** A target queue this source queue writes to, and the target offset just past its last message there. */
export interface TargetPosition {
  queue: MessageQueue;
  /**
   * Every message of this source queue sent to `queue` after this moment lands at or above this
   * offset (it grows with each acknowledgement, F3.3); a checkpoint's watermark.
   */
  nextOffset: bigint;
}

/** The last source message the target acknowledged: re-read at recovery to detect a recreated topic. */
export interface SourceFingerprint {
  offset: bigint;
  storeMs: number;
  bodyCrc: number;
}

/** Where a queue stands, for checkpoints: a snapshot, safe to keep. */
export interface QueuePosition {
  /** Everything before it is acknowledged by the target, or deliberately not sent. */
  nextSourceOffset: bigint;
  targets: TargetPosition[];
  fingerprint: SourceFingerprint | undefined;
}

/** Where a replicator starts. */
export interface StartPosition {
  offset: bigint;
  /** Known target positions (from recovery); others start unknown (0: nothing is assumed). */
  targets?: readonly TargetPosition[] | undefined;
  /** The last replicated message as the checkpoint knew it: kept until a newer one is acknowledged. */
  fingerprint?: SourceFingerprint | undefined;
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

function isPoison(err: unknown): boolean {
  return classifySendFailure(err) === "poison";
}

type MessageItem = Extract<Item, { kind: "message" }>;

/** How long a pull that skips an offset is retried before the offset counts as lost (pull-gaps.ts). */
const SOURCE_SKIP_PATIENCE_MS = 30_000;

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
  /** Target positions by queue key: the data queue, and the dead-letter queue once used. */
  readonly #targets = new Map<string, TargetPosition>();
  /**
   * The target queue (key) of the send whose outcome is not known yet, from the moment it is
   * handed to the producer until it is acknowledged, refused or settled; sends are one at a time.
   */
  #outstanding: string | undefined;
  /** The newest acknowledged message (its body for the fingerprint's CRC, computed when asked). */
  #lastSent: { offset: bigint; storeMs: number; body: Buffer } | undefined;
  /** The fingerprint the queue started with, until #lastSent replaces it. */
  readonly #startFingerprint: SourceFingerprint | undefined;

  constructor(
    endpoints: QueueEndpoints,
    start: StartPosition,
    deps: ReplicatorDeps,
    settings: ReplicatorSettings,
  ) {
    this.endpoints = endpoints;
    this.#deps = deps;
    this.#settings = settings;
    const startOffset = start.offset;
    for (const t of start.targets ?? []) this.#targets.set(queueKey(t.queue), { ...t });
    this.#startFingerprint = start.fingerprint;
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
      unknownOutcomes: 0,
      settledLandedMessages: 0,
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

  /** Where the queue stands now, for a checkpoint. */
  position(): QueuePosition {
    const last = this.#lastSent;
    return {
      nextSourceOffset: this.progress.ackedOffset,
      targets: [...this.#targets.values()].map((t) => ({ ...t })),
      // A restart that replicates nothing must not forget the fingerprint: the next recovery
      // would then have nothing to detect a recreated source topic by.
      fingerprint:
        last === undefined
          ? this.#startFingerprint
          : { offset: last.offset, storeMs: last.storeMs, bodyCrc: crc32(last.body) },
    };
  }

  /**
   * Raises each target position to that queue's max offset (`readMax`) unless a send of this
   * queue there has an outcome not known yet. A watermark only moves with acknowledgements, so
   * one of a queue written rarely (a shared dead-letter queue, a target queue shared with a busy
   * source queue while this one is idle) would fall below the target's min offset by retention.
   * Safe: with no outcome unknown when the raise is applied, every message of this source queue
   * that can still land is sent later and lands above what the max offset was when read. Never
   * once stopping or failed: a send abandoned there (drain timeout, a settle that failed) has an
   * outcome nobody will learn, and #outstanding no longer names it.
   */
  async raiseWatermarks(readMax: (queue: MessageQueue) => Promise<bigint>): Promise<void> {
    const mayRaise = (key: string): boolean =>
      !this.#stopping() && this.progress.state === "running" && this.#outstanding !== key;
    for (const [key, target] of this.#targets) {
      if (!mayRaise(key)) continue;
      const max = await readMax(target.queue);
      if (mayRaise(key) && max > target.nextOffset) target.nextOffset = max;
    }
  }

  /**
   * Exactly-once counts an unknown send dead `deadAfterMs` after its timeout: bytes of it still
   * in this process's or the kernel's buffers must not reach the broker later, so a send that
   * times out resets its connection (scenario B in docs/exactly-once.md).
   */
  get #resetOnTimeout(): boolean {
    return this.#deps.policy.kind === "exactly-once";
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
    const checkGaps = filtersNothing(tags);
    let attempt = 0;
    /** When the broker first skipped the offset it still skips (see pull-gaps.ts). */
    let skippingSince: number | undefined;
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
      const skipped = checkGaps ? firstSkippedOffset(offset, result) : undefined;
      if (skipped === undefined) {
        skippingSince = undefined;
      } else if (Date.now() - (skippingSince ??= Date.now()) < SOURCE_SKIP_PATIENCE_MS) {
        // Keep what came before the skipped offset, and read that offset again: the broker
        // skips entries it could not read at that moment, which it serves a moment later.
        this.#recordError(
          "source_skip",
          new RmqError(
            "RMQ_SOURCE_SKIPPED",
            `source ${sourceQueue.topic} ${sourceQueue.brokerName}#${sourceQueue.queueId} answered ${result.status} without offset ${skipped} (next ${result.nextBeginOffset}); reading it again`,
          ),
          "pull",
        );
        result = {
          ...result,
          messages: result.messages.filter((m) => m.queueOffset < skipped),
          nextBeginOffset: skipped,
        };
        if (result.messages.length === 0) {
          await sleep(backoffDelay(attempt++, this.#settings.backoff), this.#stop.signal);
          continue;
        }
      } else {
        // Still skipped after SOURCE_SKIP_PATIENCE_MS: the broker has lost it (a commit-log file
        // removed before its consume queue). Go on, and say which offsets were never read.
        this.#recordError(
          "source_skip",
          new RmqError(
            "RMQ_SOURCE_SKIPPED",
            `source ${sourceQueue.topic} ${sourceQueue.brokerName}#${sourceQueue.queueId} has skipped offset ${skipped} for ${SOURCE_SKIP_PATIENCE_MS} ms; continuing at ${result.nextBeginOffset}: the messages in between are lost at the source`,
          ),
          "pull",
        );
        skippingSince = undefined;
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
      const items: MessageItem[] = [];
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
      const messages = batch.filter((i): i is MessageItem => i.kind === "message");
      const queue = this.endpoints.targetQueue;
      const watermark = this.#targetNext(queue);
      const outer = this.#outstanding;
      this.#outstanding = queueKey(queue);
      try {
        try {
          const result = await this.#send(messages.map((m) => m.message));
          attempt = 0;
          this.#recovered("send");
          this.#advanceTarget(result.queue, result.queueOffset + BigInt(messages.length));
          this.#acknowledge(batch.length, messages);
        } catch (err) {
          const failure = classifySendFailure(err);
          if (failure === "poison") {
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
          if (failure === "unknown" && messages.length > 0) {
            const sourceOffsets = messages.map((m) => m.sourceOffset);
            // The failure's time, not the send's: the request may have been written only after a
            // route lookup or a connect, late in the attempt (Assumption D counts from the write).
            const landed = await this.#settle({
              queue,
              sourceOffsets,
              watermark,
              writtenAtMs: Date.now(),
              error: err,
            });
            if (landed === undefined) return; // stopping
            if (landed > 0) {
              this.#recovered("send");
              this.#acknowledge(itemsThrough(batch, landed), messages.slice(0, landed));
              attempt = 0;
              continue;
            }
          }
          await sleep(backoffDelay(attempt++, this.#settings.backoff), this.#hardStop.signal);
        }
      } finally {
        this.#outstanding = outer;
      }
    }
  }

  /**
   * Asks the policy what landed of a send whose outcome is unknown, retrying with backoff while it
   * cannot tell (the target away): nothing of this queue is sent meanwhile, which keeps "at most
   * one unknown request per queue". Undefined when the queue stops first.
   */
  async #settle(send: Parameters<DeliveryPolicy["settle"]>[0]): Promise<number | undefined> {
    for (let attempt = 0; ; attempt++) {
      if (this.#hardStop.signal.aborted || (this.#stopping() && !this.#drain)) return undefined;
      try {
        const settled = await this.#deps.policy.settle(send, this.#hardStop.signal);
        this.progress.unknownOutcomes++;
        this.progress.settledLandedMessages += settled.landed;
        if (settled.nextTargetOffset !== undefined) this.#advanceTarget(send.queue, settled.nextTargetOffset);
        if (this.#deps.policy.kind === "exactly-once") {
          this.#deps.logger.info(
            {
              topic: this.endpoints.sourceQueue.topic,
              brokerName: this.endpoints.sourceQueue.brokerName,
              queueId: this.endpoints.sourceQueue.queueId,
              target: queueKey(send.queue),
              sent: send.sourceOffsets.length,
              landed: settled.landed,
            },
            "unknown send outcome settled from the target",
          );
        }
        return settled.landed;
      } catch (err) {
        if (this.#hardStop.signal.aborted) return undefined;
        if (err instanceof RmqError && !err.retriable && err.code === "RMQ_EO_CHECKPOINT_UNREADABLE") {
          // The target cannot tell what landed (its range was removed, or it lost data): the
          // queue stops here, by name, rather than guess; a restart recovers from the checkpoint.
          this.#fail("settle", err);
          return undefined;
        }
        this.#recordError("settle", err, "send");
        await sleep(backoffDelay(attempt, this.#settings.backoff), this.#hardStop.signal);
      }
    }
  }

  #targetNext(queue: MessageQueue): bigint {
    return this.#targets.get(queueKey(queue))?.nextOffset ?? 0n;
  }

  #advanceTarget(queue: MessageQueue, nextOffset: bigint): void {
    const key = queueKey(queue);
    const known = this.#targets.get(key);
    if (known === undefined) this.#targets.set(key, { queue, nextOffset });
    else if (nextOffset > known.nextOffset) known.nextOffset = nextOffset;
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

  async #send(messages: Message[]): Promise<SendResult> {
    const { producer } = this.#deps;
    const options = {
      queue: this.endpoints.targetQueue,
      timeoutMs: this.#settings.sendTimeoutMs,
      signal: this.#hardStop.signal,
      resetOnTimeout: this.#resetOnTimeout,
    };
    this.progress.sends++;
    if (messages.length === 1) return producer.send(messages[0] as Message, options);
    return producer.sendBatch(messages, options);
  }

  /** Removes `count` items from the buffer after the target acknowledged their messages. */
  #acknowledge(count: number, sent: readonly MessageItem[], deadLettered?: MessageItem): void {
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
      const newest = sent[sent.length - 1] as MessageItem;
      this.#lastSent = { offset: newest.sourceOffset, storeMs: newest.storeMs, body: newest.message.body };
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

  async #deadLetter(item: MessageItem, cause: unknown): Promise<boolean> {
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
    const queue = this.endpoints.deadLetterQueue;
    for (let attempt = 0; ; attempt++) {
      const watermark = queue === undefined ? 0n : this.#targetNext(queue);
      const outer = this.#outstanding;
      if (queue !== undefined) this.#outstanding = queueKey(queue);
      try {
        try {
          const result = await this.#deps.producer.send(message, {
            ...(queue === undefined ? {} : { queue }),
            timeoutMs: this.#settings.sendTimeoutMs,
            signal: this.#hardStop.signal,
            resetOnTimeout: this.#resetOnTimeout,
          });
          this.#advanceTarget(result.queue, result.queueOffset + 1n);
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
          if (queue !== undefined && classifySendFailure(err) === "unknown") {
            const landed = await this.#settle({
              queue,
              sourceOffsets: [item.sourceOffset],
              watermark,
              writtenAtMs: Date.now(),
              error: err,
            });
            if (landed === undefined) return false;
            if (landed > 0) return true;
          }
          await sleep(backoffDelay(attempt, this.#settings.backoff), this.#hardStop.signal);
        }
      } finally {
        this.#outstanding = outer;
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
    const denied = accessDeniedReason(err);
    if (denied !== undefined) {
      // Its own kind: a permission or a secret to fix, not a broker to wait for.
      err = this.#deniedError(kind, err, denied);
      kind = "denied";
    }
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

  /**
   * A refusal on access-control grounds, said once in full: which cluster refused what, on which
   * resource, and why, and that the queue keeps its place. `kind` is what was being done.
   */
  #deniedError(kind: string, err: unknown, reason: string): RmqError {
    const { sourceCluster, targetCluster, sourceQueue, targetQueue, deadLetterTopic } = this.endpoints;
    const [cluster, what] =
      kind === "pull"
        ? [
            sourceCluster,
            `reading topic ${sourceQueue.topic} (${sourceQueue.brokerName}#${sourceQueue.queueId})`,
          ]
        : kind === "dead_letter"
          ? [targetCluster, `sending to dead-letter topic ${deadLetterTopic ?? "?"}`]
          : kind === "settle"
            ? [targetCluster, `reading target topic ${targetQueue.topic} to settle an unknown send`]
            : [targetCluster, `sending to topic ${targetQueue.topic}`];
    return new RmqError(
      "RMQ_ACCESS_DENIED",
      `cluster ${cluster} denied ${what}: ${reason.replace(/\.+$/, "")}. Grant the connector's access key that permission or fix its secret (a 4.x "forbidden" is the topic's or broker's own perm); the queue keeps its position and retries`,
      { cause: err, retriable: true, ...(err instanceof RmqError ? { context: err.context } : {}) },
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

/** How many leading items of `batch` end with its `messages`-th message (the skips before it included). */
function itemsThrough(batch: readonly Item[], messages: number): number {
  let seen = 0;
  for (let i = 0; i < batch.length; i++) {
    if (batch[i]?.kind === "message" && ++seen === messages) return i + 1;
  }
  return batch.length;
}
