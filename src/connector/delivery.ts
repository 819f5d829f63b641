/**
 * The delivery policy seam: what a queue does when a send's outcome is unknown. The replicator's
 * send loop is the same for both guarantees; it asks its policy, and only the policy knows whether
 * a message may be sent twice.
 *
 * - at-least-once: an unknown outcome is sent again (the target may then hold it twice).
 * - exactly-once (exactly-once.ts): the queue pauses until the old attempt can no longer land,
 *   reads the target to learn which of its messages did land, and sends only the rest.
 *
 * Which failures leave the outcome unknown is decided here once (classifySendFailure), from the
 * broker facts in docs/exactly-once-broker-facts.md §1.3: some answers say for certain that
 * nothing was stored, and a queue needs no recovery for those.
 */
import { isAccessDenied } from "../client/access-denied.js";
import type { MessageQueue } from "../client/types.js";
import { BrokerError, ProtocolError, RmqError } from "../protocol/errors.js";
import { ResponseCode } from "../protocol/codes.js";
import { AbortedError, ConnectionError, RequestTimeoutError } from "../transport/errors.js";

/** How a failed send ended, as far as the target's contents go. */
export type SendFailure =
  /** The target will never accept this message (isolate it, dead-letter it or stop). */
  | "poison"
  /** Certainly not stored: send it again as it is. */
  | "not-stored"
  /** May have been stored, in whole or (after a broker crash) as a prefix of the batch. */
  | "unknown";

/** Error codes raised before a request is written, or for a message no broker will take. */
const POISON_CODES = new Set(["RMQ_INVALID_PROPERTY", "RMQ_PROPERTIES_TOO_LONG", "RMQ_INVALID_ARGUMENT"]);

/** Broker answers that refuse a send before anything is written (F1.3). */
const NOT_STORED_RESPONSES: ReadonlySet<number> = new Set([
  ResponseCode.SYSTEM_BUSY, // [REJECTREQUEST], [OVERLOAD], [TIMEOUT_CLEAN_QUEUE], [PCBUSY_CLEAN_QUEUE], [PC_SYNCHRONIZED]
  ResponseCode.SERVICE_NOT_AVAILABLE,
  ResponseCode.NO_PERMISSION,
  ResponseCode.TOPIC_NOT_EXIST,
  ResponseCode.INVALID_PARAMETER,
]);

/** SYSTEM_ERROR remarks that also mean "not stored" (F1.3); any other SYSTEM_ERROR is ambiguous. */
const NOT_STORED_SYSTEM_ERRORS = [
  "[PC_SYNCHRONIZED]",
  "create mapped file failed",
  "in-sync replicas not enough",
  "broker unable to service",
  "is illegal", // 4.9.7: "request queueId[N] is illegal"
];

export function classifySendFailure(err: unknown): SendFailure {
  if (!(err instanceof RmqError)) return "unknown";
  if (POISON_CODES.has(err.code)) return "poison";
  if (err instanceof BrokerError) {
    if (err.responseCode === ResponseCode.MESSAGE_ILLEGAL) return "poison";
    if (NOT_STORED_RESPONSES.has(err.responseCode)) return "not-stored";
    if (err.responseCode === ResponseCode.SYSTEM_ERROR) {
      // 4.x ACL refuses in the RPC hook, before the send is processed: nothing stored.
      if (isAccessDenied(err)) return "not-stored";
      const remark = err.remark ?? "";
      return NOT_STORED_SYSTEM_ERRORS.some((r) => remark.includes(r)) ? "not-stored" : "unknown";
    }
    return "unknown";
  }
  // A request written and then lost, timed out or abandoned, or answered with bytes we could not
  // read: the broker may have stored it, or may still.
  if (
    err instanceof ConnectionError ||
    err instanceof RequestTimeoutError ||
    err instanceof AbortedError ||
    err instanceof ProtocolError
  )
    return "unknown";
  // Raised by the client before anything was written (no route, no queue, a bad argument).
  return "not-stored";
}

/** A send whose outcome is unknown, as the policy needs to settle it. */
export interface UnsettledSend {
  /** The target queue it went to. */
  queue: MessageQueue;
  /** The source offsets of its messages, in order. */
  sourceOffsets: readonly bigint[];
  /** Target offset at or below the first message of it that could have landed (invariant W). */
  watermark: bigint;
  /** When the request was handed to the transport (ms): the attempt is dead some time after. */
  writtenAtMs: number;
  error: unknown;
}

/** What landed of an unsettled send: its first `landed` messages; the rest must be sent again. */
export interface SettledSend {
  landed: number;
  /** Target offset just past the newest message of this source queue found in `queue`, if any. */
  nextTargetOffset: bigint | undefined;
}

export interface DeliveryPolicy {
  readonly kind: "at-least-once" | "exactly-once";
  /**
   * Decides what landed of a send whose outcome is unknown. Resolves once no part of the old
   * attempt can land any more; throws (retried by the caller with backoff) while it cannot tell.
   */
  settle(send: UnsettledSend, signal: AbortSignal): Promise<SettledSend>;
}

/** Sends an unknown outcome again: the target may hold those messages twice. */
export const atLeastOnce: DeliveryPolicy = {
  kind: "at-least-once",
  settle: () => Promise.resolve({ landed: 0, nextTargetOffset: undefined }),
};
