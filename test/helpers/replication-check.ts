/**
 * Compares a target topic with its source message by message through provenance (RMQC_SOURCE):
 * per source queue, what is missing, stored twice, out of source order or altered. The stand-in
 * for src/connector/verify.ts (issue 10 §3) until it lands; its result has verifyRoutes' shape
 * (`clean`, `totals`, `queues`) so a caller can switch with one line.
 *
 * Memory: one byte count and one body string per source message (bodies in these tests are tens
 * of bytes), so a few hundred thousand messages fit.
 */
import type { RocketMQClient } from "../../src/client/rocketmq-client.js";
import type { MessageQueue } from "../../src/client/types.js";
import { parsePosition, Provenance } from "../../src/connector/message-mapping.js";

export interface CheckTotals {
  /** Source messages compared. */
  checked: number;
  /** Source messages with no copy in the target. */
  missing: number;
  /** Extra copies: a message stored three times counts 2. */
  duplicated: number;
  /** First copies stored after a first copy of a later source offset of the same source queue. */
  outOfOrder: number;
  /** Copies whose body differs from the source's, or that name a source offset the source lacks. */
  altered: number;
}

export interface QueueCheck extends CheckTotals {
  /** `brokerName#queueId` of the source queue. */
  sourceQueue: string;
  /** The source range compared: [minOffset, maxOffset). */
  minOffset: bigint;
  maxOffset: bigint;
  /** Up to 10 missing source offsets, for the failure message. */
  firstMissing: bigint[];
}

export interface ReplicationCheck {
  /** No message missing, duplicated, out of order or altered. */
  clean: boolean;
  totals: CheckTotals;
  queues: QueueCheck[];
}

export interface CheckOptions {
  source: RocketMQClient;
  target: RocketMQClient;
  /** The source cluster's name in the connector's config (the first part of RMQC_SOURCE). */
  sourceCluster: string;
  topic: string;
  /** Default: `topic`. */
  targetTopic?: string;
  /** Count only target messages with this RMQC_WRITER (the connector's name); default: any. */
  writer?: string;
  /** Per pull request, ms. Default 10 000. */
  requestTimeoutMs?: number;
}

interface SourceQueueState {
  check: QueueCheck;
  /** Body (latin1) per offset - minOffset. */
  bodies: string[];
  /** Copies found in the target per offset - minOffset (saturates at 255). */
  copies: Uint8Array;
}

/**
 * Reads the source topic and the whole target topic (every queue, min to max offset) and
 * compares them. "Order kept" means: within one target queue, the first copies of one source
 * queue's messages appear with increasing source offsets; re-sent copies (duplicates) are set
 * aside for this, since at-least-once re-sends a block it already sent.
 * @throws the client's errors when a broker does not answer.
 */
export async function checkReplication(options: CheckOptions): Promise<ReplicationCheck> {
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const sourceQueues = new Map<string, SourceQueueState>();
  for (const queue of await queuesOf(options.source, options.topic)) {
    const check: QueueCheck = {
      sourceQueue: `${queue.brokerName}#${queue.queueId}`,
      minOffset: await options.source.admin.getMinOffset(queue, { timeoutMs }),
      maxOffset: await options.source.admin.getMaxOffset(queue, { timeoutMs }),
      checked: 0,
      missing: 0,
      duplicated: 0,
      outOfOrder: 0,
      altered: 0,
      firstMissing: [],
    };
    const bodies: string[] = [];
    await readQueue(options.source, queue, check.minOffset, check.maxOffset, timeoutMs, (m) => {
      bodies.push(m.body.toString("latin1"));
    });
    check.checked = bodies.length;
    sourceQueues.set(check.sourceQueue, { check, bodies, copies: new Uint8Array(bodies.length) });
  }

  let unexpected = 0;
  for (const queue of await queuesOf(options.target, options.targetTopic ?? options.topic)) {
    const min = await options.target.admin.getMinOffset(queue, { timeoutMs });
    const max = await options.target.admin.getMaxOffset(queue, { timeoutMs });
    // Per source queue, the highest source offset whose first copy this target queue holds.
    const highestFirst = new Map<string, bigint>();
    await readQueue(options.target, queue, min, max, timeoutMs, (m) => {
      const provenance = m.properties[Provenance.SOURCE];
      const position = provenance === undefined ? undefined : parsePosition(provenance);
      if (position?.cluster !== options.sourceCluster || position.topic !== options.topic) return;
      if (options.writer !== undefined && m.properties[Provenance.WRITER] !== options.writer) return;
      const key = `${position.brokerName}#${position.queueId}`;
      const state = sourceQueues.get(key);
      const index = state === undefined ? -1 : Number(position.queueOffset - state.check.minOffset);
      if (state === undefined || index < 0 || index >= state.bodies.length) {
        // A copy of a source message the source does not hold (its queue, or this offset).
        unexpected++;
        return;
      }
      if (m.body.toString("latin1") !== state.bodies[index]) state.check.altered++;
      const copies = state.copies[index] ?? 0;
      if (copies < 255) state.copies[index] = copies + 1;
      if (copies > 0) {
        state.check.duplicated++;
        return;
      }
      const highest = highestFirst.get(key);
      if (highest !== undefined && position.queueOffset < highest) state.check.outOfOrder++;
      else highestFirst.set(key, position.queueOffset);
    });
  }

  const totals: CheckTotals = { checked: 0, missing: 0, duplicated: 0, outOfOrder: 0, altered: unexpected };
  const queues: QueueCheck[] = [];
  for (const { check, copies } of sourceQueues.values()) {
    copies.forEach((n, i) => {
      if (n > 0) return;
      check.missing++;
      if (check.firstMissing.length < 10) check.firstMissing.push(check.minOffset + BigInt(i));
    });
    totals.checked += check.checked;
    totals.missing += check.missing;
    totals.duplicated += check.duplicated;
    totals.outOfOrder += check.outOfOrder;
    totals.altered += check.altered;
    queues.push(check);
  }
  const clean = totals.missing + totals.duplicated + totals.outOfOrder + totals.altered === 0;
  return { clean, totals, queues };
}

/** One line of totals, for logs and failure messages. */
export function formatCheck(check: ReplicationCheck): string {
  const t = check.totals;
  return `${t.checked} checked, ${t.missing} missing, ${t.duplicated} duplicated, ${t.outOfOrder} out of order, ${t.altered} altered`;
}

async function queuesOf(client: RocketMQClient, topic: string): Promise<MessageQueue[]> {
  const route = await client.admin.getTopicRoute(topic, { refresh: true });
  return route.readQueues();
}

/** Calls `each` for every message of `queue` in [from, to), in queue order. */
async function readQueue(
  client: RocketMQClient,
  queue: MessageQueue,
  from: bigint,
  to: bigint,
  timeoutMs: number,
  each: (m: { body: Buffer; properties: Readonly<Record<string, string>> }) => void,
): Promise<void> {
  const consumer = client.pullConsumer({ group: "rmq_connector_test_check" });
  let offset = from;
  while (offset < to) {
    const r = await consumer.pull({ queue, offset, maxMessages: 32, suspendTimeoutMs: 0, timeoutMs });
    for (const m of r.messages) {
      if (m.queueOffset >= to) return;
      each({ body: m.body ?? Buffer.alloc(0), properties: m.properties });
    }
    if (r.nextBeginOffset <= offset) {
      throw new Error(
        `reading ${queue.topic} ${queue.brokerName}#${queue.queueId} stalled at offset ${offset} (${r.status}) before ${to}`,
      );
    }
    offset = r.nextBeginOffset;
  }
}
