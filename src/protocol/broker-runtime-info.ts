/**
 * GET_BROKER_RUNTIME_INFO (28): no header; the response body is a KVTable
 * (remoting/protocol/body/KVTable.java), fastjson `{"table":{"key":"value",...}}`, every value a
 * string. The broker fills it in AdminBrokerProcessor#prepareRuntimeInfo, same order in 4.9.7
 * and 5.5.0: first DefaultMessageStore#getRuntimeInfo (which holds `commitLogMaxOffset`), then
 * `dispatchBehindBytes`, `pageCacheLockTimeMills`, and later `sendThreadPoolQueueHeadWaitTimeMills`.
 * That order is what makes the dispatch fence of connector/target-fence.ts sound (see there).
 *
 * Keys read here, both versions (docs/exactly-once-broker-facts.md §3.2):
 * - commitLogMaxOffset: CommitLog#getMaxOffset, the written (readable) end of the commit log, bytes.
 * - dispatchBehindBytes: ReputMessageService#behind. 4.9.7: commitLog max - reputFromOffset;
 *   5.5.0: getReputEndOffset() (the confirm offset; = max offset with ASYNC_FLUSH) - reputFromOffset.
 * - pageCacheLockTimeMills: how long the current holder has held the commit-log put lock, ms (0 = free).
 * - sendThreadPoolQueueHeadWaitTimeMills: age of the send queue's head task, ms (0 = empty).
 */
import { ProtocolError } from "./errors.js";
import { parseTolerantJson } from "./tolerant-json.js";

export interface BrokerRuntimeInfo {
  /** Every key of the table as the broker sent it. */
  raw: Record<string, string>;
  /** Written end of the commit log, in bytes (always present on 4.9.7 and 5.5.0). */
  commitLogMaxOffset: bigint;
  /** Bytes of commit log not yet dispatched to consume queues; undefined if the broker omits it. */
  dispatchBehindBytes: bigint | undefined;
  /** How long the commit-log put lock has been held now, ms; undefined if omitted. */
  pageCacheLockTimeMills: number | undefined;
  /** Age of the oldest request waiting in the send thread pool's queue, ms; undefined if omitted. */
  sendThreadPoolQueueHeadWaitTimeMills: number | undefined;
}

const INTEGER = /^-?\d+$/;

/**
 * Decodes a KVTable body into BrokerRuntimeInfo. Throws ProtocolError naming the key when the
 * body is not a KVTable, `commitLogMaxOffset` is missing, or a key read here is not an integer.
 */
export function decodeBrokerRuntimeInfo(body: Buffer | undefined): BrokerRuntimeInfo {
  if (body === undefined || body.length === 0) {
    throw new ProtocolError("GET_BROKER_RUNTIME_INFO answered with an empty body; expected a KVTable");
  }
  const parsed = parseTolerantJson(body.toString("utf8"));
  const table =
    parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? parsed["table"] : undefined;
  if (table === null || typeof table !== "object" || Array.isArray(table)) {
    throw new ProtocolError('GET_BROKER_RUNTIME_INFO body has no "table" object; expected {"table":{...}}');
  }
  const raw: Record<string, string> = {};
  for (const [key, value] of Object.entries(table)) {
    raw[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
  const commitLogMaxOffset = bigintKey(raw, "commitLogMaxOffset");
  if (commitLogMaxOffset === undefined) {
    throw new ProtocolError("GET_BROKER_RUNTIME_INFO body has no commitLogMaxOffset");
  }
  const lock = bigintKey(raw, "pageCacheLockTimeMills");
  const head = bigintKey(raw, "sendThreadPoolQueueHeadWaitTimeMills");
  return {
    raw,
    commitLogMaxOffset,
    dispatchBehindBytes: bigintKey(raw, "dispatchBehindBytes"),
    pageCacheLockTimeMills: lock === undefined ? undefined : Number(lock),
    sendThreadPoolQueueHeadWaitTimeMills: head === undefined ? undefined : Number(head),
  };
}

function bigintKey(raw: Record<string, string>, key: string): bigint | undefined {
  const value = raw[key];
  if (value === undefined) return undefined;
  if (!INTEGER.test(value)) {
    throw new ProtocolError(`GET_BROKER_RUNTIME_INFO key ${key} is ${JSON.stringify(value)}, not an integer`);
  }
  return BigInt(value);
}
