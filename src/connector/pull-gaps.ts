/**
 * Offsets a pull answer skipped without a message, for pulls that filter nothing (subscription
 * "*"), where every offset of [requested, nextBeginOffset) must come back as a message.
 *
 * The broker can skip entries it could not read from the commit log: DefaultMessageStore#getMessage
 * steps over an entry whose commit-log bytes it cannot select (MESSAGE_WAS_REMOVING when nothing
 * was found before it, silently inside a FOUND answer otherwise), and jumps to the next consume
 * queue file when it cannot map the entry's file (OFFSET_FOUND_NULL, answered as PULL_NOT_FOUND).
 * Both move nextBeginOffset past messages that may well be readable a moment later. A replicator
 * that followed nextBeginOffset would lose them; so would verify, reporting them missing.
 * With a tag filter, skipped offsets are what filtering does, so nothing can be said.
 */
import type { PullResult } from "../client/pull-consumer.js";

/** The first offset in [requested, nextBeginOffset) the answer holds no message for, if any. */
export function firstSkippedOffset(requested: bigint, result: PullResult): bigint | undefined {
  if (result.status === "OFFSET_ILLEGAL") return undefined; // moved: reported as such by callers
  let expected = requested;
  for (const m of result.messages) {
    if (m.queueOffset !== expected) return expected;
    expected++;
  }
  return result.nextBeginOffset > expected ? expected : undefined;
}

/** True for a tag expression that filters nothing: every message of the queue is pulled. */
export function filtersNothing(tags: string): boolean {
  const t = tags.trim();
  return t === "" || t === "*";
}
