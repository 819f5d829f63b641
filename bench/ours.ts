/**
 * Our client's side of the benchmark, the same work as JavaClientBench: `concurrency` send loops
 * (loop i owns queue i % queues, one request in flight each), and one pull loop per queue.
 */
import type { Admin, Message, MessageQueue, Producer, PullConsumer } from "../src/client/index.js";
import { LatencyRecorder, RssSampler, type PhaseResult } from "./stats.js";

export interface SendPhaseOptions {
  topic: string;
  queues: readonly MessageQueue[];
  count: number;
  body: Buffer;
  /** Messages per sendBatch(); undefined sends one message per send(). */
  batch?: number | undefined;
  concurrency: number;
  deadlineMs: number;
}

/** Sends `count` messages and measures throughput, per-call latency and peak RSS. */
export async function sendPhase(producer: Producer, o: SendPhaseOptions): Promise<PhaseResult> {
  const latency = new LatencyRecorder();
  const rss = new RssSampler();
  let sent = 0;
  let errors = 0;
  let firstError: string | undefined;
  let timedOut = false;
  const started = performance.now();
  const deadline = started + o.deadlineMs;
  const loops = Array.from({ length: o.concurrency }, async (_, i) => {
    const queue = o.queues[i % o.queues.length] as MessageQueue;
    const share = Math.floor(o.count / o.concurrency) + (i < o.count % o.concurrency ? 1 : 0);
    let done = 0;
    while (done < share) {
      if (performance.now() >= deadline) {
        timedOut = true;
        return;
      }
      const n = o.batch === undefined ? 1 : Math.min(o.batch, share - done);
      const t0 = performance.now();
      try {
        if (o.batch === undefined) {
          await producer.send({ topic: o.topic, body: o.body }, { queue });
        } else {
          const messages: Message[] = [];
          for (let k = 0; k < n; k++) messages.push({ topic: o.topic, body: o.body });
          await producer.sendBatch(messages, { queue });
        }
        latency.add(performance.now() - t0);
        sent += n;
      } catch (err) {
        errors++;
        firstError ??= String(err);
        if (errors > 100) return;
      }
      done += n;
    }
  });
  await Promise.all(loops);
  const elapsedMs = performance.now() - started;
  const { p50Ms, p99Ms } = latency.summary();
  return {
    messages: sent,
    elapsedMs,
    latencyP50Ms: p50Ms,
    latencyP99Ms: p99Ms,
    peakRssMiB: rss.stop(),
    timedOut,
    errors,
    firstError,
  };
}

export interface PullPhaseOptions {
  queues: readonly MessageQueue[];
  /** Stop once this many messages arrived (or every queue reached its max offset). */
  count: number;
  maxMessages: number;
  deadlineMs: number;
  /** Decode as the connector does: no inflating, no offsetMsgId (default: as the Java client). */
  asConnector?: boolean;
}

/**
 * Pulls every queue from offset 0 up to its max offset (read before the clock starts), one loop
 * per queue with one pull in flight, until `count` messages arrived; measures throughput and
 * peak RSS. The Java side's clock includes its assign() and seek() calls, a few ms.
 */
export async function pullPhase(
  consumer: PullConsumer,
  admin: Admin,
  o: PullPhaseOptions,
): Promise<PhaseResult> {
  const ends = await Promise.all(o.queues.map((q) => admin.getMaxOffset(q)));
  const rss = new RssSampler();
  let received = 0;
  let bodyBytes = 0;
  let errors = 0;
  let firstError: string | undefined;
  let timedOut = false;
  const started = performance.now();
  const deadline = started + o.deadlineMs;
  const loops = o.queues.map(async (queue, i) => {
    const end = ends[i] ?? 0n;
    let offset = 0n;
    while (offset < end && received < o.count) {
      if (performance.now() >= deadline) {
        timedOut = true;
        return;
      }
      try {
        const r = await consumer.pull({
          queue,
          offset,
          maxMessages: o.maxMessages,
          suspendTimeoutMs: 1000,
          ...(o.asConnector === true ? { decompress: false, offsetMsgIds: false } : {}),
        });
        for (const m of r.messages) bodyBytes += m.body?.length ?? 0;
        received += r.messages.length;
        offset = r.nextBeginOffset;
      } catch (err) {
        errors++;
        firstError ??= String(err);
        if (errors > 100) return;
      }
    }
  });
  await Promise.all(loops);
  const elapsedMs = performance.now() - started;
  if (bodyBytes < 0) throw new Error("unreachable: keeps the body reads from being optimized away");
  return { messages: received, elapsedMs, peakRssMiB: rss.stop(), timedOut, errors, firstError };
}
