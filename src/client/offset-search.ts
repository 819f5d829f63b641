/**
 * Exact search of a queue offset by store time. The broker's SEARCH_OFFSET_BY_TIMESTAMP is only a
 * first guess: 4.x answers the message nearest the time, which can be just before it, and any one
 * of several stored in the same millisecond. So the guess is checked against the store times of
 * pulled messages and corrected with a bounded number of one-message pulls (two when the guess
 * is right, as 5.x's usually is).
 */
import type { Admin } from "./admin.js";
import type { CallOptions } from "./name-server.js";
import type { PullConsumer } from "./pull-consumer.js";
import type { MessageQueue } from "./types.js";

/**
 * The first offset of `queue` whose message was stored at or after `timestampMs` (epoch ms,
 * compared with the broker's store timestamp):
 * - `timestampMs` at or before the first message still stored: the queue's min offset;
 * - after the last message (also a time in the future): the max offset, where the next message
 *   will be written; messages written after the search are not checked against the time;
 * - an empty queue: its max offset (which equals its min offset).
 *
 * Costs 3 offset requests and O(log distance) one-message pulls (at most about 2 log2 of the
 * queue length; two when the broker's guess is right), accounted to `consumer`'s group. Throws what Admin's offset calls and PullConsumer.pull throw (BrokerError,
 * ConnectionError, RequestTimeoutError, AbortedError on `options.signal`).
 */
export async function findOffsetByStoreTime(
  admin: Admin,
  consumer: PullConsumer,
  queue: MessageQueue,
  timestampMs: number,
  options: CallOptions = {},
): Promise<bigint> {
  const [min, max, guess] = await Promise.all([
    admin.getMinOffset(queue, options),
    admin.getMaxOffset(queue, options),
    admin.searchOffset(queue, timestampMs, options),
  ]);
  const storeTimeAt = async (offset: bigint): Promise<number | undefined> => {
    const r = await consumer.pull({
      queue,
      offset,
      maxMessages: 1,
      suspendTimeoutMs: 0,
      decompress: false,
      offsetMsgIds: false,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    // A message missing at `offset` (a gap) answers with the next one, stored no earlier: its
    // time decides the same way the missing one's would have, or it is the answer itself.
    const m = r.messages[0];
    return m !== undefined && m.queueOffset >= offset ? m.storeTimestamp : undefined;
  };
  return searchStoreTime(storeTimeAt, min, max, guess, timestampMs);
}

/**
 * The first offset in [min, max) whose store time is at or after `timestampMs`, or `max` when
 * there is none. `storeTimeAt(offset)` gives the store timestamp at `offset`, undefined when
 * there is no message (counted as "not before", so the search never skips past it). Store
 * timestamps never decrease along a queue (the broker stamps them under its commit-log lock), so
 * this walks from `guess` in doubling steps to bracket the answer, then bisects. Exported for
 * unit tests; findOffsetByStoreTime is the client call.
 */
export async function searchStoreTime(
  storeTimeAt: (offset: bigint) => Promise<number | undefined>,
  min: bigint,
  max: bigint,
  guess: bigint,
  timestampMs: number,
): Promise<bigint> {
  if (max <= min) return max;
  const atOrAfter = async (offset: bigint): Promise<boolean> => {
    const ts = await storeTimeAt(offset);
    return ts === undefined || ts >= timestampMs;
  };
  const start = guess < min ? min : guess > max ? max : guess;
  // Invariant once bracketed: lo is before the time (or min - 1), hi is at/after it (or max).
  let lo: bigint;
  let hi: bigint;
  if (start < max && (await atOrAfter(start))) {
    hi = start;
    lo = min - 1n;
    for (let step = 1n; hi - step >= min; step *= 2n) {
      const o = hi - step;
      if (await atOrAfter(o)) hi = o;
      else {
        lo = o;
        break;
      }
    }
  } else {
    lo = start < max ? start : max - 1n;
    if (start === max && (await atOrAfter(lo))) {
      // The guess was the end but the last message is not before the time: search the queue.
      hi = lo;
      lo = min - 1n;
    } else {
      hi = max;
      for (let step = 1n; lo + step < max; step *= 2n) {
        const o = lo + step;
        if (await atOrAfter(o)) {
          hi = o;
          break;
        }
        lo = o;
      }
    }
  }
  while (hi - lo > 1n) {
    const mid = lo + (hi - lo) / 2n;
    if (await atOrAfter(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}
