/**
 * Pulls one queue from an explicit offset (PULL_MESSAGE), with long polling and a tag
 * expression. The broker filters by tag hash code, which can collide, so tags are re-checked
 * here by exact string, as the Java client does (PullAPIWrapper.processPullResult).
 *
 * "No new message", "no matched message" and "offset moved" are results, not errors; every
 * result carries nextBeginOffset, where the next pull continues (on OFFSET_ILLEGAL it is the
 * broker's corrected offset).
 *
 * A long poll's timeout must outlast the broker's hold: the broker answers an idle long poll only
 * when its hold service, which wakes every 5 s (PullRequestHoldService), finds it older than the
 * suspend time, so a healthy broker answers up to ~5 s after the suspend time, later under load.
 * A 5 s margin raced that check and lost every ~40 s on idle queues (measured answers at
 * 19 989-20 077 ms for a 15 s suspend, 5.5.0 and 4.9.7). The margin is the Java client's (15 s
 * suspend, 30 s timeout for the push consumer), and a timeout that would race the broker is refused.
 */
import { RequestCode, ResponseCode } from "../protocol/codes.js";
import { RmqError } from "../protocol/errors.js";
import { decodePullMessageResponseHeader } from "../protocol/headers/pull-message.js";
import { decodeStoredMessages, type MessageExt } from "../protocol/message.js";
import { PullSysFlag } from "../protocol/sysflag.js";
import { parseTagExpression, tagMatches } from "../protocol/tag-hash.js";
import { toExtFields } from "../protocol/remoting-command.js";
import { expectCodes } from "./broker-call.js";
import { requestQueueBroker, type ClientContext } from "./context.js";
import type { CallOptions } from "./name-server.js";
import type { MessageQueue, PullStatus } from "./types.js";

export interface PullConsumerOptions {
  /** Consumer group the broker accounts the pull to (must exist or be auto-creatable). */
  group: string;
}

export interface PullOptions extends CallOptions {
  queue: MessageQueue;
  /** Queue offset to read from (RocketMQ's nextOffset). */
  offset: bigint;
  /** At most this many messages (the broker also caps per pull: 32 in memory, 8 from disk). Default 32. */
  maxMessages?: number;
  /** Tag expression: "*" (default), "TagA", "TagA || TagB". */
  tags?: string;
  /**
   * How long the broker may hold the pull when nothing is new (long polling). 0 returns at
   * once. Default 15 000 ms. A long poll's request timeout defaults to this plus
   * LONG_POLL_TIMEOUT_MARGIN_MS (15 000); a pull with 0 uses the client's requestTimeoutMs.
   */
  suspendTimeoutMs?: number;
  /** Let the broker store this consumer offset for the group with the pull (COMMIT_OFFSET). */
  commitOffset?: bigint;
  /**
   * Inflate zlib bodies into `body` (default true). A caller that forwards `storedBody` as it is
   * (the connector passes compressed bodies through) skips the work with false.
   */
  decompress?: boolean;
  /** Format each message's offsetMsgId (default true); with false it is "" (see DecodeStoredMessagesOptions). */
  offsetMsgIds?: boolean;
}

export interface PullResult {
  status: PullStatus;
  /** Where the next pull continues. */
  nextBeginOffset: bigint;
  minOffset: bigint;
  maxOffset: bigint;
  /** Messages that passed the tag filter, in queue order (empty unless FOUND). */
  messages: MessageExt[];
  /** Messages the broker returned that the exact-string tag re-check dropped. */
  filteredOut: number;
}

/**
 * What a long poll's request timeout adds to its suspend time by default, in ms: the broker's
 * hold-service period (5 s) plus room for scheduling, GC pauses and the round trip, as the Java
 * client keeps (15 s suspend, 30 s timeout).
 */
export const LONG_POLL_TIMEOUT_MARGIN_MS = 15_000;

/**
 * The least margin a caller's own long-poll timeout may have, in ms: twice the broker's hold
 * period (5 s). At suspend + 5 s the client's timer fires when a healthy broker answers (the race
 * this replaces); the second period covers a hold-service run that is late (a busy or paused
 * broker) and the round trip.
 */
const LONG_POLL_MIN_MARGIN_MS = 10_000;

const STATUS_BY_CODE: ReadonlyMap<number, PullStatus> = new Map([
  [ResponseCode.SUCCESS, "FOUND"],
  [ResponseCode.PULL_NOT_FOUND, "NO_NEW_MSG"],
  [ResponseCode.PULL_RETRY_IMMEDIATELY, "NO_MATCHED_MSG"],
  [ResponseCode.PULL_OFFSET_MOVED, "OFFSET_ILLEGAL"],
]);

export class PullConsumer {
  readonly #ctx: ClientContext;
  readonly group: string;

  constructor(ctx: ClientContext, options: PullConsumerOptions) {
    this.#ctx = ctx;
    this.group = options.group;
  }

  /**
   * Pulls from `queue` at `offset`. Throws BrokerError for failures (e.g.
   * SUBSCRIPTION_GROUP_NOT_EXIST, TOPIC_NOT_EXIST), ConnectionError / RequestTimeoutError,
   * ProtocolError if the body cannot be decoded, and RmqError RMQ_INVALID_ARGUMENT, before
   * sending, when a long poll's `timeoutMs` is below its suspend time plus 10 000 ms (it would
   * time out while a healthy broker still holds the pull).
   */
  async pull(options: PullOptions): Promise<PullResult> {
    const { queue } = options;
    const expression = options.tags ?? "*";
    const parsed = parseTagExpression(expression);
    const suspendTimeoutMs = options.suspendTimeoutMs ?? 15_000;
    const timeoutMs = pullTimeoutMs(suspendTimeoutMs, options.timeoutMs);
    let sysFlag = PullSysFlag.FLAG_SUBSCRIPTION;
    if (suspendTimeoutMs > 0) sysFlag |= PullSysFlag.FLAG_SUSPEND;
    if (options.commitOffset !== undefined) sysFlag |= PullSysFlag.FLAG_COMMIT_OFFSET;
    const header = toExtFields({
      consumerGroup: this.group,
      topic: queue.topic,
      queueId: queue.queueId,
      queueOffset: options.offset,
      maxMsgNums: options.maxMessages ?? 32,
      sysFlag,
      commitOffset: options.commitOffset ?? 0n,
      suspendTimeoutMillis: suspendTimeoutMs,
      subscription: "all" in parsed ? "*" : expression,
      subVersion: Date.now(),
      expressionType: "TAG",
      bname: queue.brokerName,
    });
    const context = { topic: queue.topic, brokerName: queue.brokerName, queueId: queue.queueId };
    const response = await requestQueueBroker(
      this.#ctx,
      queue,
      { code: RequestCode.PULL_MESSAGE, extFields: header },
      { ...(timeoutMs === undefined ? {} : { timeoutMs }), signal: options.signal },
    );
    expectCodes(
      response,
      `pull ${queue.topic} queue ${queue.brokerName}#${queue.queueId} at ${options.offset}`,
      {
        ...context,
        address: response.address,
      },
      [...STATUS_BY_CODE.keys()],
    );
    const status = STATUS_BY_CODE.get(response.code) as PullStatus;
    const offsets = decodePullMessageResponseHeader(response.extFields);
    let messages: MessageExt[] = [];
    let filteredOut = 0;
    if (status === "FOUND" && response.body && response.body.length > 0) {
      const all = decodeStoredMessages(response.body, {
        decompress: options.decompress ?? true,
        offsetMsgIds: options.offsetMsgIds ?? true,
      });
      messages = "all" in parsed ? all : all.filter((m) => tagMatches(parsed, m.tags));
      filteredOut = all.length - messages.length;
    }
    return { status, ...offsets, messages, filteredOut };
  }
}

/**
 * The request timeout of a pull: the caller's, checked against the suspend time, else for a long
 * poll the suspend time plus LONG_POLL_TIMEOUT_MARGIN_MS, else undefined (the client's
 * requestTimeoutMs: a pull that does not suspend is answered at once, like any request).
 */
function pullTimeoutMs(suspendTimeoutMs: number, timeoutMs: number | undefined): number | undefined {
  if (suspendTimeoutMs <= 0) return timeoutMs;
  if (timeoutMs === undefined) return suspendTimeoutMs + LONG_POLL_TIMEOUT_MARGIN_MS;
  if (timeoutMs < suspendTimeoutMs + LONG_POLL_MIN_MARGIN_MS) {
    throw new RmqError(
      "RMQ_INVALID_ARGUMENT",
      `pull timeoutMs ${timeoutMs} is too short for suspendTimeoutMs ${suspendTimeoutMs}: a long poll's timeout must be at least the suspend time plus ${LONG_POLL_MIN_MARGIN_MS} ms (${suspendTimeoutMs + LONG_POLL_MIN_MARGIN_MS}), since the broker answers an idle long poll up to its 5 s hold period after the suspend time; leave timeoutMs out for suspend + ${LONG_POLL_TIMEOUT_MARGIN_MS} ms`,
      { context: { suspendTimeoutMs, timeoutMs } },
    );
  }
  return timeoutMs;
}
