/**
 * PULL_MESSAGE (11) request header (remoting/protocol/header/PullMessageRequestHeader.java):
 *   consumerGroup* topic* queueId* queueOffset* maxMsgNums* sysFlag* commitOffset*
 *   suspendTimeoutMillis* subscription subVersion* expressionType maxMsgBytes
 * Response header PullMessageResponseHeader: suggestWhichBrokerId, nextBeginOffset, minOffset,
 *   maxOffset (all int64). Body: concatenated stored messages (message.ts).
 * Response codes: 0 FOUND, 19 PULL_NOT_FOUND (no new message), 20 PULL_RETRY_IMMEDIATELY
 *   (no matched message), 21 PULL_OFFSET_MOVED (offset illegal; continue at nextBeginOffset).
 */
import { ProtocolError } from "../errors.js";

export interface PullMessageRequestHeader {
  consumerGroup: string;
  topic: string;
  queueId: number;
  queueOffset: bigint;
  maxMsgNums: number;
  /** PullSysFlag bits: COMMIT_OFFSET 1, SUSPEND 2, SUBSCRIPTION 4. */
  sysFlag: number;
  commitOffset: bigint;
  suspendTimeoutMillis: number;
  subscription?: string;
  subVersion: number;
  expressionType?: string;
  maxMsgBytes?: number;
  bname?: string;
}

export interface PullMessageResponseHeader {
  suggestWhichBrokerId: number;
  nextBeginOffset: bigint;
  minOffset: bigint;
  maxOffset: bigint;
}

function bigintField(ext: Record<string, string>, key: string): bigint {
  const v = ext[key];
  if (v === undefined || !/^-?\d+$/.test(v))
    throw new ProtocolError(`pull response field ${key} missing or not an integer: ${String(v)}`);
  return BigInt(v);
}

/** Reads PullMessageResponseHeader. Throws ProtocolError if offsets are missing. */
export function decodePullMessageResponseHeader(ext: Record<string, string>): PullMessageResponseHeader {
  return {
    suggestWhichBrokerId: Number(ext["suggestWhichBrokerId"] ?? 0),
    nextBeginOffset: bigintField(ext, "nextBeginOffset"),
    minOffset: bigintField(ext, "minOffset"),
    maxOffset: bigintField(ext, "maxOffset"),
  };
}
