/**
 * Target-side primitives of exactly-once recovery (docs/exactly-once.md, "Recovery of a source
 * queue"): wait until a target broker has dispatched everything it stored, wait until it is not
 * stalled (Assumption D), and read a target queue to learn the highest source offset of one
 * source queue that landed there, failing safe on anything that cannot be read whole.
 *
 * The functions take the narrow parts of Admin and PullConsumer they use, so a real client is
 * passed as it is and a test can script a broker's answers (a rising min offset, a hole).
 */
import type { Admin, BrokerRuntimeInfo } from "../client/admin.js";
import type { PullConsumer } from "../client/pull-consumer.js";
import type { MessageQueue } from "../client/types.js";
import { ResponseCode } from "../protocol/codes.js";
import { BrokerError, RmqError } from "../protocol/errors.js";
import type { MessageExt } from "../protocol/message.js";
import { AbortedError } from "../transport/errors.js";
import { sleep } from "./backoff.js";
import { sourceKey, type SourceQueueId } from "./checkpoint-record.js";
import { Provenance } from "./message-mapping.js";

/** What the fence functions read from a broker. */
export type RuntimeInfoReader = Pick<Admin, "getBrokerRuntimeInfo">;
/** What a scan reads besides messages. */
export type QueueOffsetReader = Pick<Admin, "getMinOffset" | "getMaxOffset">;
/** What a scan pulls with. */
export type QueuePuller = Pick<PullConsumer, "pull">;

export interface WaitOptions {
  signal?: AbortSignal | undefined;
  /** Give up after this long, ms. Default 10 000. */
  timeoutMs?: number;
  /** Pause between two runtime-info reads, ms. Default 5 (dispatch normally lags 1-2 ms). */
  pollMs?: number;
}

export interface WaitResult {
  waitedMs: number;
  /** Runtime-info reads made, the first included. */
  polls: number;
}

/**
 * Resolves once broker `brokerName` (its master) has dispatched to its consume queues every byte
 * of commit log it had written when the call began; from then on GET_MAX_OFFSET of any of its
 * queues counts every message stored (acknowledged) before the call.
 *
 * Rule: the first answer gives C = commitLogMaxOffset; an answer (that one or a later one) with
 * commitLogMaxOffset - dispatchBehindBytes >= C settles it. Why that proves reputFromOffset >= C:
 * the broker reads commitLogMaxOffset (M) before dispatchBehindBytes = E - R in the same request
 * (AdminBrokerProcessor#prepareRuntimeInfo), where E, the end the reput service dispatches to, is
 * read after M, so E >= M, and R is reputFromOffset, which only grows. Hence M - (E - R) <= R.
 * E is the commit-log max offset on 4.9.7 and the confirm offset on 5.5.0, which equals the max
 * offset under ASYNC_FLUSH outside controller mode; with 5.x SYNC_FLUSH or controller mode the
 * rule overestimates (docs/exactly-once-broker-facts.md §3.3): use a per-queue fence there.
 *
 * Throws RmqError RMQ_EO_DISPATCH_TIMEOUT naming the broker, C and the last figures when it does
 * not settle within timeoutMs; AbortedError on abort; the admin call's errors as they are.
 */
export async function waitForDispatch(
  admin: RuntimeInfoReader,
  brokerName: string,
  options: WaitOptions = {},
): Promise<WaitResult> {
  let target: bigint | undefined;
  return pollRuntimeInfo(
    admin,
    brokerName,
    options,
    `waiting for dispatch on broker ${brokerName}`,
    (info, polls, timeoutMs) => {
      if (info.dispatchBehindBytes === undefined) {
        throw new RmqError(
          "RMQ_EO_DISPATCH_UNKNOWN",
          `broker ${brokerName} reports no dispatchBehindBytes in its runtime info: cannot tell whether its consume queues are complete`,
          { context: { brokerName } },
        );
      }
      target ??= info.commitLogMaxOffset;
      if (info.commitLogMaxOffset - info.dispatchBehindBytes >= target) return undefined;
      return new RmqError(
        "RMQ_EO_DISPATCH_TIMEOUT",
        `broker ${brokerName} has not dispatched its commit log up to ${target} within ${timeoutMs} ms (last answer: commitLogMaxOffset ${info.commitLogMaxOffset}, dispatchBehindBytes ${info.dispatchBehindBytes}, ${polls} reads)`,
        { retriable: true, context: { brokerName, commitLogOffset: target, polls } },
      );
    },
  );
}

export interface SettleOptions extends WaitOptions {
  /** Settled only while the put lock is held at most this long, ms. Default 0 (free). */
  maxPageCacheLockMs?: number;
  /** Settled only while the send queue's head is at most this old, ms. Default 200 (waitTimeMillsInSendQueue). */
  maxSendQueueHeadWaitMs?: number;
}

/**
 * Resolves once broker `brokerName` is not stalled: pageCacheLockTimeMills <= maxPageCacheLockMs
 * (0) and sendThreadPoolQueueHeadWaitTimeMills <= maxSendQueueHeadWaitMs (200). A stalled broker
 * may still store requests it read long ago, so "dead by time" (Assumption D) is not trusted
 * while it is. A key the broker omits counts as settled for that key (both 4.9.7 and 5.5.0 send
 * both). Throws RmqError RMQ_EO_BROKER_STALLED naming the broker and the last figures after
 * timeoutMs; AbortedError on abort.
 */
export async function waitBrokerSettled(
  admin: RuntimeInfoReader,
  brokerName: string,
  options: SettleOptions = {},
): Promise<WaitResult> {
  const maxLock = options.maxPageCacheLockMs ?? 0;
  const maxHead = options.maxSendQueueHeadWaitMs ?? 200;
  return pollRuntimeInfo(
    admin,
    brokerName,
    options,
    `waiting for broker ${brokerName} to settle`,
    (info, _polls, timeoutMs) => {
      const lock = info.pageCacheLockTimeMills ?? 0;
      const head = info.sendThreadPoolQueueHeadWaitTimeMills ?? 0;
      if (lock <= maxLock && head <= maxHead) return undefined;
      return new RmqError(
        "RMQ_EO_BROKER_STALLED",
        `broker ${brokerName} is still stalled after ${timeoutMs} ms: pageCacheLockTimeMills ${lock} (limit ${maxLock}), sendThreadPoolQueueHeadWaitTimeMills ${head} (limit ${maxHead})`,
        {
          retriable: true,
          context: { brokerName, pageCacheLockTimeMills: lock, sendThreadPoolQueueHeadWaitTimeMills: head },
        },
      );
    },
  );
}

/**
 * The fences of recovery and settling, one per target broker at a time and shared: a caller asks
 * for a fence that began once every attempt it cares about was dead (at or after its
 * `deadAtMs`), waits until then, and joins the fence of that broker under way or done if it began
 * late enough, else starts one: waitBrokerSettled, then waitForDispatch. What a fence proved when
 * it began (the broker was not stalled and has dispatched its commit log up to C, which holds
 * every write of attempts dead by then) stays true of that broker process, so a done fence
 * serves later callers too, until the mode `forget`s it: a call to the broker failed, and it may
 * have restarted or failed over to another master under the same name since.
 * Recovering 8 queues of one broker reads its runtime info twice, not 16 times at once (measured:
 * 8 reads at once take ~100 ms, the broker answers them one after another; one takes 11-18 ms).
 */
export class BrokerFences {
  readonly #admin: RuntimeInfoReader;
  readonly #options: SettleOptions;
  /** The latest fence of each broker, under way or succeeded (a failed one is forgotten). */
  readonly #latest = new Map<string, SharedFence>();

  constructor(admin: RuntimeInfoReader, options: Omit<SettleOptions, "signal"> = {}) {
    this.#admin = admin;
    this.#options = options;
  }

  /** Resolves once a fence of `brokerName` that began at or after `deadAtMs` has succeeded. */
  async after(brokerName: string, deadAtMs: number, signal?: AbortSignal): Promise<void> {
    // Waits until deadAtMs by the clock (a timer may fire a millisecond early).
    while (Date.now() < deadAtMs) {
      checkAborted(signal, `waiting for broker ${brokerName}'s earlier requests to die`);
      await sleep(deadAtMs - Date.now(), signal);
    }
    checkAborted(signal, `waiting for broker ${brokerName}'s earlier requests to die`);
    let fence = this.#latest.get(brokerName);
    if (fence === undefined || fence.beganAtMs < deadAtMs || fence.abandoned) {
      fence = this.#begin(brokerName);
    }
    return fence.join(signal);
  }

  /**
   * Forgets the broker's last fence: a call to it failed, and it may now be another process (a
   * restart, a failover to another master under the same name) whose dispatch no fence proved.
   */
  forget(brokerName: string): void {
    this.#latest.delete(brokerName);
  }

  #begin(brokerName: string): SharedFence {
    const fence = new SharedFence(Date.now(), async (signal) => {
      const options = { ...this.#options, signal };
      await waitBrokerSettled(this.#admin, brokerName, options);
      await waitForDispatch(this.#admin, brokerName, options);
    });
    this.#latest.set(brokerName, fence);
    fence.done.catch(() => {
      if (this.#latest.get(brokerName) === fence) this.#latest.delete(brokerName);
    });
    return fence;
  }
}

/** A fence run once for every caller that joins it; aborted when every caller left before it ended. */
class SharedFence {
  readonly beganAtMs: number;
  readonly done: Promise<void>;
  readonly #controller = new AbortController();
  #waiters = 0;
  #settled = false;

  constructor(beganAtMs: number, run: (signal: AbortSignal) => Promise<void>) {
    this.beganAtMs = beganAtMs;
    this.done = run(this.#controller.signal).finally(() => {
      this.#settled = true;
    });
    this.done.catch(() => undefined);
  }

  /** Aborted because nobody waited any more: a later caller starts another. */
  get abandoned(): boolean {
    return this.#controller.signal.aborted;
  }

  join(signal: AbortSignal | undefined): Promise<void> {
    if (this.#settled) return this.done;
    if (signal === undefined) {
      this.#waiters++; // stays: a caller that cannot leave keeps the fence alive
      return this.done;
    }
    if (signal.aborted) return Promise.reject(new AbortedError("aborted while waiting for a broker fence"));
    this.#waiters++;
    return new Promise<void>((resolve, reject) => {
      const leave = (): void => {
        signal.removeEventListener("abort", onAbort);
        this.#waiters--;
      };
      const onAbort = (): void => {
        leave();
        if (this.#waiters === 0 && !this.#settled) this.#controller.abort();
        reject(new AbortedError("aborted while waiting for a broker fence"));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.done.then(
        () => {
          if (signal.aborted) return;
          leave();
          resolve();
        },
        (err: unknown) => {
          if (signal.aborted) return;
          leave();
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }
}

/**
 * Reads broker `brokerName`'s runtime info every pollMs until `check` returns undefined (done);
 * otherwise `check` returns the error to throw should timeoutMs (default 10 000) pass first.
 */
async function pollRuntimeInfo(
  admin: RuntimeInfoReader,
  brokerName: string,
  options: WaitOptions,
  what: string,
  check: (info: BrokerRuntimeInfo, polls: number, timeoutMs: number) => RmqError | undefined,
): Promise<WaitResult> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const pollMs = options.pollMs ?? 5;
  for (let polls = 1; ; polls++) {
    checkAborted(options.signal, what);
    let failure: RmqError | undefined;
    try {
      const info = await admin.getBrokerRuntimeInfo(brokerName, { signal: options.signal });
      failure = check(info, polls, timeoutMs);
    } catch (err) {
      if (!statsNotSampledYet(err)) throw err;
      failure = new RmqError(
        "RMQ_EO_BROKER_STARTING",
        `broker ${brokerName} has no runtime statistics yet after ${timeoutMs} ms (${err.remark ?? ""})`,
        { retriable: true, cause: err, context: { brokerName } },
      );
    }
    if (failure === undefined) return { waitedMs: Date.now() - started, polls };
    if (Date.now() - started >= timeoutMs) throw failure;
    await sleep(pollMs, options.signal);
  }
}

/**
 * A 4.x broker in its first second answers GET_BROKER_RUNTIME_INFO with SYSTEM_ERROR
 * NoSuchElementException: StoreStatsService reads the last of its TPS samples, and the sampler
 * adds the first one a second after start. The broker is up, its figures are not: ask again.
 */
function statsNotSampledYet(err: unknown): err is BrokerError {
  return (
    err instanceof BrokerError &&
    err.responseCode === ResponseCode.SYSTEM_ERROR &&
    (err.remark ?? "").includes("NoSuchElementException")
  );
}

/** The message of a source queue found at the highest source offset, and where it is in the target. */
export interface SourceHit {
  sourceOffset: bigint;
  targetOffset: bigint;
}

/** Returns the source offset when `m` is a message of the source queue being recovered (ours), else undefined. */
export type SourceMatcher = (m: MessageExt) => bigint | undefined;

/**
 * The matcher of recovery: a message is of `source` when its RMQC_SOURCE names that queue and its
 * RMQC_WRITER is `writer` (or absent, with `allowMissingWriter`: at-least-once writes before
 * issue 10 carried none, which the switch to exactly-once tolerates on its one backward scan).
 * Compares the property's prefix, with no parse or allocation for messages of other queues.
 */
export function sourceMatcher(
  writer: string,
  source: SourceQueueId,
  options: { allowMissingWriter?: boolean } = {},
): SourceMatcher {
  const prefix = `${sourceKey(source)}/`;
  return (m) => {
    const w = m.properties[Provenance.WRITER];
    if (w !== writer && !(w === undefined && options.allowMissingWriter === true)) return undefined;
    const position = m.properties[Provenance.SOURCE];
    if (position === undefined || !position.startsWith(prefix)) return undefined;
    const offset = position.slice(prefix.length);
    return /^\d{1,19}$/.test(offset) ? BigInt(offset) : undefined;
  };
}

export interface ScanOptions {
  signal?: AbortSignal | undefined;
  /** Messages asked per pull. Default 32: the broker's cap for data in memory (8 from disk). */
  batch?: number;
  /** Read up to here (exclusive) instead of the max offset read at the start. */
  endOffset?: bigint;
}

export interface ScanResult {
  highest: SourceHit | undefined;
  /** Where the scan ended (exclusive): the max offset read at the start, or endOffset. */
  endOffset: bigint;
  /** Messages read. */
  scanned: number;
}

/**
 * Reads `queue` from `fromOffset` up to its max offset read at the start (or `endOffset`), from the
 * master, subscription "*", no offset commit, bodies not inflated, and returns the matching
 * message with the highest source offset. Call waitForDispatch on the queue's broker first, or
 * the max offset may miss what was stored but not yet dispatched.
 *
 * Fails safe with RmqError RMQ_EO_CHECKPOINT_UNREADABLE naming the queue and offsets when
 * fromOffset < the queue's min offset (retention removed part of the range), fromOffset > its max
 * offset (the target lost data, e.g. an unflushed tail after a crash), a pull answers anything but
 * FOUND inside the range (OFFSET_ILLEGAL, a removed commit-log file, a consume-queue hole), or the
 * offsets read are not contiguous.
 */
export async function scanQueueForSource(
  consumer: QueuePuller,
  admin: QueueOffsetReader,
  queue: MessageQueue,
  fromOffset: bigint,
  match: SourceMatcher,
  options: ScanOptions = {},
): Promise<ScanResult> {
  const call = { signal: options.signal };
  const [minOffset, maxOffset] = await Promise.all([
    admin.getMinOffset(queue, call),
    admin.getMaxOffset(queue, call),
  ]);
  const endOffset = options.endOffset ?? maxOffset;
  if (fromOffset < minOffset) {
    throw unreadable(
      queue,
      fromOffset,
      `is below the queue's min offset ${minOffset}: retention removed messages the scan must read`,
    );
  }
  if (fromOffset > maxOffset) {
    throw unreadable(
      queue,
      fromOffset,
      `is beyond the queue's max offset ${maxOffset}: the target lost messages it had stored (e.g. an unflushed tail after a crash) or the queue was recreated`,
    );
  }
  if (endOffset > maxOffset) {
    throw unreadable(queue, endOffset, `(the scan's end) is beyond the queue's max offset ${maxOffset}`);
  }
  let highest: SourceHit | undefined;
  const scanned = await readQueueRange(consumer, queue, fromOffset, endOffset, options, (m) => {
    const sourceOffset = match(m);
    if (sourceOffset !== undefined && (highest === undefined || sourceOffset > highest.sourceOffset)) {
      highest = { sourceOffset, targetOffset: m.queueOffset };
    }
  });
  return { highest, endOffset, scanned };
}

export interface FindLatestOptions {
  /** Stop after reading this many messages. */
  maxMessages: number;
  signal?: AbortSignal | undefined;
}

/** What a backward reading found: S's latest message, and whether it read down to the min offset. */
export interface LatestOfSource {
  hit: SourceHit | undefined;
  /** No match was found above the queue's min offset: the whole queue was read (false: stopped at maxMessages). */
  readWhole: boolean;
}

/**
 * Reads `queue` backwards from its max offset in steps of 32 until a step holds a matching message,
 * and returns the highest source offset of that step with its target offset; no hit once
 * maxMessages were read (readWhole false) or the min offset was reached (readWhole true) without a
 * match. (For switching an at-least-once connector to exactly-once, and telling a queue never
 * replicated, where no checkpoint exists yet.) Throws like scanQueueForSource when a step cannot be
 * read whole (e.g. retention moved the min offset meanwhile).
 */
export async function findLatestOfSource(
  consumer: QueuePuller,
  admin: QueueOffsetReader,
  queue: MessageQueue,
  match: SourceMatcher,
  options: FindLatestOptions,
): Promise<LatestOfSource> {
  const call = { signal: options.signal };
  const [minOffset, maxOffset] = await Promise.all([
    admin.getMinOffset(queue, call),
    admin.getMaxOffset(queue, call),
  ]);
  let end = maxOffset;
  let read = 0;
  while (end > minOffset && read < options.maxMessages) {
    const step = BigInt(Math.min(STEP, options.maxMessages - read));
    const from = end - step > minOffset ? end - step : minOffset;
    let highest: SourceHit | undefined;
    read += await readQueueRange(consumer, queue, from, end, options, (m) => {
      const sourceOffset = match(m);
      if (sourceOffset !== undefined && (highest === undefined || sourceOffset > highest.sourceOffset)) {
        highest = { sourceOffset, targetOffset: m.queueOffset };
      }
    });
    if (highest !== undefined) return { hit: highest, readWhole: false };
    end = from;
  }
  return { hit: undefined, readWhole: end <= minOffset };
}

/** Messages per backward step: the most one pull returns from memory. */
const STEP = 32;

/**
 * Pulls [from, end) of `queue` in order (subscription "*", no commit, bodies not inflated) and
 * hands each message to `onMessage`; returns how many. Every answer must be FOUND with offsets
 * from exactly where the previous one ended, else RmqError RMQ_EO_CHECKPOINT_UNREADABLE.
 */
export async function readQueueRange(
  consumer: QueuePuller,
  queue: MessageQueue,
  from: bigint,
  end: bigint,
  options: { signal?: AbortSignal | undefined; batch?: number },
  onMessage: (m: MessageExt) => void,
): Promise<number> {
  const batch = options.batch ?? STEP;
  let next = from;
  let count = 0;
  while (next < end) {
    checkAborted(options.signal, `scanning ${queue.topic} queue ${queue.brokerName}#${queue.queueId}`);
    const wanted = end - next < BigInt(batch) ? Number(end - next) : batch;
    const result = await consumer.pull({
      queue,
      offset: next,
      maxMessages: wanted,
      suspendTimeoutMs: 0,
      decompress: false,
      offsetMsgIds: false,
      signal: options.signal,
    });
    if (result.status !== "FOUND" || result.messages.length === 0) {
      throw unreadable(
        queue,
        next,
        `answered ${result.status} inside the range [${from}, ${end}) (min offset ${result.minOffset}, max offset ${result.maxOffset}, next ${result.nextBeginOffset})`,
        true,
      );
    }
    for (const m of result.messages) {
      if (m.queueOffset !== next) {
        throw unreadable(
          queue,
          next,
          `was expected but the broker returned offset ${m.queueOffset}: a gap in the queue`,
          true,
        );
      }
      if (next < end) {
        onMessage(m);
        count++;
      }
      next++;
    }
    if (result.nextBeginOffset !== next) {
      throw unreadable(
        queue,
        next,
        `was expected next but the broker says ${result.nextBeginOffset}: a gap in the queue`,
        true,
      );
    }
  }
  return count;
}

/**
 * `retriable`: a skipped entry inside the range (the broker could not read it at that moment,
 * pull-gaps.ts) may be served on the next try; a range below the min or beyond the max offset
 * will not come back.
 */
function unreadable(queue: MessageQueue, offset: bigint, why: string, retriable = false): RmqError {
  return new RmqError(
    "RMQ_EO_CHECKPOINT_UNREADABLE",
    `cannot read ${queue.topic} queue ${queue.brokerName}#${queue.queueId} whole: offset ${offset} ${why}`,
    {
      retriable,
      context: { topic: queue.topic, brokerName: queue.brokerName, queueId: queue.queueId, offset },
    },
  );
}

function checkAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortedError(`aborted while ${what}`);
}
