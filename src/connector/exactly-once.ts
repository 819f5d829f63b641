/**
 * The exactly-once delivery mode (docs/exactly-once.md is the design; keep the two in step).
 *
 * The target queue is the source of truth. Every replicated message names its source position
 * (RMQC_SOURCE) and its writer (RMQC_WRITER); checkpoints are records in a topic of the target
 * cluster (checkpoint-store.ts), each with, per target queue, a watermark below which no message
 * of the source queue can land any more (invariant W). Recovery of a source queue, and settling a
 * send whose outcome is unknown, both: wait until the old attempt is dead (Assumption D: a request
 * the broker read is stored or refused within `deadAfterMs`), wait until the target broker has
 * dispatched what it stored, scan the target queue from the watermark, and resume after the
 * highest source offset found there.
 */
import type { Logger } from "../client/logger.js";
import type { RocketMQClient } from "../client/rocketmq-client.js";
import { queueKey, type MessageQueue } from "../client/types.js";
import { RmqError } from "../protocol/errors.js";
import { crc32 } from "../protocol/crc32.js";
import {
  ConsumerOffsetCheckpoint,
  type Checkpoint,
  type CheckpointEntry,
  type SavedPosition,
} from "./checkpoint.js";
import { CheckpointStore, type CheckpointRecord, type SourceQueueId, sourceKey } from "./checkpoint-store.js";
import type { DeliveryPolicy, SettledSend, UnsettledSend } from "./delivery.js";
import type { DeliveryMode, QueueAssignment } from "./queue-ownership.js";
import type { QueueReplicator, StartPosition, TargetPosition } from "./queue-replicator.js";
import { routeStartOffset } from "./start-position.js";
import {
  BrokerFences,
  findLatestOfSource,
  scanQueueForSource,
  sourceMatcher,
  type SourceHit,
  type SourceMatcher,
} from "./target-fence.js";

export interface ExactlyOnceSettings {
  /** Assumption D: a send request the broker read is stored or refused within this long (ms). */
  deadAfterMs: number;
  /** How long recovery waits for the target broker to settle and dispatch before it retries (ms). */
  fenceTimeoutMs: number;
  /** Messages read backwards from a target queue's end when a queue has no checkpoint record yet. */
  firstStartScanLimit: number;
  /**
   * How often a queue's record is written even when it did not move, and its target watermarks
   * raised where nothing is in flight (ms): both keep a record readable past the target's retention.
   */
  refreshIdleMs: number;
}

export const EXACTLY_ONCE_DEFAULTS: ExactlyOnceSettings = {
  deadAfterMs: 1000,
  fenceTimeoutMs: 30_000,
  firstStartScanLimit: 10_000,
  refreshIdleMs: 60_000,
};

export interface ExactlyOnceDeps {
  source: RocketMQClient;
  target: RocketMQClient;
  sourceCluster: string;
  /** The connector's name: RMQC_WRITER, the consumer group, the checkpoint topic. */
  writer: string;
  /** The checkpoint of the target cluster (shared by every route writing to it). */
  store: CheckpointStore;
  logger: Logger;
  settings: ExactlyOnceSettings;
  /**
   * When this connector began (EngineConfig.startedAtMs: the process's start under `run`, else the
   * engine's creation), ms: later than any write of the process or engine it replaced, so their
   * attempts are dead `deadAfterMs` after it.
   */
  startedAtMs: number;
}

/** The exactly-once mode of the routes from one source cluster to one target cluster. */
export class ExactlyOnceMode implements DeliveryMode {
  readonly checkpoint: Checkpoint;
  readonly refreshIdleMs: number;
  readonly saveAfterRecovery = true;
  readonly #deps: ExactlyOnceDeps;
  /** No attempt of an earlier process (or engine) can land after this time (ms): Assumption D. */
  readonly #earlierAttemptsDeadAtMs: number;
  /** When this process last released a source queue (by queueKey): its abandoned sends die D later. */
  readonly #releasedAtMs = new Map<string, number>();
  readonly #fences: BrokerFences;

  constructor(deps: ExactlyOnceDeps) {
    this.#deps = deps;
    this.#fences = new BrokerFences(deps.target.admin, { timeoutMs: deps.settings.fenceTimeoutMs });
    this.refreshIdleMs = deps.settings.refreshIdleMs;
    this.#earlierAttemptsDeadAtMs = deps.startedAtMs + deps.settings.deadAfterMs;
    this.checkpoint = new TargetCheckpoint(deps);
  }

  released(assignment: QueueAssignment): void {
    this.#releasedAtMs.set(queueKey(assignment.sourceQueue), Date.now());
  }

  refreshWatermarks(replicator: QueueReplicator): Promise<void> {
    const { admin } = this.#deps.target;
    return replicator.raiseWatermarks((queue) => admin.getMaxOffset(queue));
  }

  policy(assignment: QueueAssignment): DeliveryPolicy {
    const match = this.#matcher(assignment.sourceQueue, false);
    const deps = this.#deps;
    return {
      kind: "exactly-once",
      settle: (send: UnsettledSend, signal: AbortSignal): Promise<SettledSend> =>
        this.#forgettingFencesOnFailure([send.queue], async () => {
          const end = await this.#fence(send.queue, send.writtenAtMs + deps.settings.deadAfterMs, signal);
          const scan = await scanQueueForSource(
            deps.target.pullConsumer({ group: deps.writer }),
            deps.target.admin,
            send.queue,
            send.watermark,
            match,
            { signal, endOffset: end },
          );
          const highest = scan.highest?.sourceOffset;
          const landed = highest === undefined ? 0 : send.sourceOffsets.filter((o) => o <= highest).length;
          return { landed, nextTargetOffset: scan.endOffset };
        }),
    };
  }

  recover(
    assignment: QueueAssignment,
    saved: SavedPosition | undefined,
    signal: AbortSignal,
  ): Promise<StartPosition> {
    const { targetQueue, deadLetterQueue } = assignment;
    const queues = [
      targetQueue,
      ...(deadLetterQueue ? [deadLetterQueue] : []),
      ...(saved?.targets ?? []).map((t) => t.queue),
    ];
    return this.#forgettingFencesOnFailure(queues, () => this.#recover(assignment, saved, signal));
  }

  /**
   * Runs `work`; when it fails, forgets the fences of the brokers of `queues`: a retry must not
   * reuse a fence of a broker that may have restarted or failed over since (BrokerFences).
   */
  async #forgettingFencesOnFailure<T>(queues: readonly MessageQueue[], work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      for (const q of queues) this.#fences.forget(q.brokerName);
      throw err;
    }
  }

  async #recover(
    assignment: QueueAssignment,
    saved: SavedPosition | undefined,
    signal: AbortSignal,
  ): Promise<StartPosition> {
    const { sourceQueue, targetQueue, deadLetterQueue } = assignment;
    if (saved?.fingerprint !== undefined)
      await this.#checkFingerprint(sourceQueue, saved.fingerprint, signal);
    // A queue released by this process (a drain that timed out) may have left a send behind.
    const releasedAtMs = this.#releasedAtMs.get(queueKey(sourceQueue));
    const deadAtMs = Math.max(
      this.#earlierAttemptsDeadAtMs,
      releasedAtMs === undefined ? 0 : releasedAtMs + this.#deps.settings.deadAfterMs,
    );
    const queues = [targetQueue, ...(deadLetterQueue ? [deadLetterQueue] : [])];
    const current = new Set(queues.map((q) => queueKey(q)));
    const targets: TargetPosition[] = [];
    let next: bigint;
    if (saved !== undefined) {
      next = saved.nextSourceOffset;
      // Every queue the record names, and any the current mapping adds (nothing of S is there yet).
      const known = new Map(saved.targets.map((t) => [queueKey(t.queue), t]));
      for (const q of queues)
        if (!known.has(queueKey(q))) known.set(queueKey(q), { queue: q, nextOffset: -1n });
      const match = this.#matcher(sourceQueue, false);
      for (const t of known.values()) {
        const end = await this.#fence(t.queue, deadAtMs, signal);
        if (t.nextOffset < 0n) {
          targets.push({ queue: t.queue, nextOffset: end });
          continue;
        }
        const scan = await scanQueueForSource(
          this.#deps.target.pullConsumer({ group: this.#deps.writer }),
          this.#deps.target.admin,
          t.queue,
          t.nextOffset,
          match,
          { signal, endOffset: end },
        );
        if (scan.highest !== undefined && scan.highest.sourceOffset + 1n > next)
          next = scan.highest.sourceOffset + 1n;
        // A queue of an older mapping is done with once scanned: every attempt that could still
        // land there is dead (the wait and fences above) and nothing is sent there again.
        if (current.has(queueKey(t.queue))) targets.push({ queue: t.queue, nextOffset: scan.endOffset });
      }
    } else {
      // No record: a first start, or a switch from at-least-once. What the old mode wrote after
      // its last committed offset is found by reading the target queues backwards.
      const committed = (
        await new ConsumerOffsetCheckpoint(this.#deps.source.admin, this.#deps.writer).load([sourceQueue])
      ).get(queueKey(sourceQueue));
      next =
        committed?.nextSourceOffset ??
        (await routeStartOffset(this.#deps.source, this.#deps.writer, assignment.route, sourceQueue));
      const match = this.#matcher(sourceQueue, true);
      // A queue nobody ever replicated has no earlier attempt to wait for: an exactly-once owner
      // writes its record before its first send, an at-least-once one commits its start first, and
      // this process never released it. Then only a trace of S in its target queues (an
      // at-least-once owner whose committed start a source broker crash lost) brings the wait
      // back; their reading needs only a fence begun after this connector began.
      const untouched = committed === undefined && releasedAtMs === undefined;
      let found = await this.#latestOfSource(
        queues,
        match,
        untouched ? this.#deps.startedAtMs : deadAtMs,
        signal,
      );
      if (untouched && found.some((f) => f.traced))
        found = await this.#latestOfSource(queues, match, deadAtMs, signal);
      for (const { queue, end, latest } of found) {
        if (latest !== undefined && latest.sourceOffset + 1n > next) next = latest.sourceOffset + 1n;
        targets.push({ queue, nextOffset: end });
      }
      if (untouched && found.every((f) => !f.traced))
        this.#deps.logger.debug(
          { topic: sourceQueue.topic, brokerName: sourceQueue.brokerName, queueId: sourceQueue.queueId },
          "first start of a queue never replicated: no earlier attempt to wait for",
        );
    }
    this.#deps.logger.info(
      {
        topic: sourceQueue.topic,
        brokerName: sourceQueue.brokerName,
        queueId: sourceQueue.queueId,
        checkpoint: saved === undefined ? "none" : String(saved.nextSourceOffset),
        resumeAt: String(next),
      },
      "queue recovered from the target",
    );
    return { offset: next, targets, fingerprint: saved?.fingerprint };
  }

  /**
   * Per target queue: its end after a fence begun at or after deadAtMs, S's latest message there,
   * and whether S may have been there (`traced`): a message of S found, or more messages than the
   * backward reading takes (firstStartScanLimit), below which one could hide.
   */
  async #latestOfSource(
    queues: readonly MessageQueue[],
    match: SourceMatcher,
    deadAtMs: number,
    signal: AbortSignal,
  ): Promise<{ queue: MessageQueue; end: bigint; latest: SourceHit | undefined; traced: boolean }[]> {
    const { target, writer, settings } = this.#deps;
    const out: { queue: MessageQueue; end: bigint; latest: SourceHit | undefined; traced: boolean }[] = [];
    for (const queue of queues) {
      const end = await this.#fence(queue, deadAtMs, signal);
      const { hit: latest, readWhole } = await findLatestOfSource(
        target.pullConsumer({ group: writer }),
        target.admin,
        queue,
        match,
        { maxMessages: settings.firstStartScanLimit, signal },
      );
      out.push({ queue, end, latest, traced: latest !== undefined || !readWhole });
    }
    return out;
  }

  /**
   * Waits until every attempt to write `queue` made before deadAtMs - deadAfterMs is dead (by
   * deadAtMs), its target broker holds still (no stalled page-cache lock, no old request in its
   * send queue) and has dispatched everything it stored; then returns the queue's max offset,
   * which counts every message of those attempts. The broker's fence is shared (BrokerFences).
   */
  async #fence(queue: MessageQueue, deadAtMs: number, signal: AbortSignal): Promise<bigint> {
    await this.#fences.after(queue.brokerName, deadAtMs, signal);
    return this.#deps.target.admin.getMaxOffset(queue);
  }

  /** Matches target messages of `queue` written by this connector. */
  #matcher(queue: MessageQueue, allowMissingWriter: boolean): SourceMatcher {
    return sourceMatcher(this.#deps.writer, this.#id(queue), { allowMissingWriter });
  }

  #id(queue: MessageQueue): SourceQueueId {
    return sourceQueueId(this.#deps.sourceCluster, queue);
  }

  /**
   * The last replicated source message must still be there: a recreated topic reuses offsets
   * (F8), and replicating it from the old record would skip or duplicate by offset.
   */
  async #checkFingerprint(
    queue: MessageQueue,
    fingerprint: NonNullable<SavedPosition["fingerprint"]>,
    signal: AbortSignal,
  ): Promise<void> {
    const { source } = this.#deps;
    const result = await source.pullConsumer({ group: this.#deps.writer }).pull({
      queue,
      offset: fingerprint.offset,
      maxMessages: 1,
      decompress: false,
      offsetMsgIds: false,
      signal,
    });
    const found = result.messages.find((m) => m.queueOffset === fingerprint.offset);
    if (found !== undefined) {
      if (found.storeTimestamp === fingerprint.storeMs && crc32(found.storedBody) === fingerprint.bodyCrc)
        return;
      throw changedError(queue, fingerprint.offset, "holds another message than the one replicated there");
    }
    // Gone by retention is fine (the offset is below the queue's minimum); gone otherwise is not.
    if (fingerprint.offset < result.minOffset) return;
    throw changedError(queue, fingerprint.offset, `is beyond the queue's end (${result.maxOffset})`);
  }
}

function changedError(queue: MessageQueue, offset: bigint, what: string): RmqError {
  return new RmqError(
    "RMQ_EO_SOURCE_CHANGED",
    `source queue ${queue.topic} ${queue.brokerName}#${queue.queueId} changed under the checkpoint: offset ${offset} ${what} ` +
      `(the topic was recreated or truncated); the queue does not run rather than guess what is new. ` +
      `To replicate the topic as it is now, run the connector under a new name (a new consumer group and checkpoint: every queue starts at the route's start).`,
    { context: { topic: queue.topic, brokerName: queue.brokerName, queueId: queue.queueId } },
  );
}

/** Checkpoint records in the target cluster, with consumer offsets on the source beside them for lag tools. */
class TargetCheckpoint implements Checkpoint {
  readonly #deps: ExactlyOnceDeps;
  readonly #offsets: ConsumerOffsetCheckpoint;
  /** Source queues whose consumer offset this checkpoint committed once. */
  readonly #offsetCommitted = new Set<string>();
  #topicReady: Promise<void> | undefined;

  constructor(deps: ExactlyOnceDeps) {
    this.#deps = deps;
    this.#offsets = new ConsumerOffsetCheckpoint(deps.source.admin, deps.writer);
  }

  #ready(): Promise<void> {
    const ready =
      this.#topicReady ??
      this.#deps.store.ensureTopic().catch((err: unknown) => {
        this.#topicReady = undefined;
        throw err;
      });
    this.#topicReady = ready;
    return ready;
  }

  async load(queues: readonly MessageQueue[], signal?: AbortSignal): Promise<Map<string, SavedPosition>> {
    await this.#ready();
    const ids = queues.map((q) => this.#id(q));
    const records = await this.#deps.store.readLatest(ids, signal ? { signal } : {});
    const out = new Map<string, SavedPosition>();
    for (const q of queues) {
      const r = records.get(sourceKey(this.#id(q)));
      if (r === undefined) continue;
      out.set(queueKey(q), {
        nextSourceOffset: r.nextSourceOffset,
        targets: r.targets.map((t) => ({
          queue: { topic: t.topic, brokerName: t.broker, queueId: t.queueId },
          nextOffset: t.watermark,
        })),
        fingerprint: r.fingerprint,
      });
    }
    return out;
  }

  async save(entries: readonly CheckpointEntry[], signal?: AbortSignal): Promise<void> {
    await this.#ready();
    const now = Date.now();
    const records: CheckpointRecord[] = entries.map((e) => ({
      v: 1,
      writer: this.#deps.writer,
      source: this.#id(e.queue),
      nextSourceOffset: e.position.nextSourceOffset,
      fingerprint: e.position.fingerprint,
      targets: e.position.targets.map((t) => ({
        topic: t.queue.topic,
        broker: t.queue.brokerName,
        queueId: t.queue.queueId,
        watermark: t.nextOffset,
      })),
      writtenAtMs: now,
    }));
    await this.#deps.store.write(records, signal ? { signal } : {});
    // For mqadmin and dashboards, and a second trace of the queue: recovery reads the records
    // above, but a queue with neither a record it finds nor a committed offset counts as never
    // replicated and starts without Assumption D's wait. So a queue's first commit must succeed
    // (its pin, before any send); later ones may fail (the records carry the position).
    try {
      await this.#offsets.save(entries);
      for (const e of entries) this.#offsetCommitted.add(queueKey(e.queue));
    } catch (err) {
      if (entries.some((e) => !this.#offsetCommitted.has(queueKey(e.queue)))) throw err;
      this.#deps.logger.debug(
        { err: err instanceof Error ? err.message : String(err) },
        "consumer offset commit failed",
      );
    }
  }

  #id(queue: MessageQueue): SourceQueueId {
    return sourceQueueId(this.#deps.sourceCluster, queue);
  }
}

function sourceQueueId(cluster: string, queue: MessageQueue): SourceQueueId {
  return { cluster, topic: queue.topic, broker: queue.brokerName, queueId: queue.queueId };
}
