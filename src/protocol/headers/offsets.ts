/**
 * Offset requests to a broker (remoting/protocol/header/*):
 * - GET_MAX_OFFSET (30) GetMaxOffsetRequestHeader: topic*, queueId*  -> header offset (next to be written)
 * - GET_MIN_OFFSET (31) GetMinOffsetRequestHeader: topic*, queueId*  -> header offset
 * - SEARCH_OFFSET_BY_TIMESTAMP (29) SearchOffsetRequestHeader: topic*, queueId*, timestamp* (ms),
 *   boundaryType (LOWER|UPPER) -> header offset
 * - GET_EARLIEST_MSG_STORETIME (32): topic*, queueId* -> header timestamp
 * - QUERY_CONSUMER_OFFSET (14) QueryConsumerOffsetRequestHeader: consumerGroup*, topic*, queueId*,
 *   setZeroIfNotFound (5.x) -> header offset; QUERY_NOT_FOUND (22) when the group has none
 * - UPDATE_CONSUMER_OFFSET (15) UpdateConsumerOffsetRequestHeader: consumerGroup*, topic*,
 *   queueId*, commitOffset*
 */
import { ProtocolError } from "../errors.js";

export interface QueueRequestHeader {
  topic: string;
  queueId: number;
  bname?: string;
}

export interface SearchOffsetRequestHeader extends QueueRequestHeader {
  timestamp: number;
  boundaryType?: "LOWER" | "UPPER";
}

export interface QueryConsumerOffsetRequestHeader extends QueueRequestHeader {
  consumerGroup: string;
  setZeroIfNotFound?: boolean;
}

export interface UpdateConsumerOffsetRequestHeader extends QueueRequestHeader {
  consumerGroup: string;
  commitOffset: bigint;
}

/** Reads the `offset` field of an offset response. Throws ProtocolError. */
export function decodeOffsetResponse(ext: Record<string, string>): bigint {
  const v = ext["offset"];
  if (v === undefined || !/^-?\d+$/.test(v))
    throw new ProtocolError(`offset response lacks an integer offset: ${String(v)}`);
  return BigInt(v);
}
