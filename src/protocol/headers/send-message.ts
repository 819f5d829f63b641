/**
 * SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320) request header, short field names
 * (remoting/protocol/header/SendMessageRequestHeaderV2.java). The broker decodes V2 for both
 * codes; V1 long names are only read for code 10, so we always use V2.
 *
 *   a producerGroup* | b topic* | c defaultTopic* | d defaultTopicQueueNums* | e queueId*
 *   f sysFlag* | g bornTimestamp* | h flag* | i properties | j reconsumeTimes | k unitMode
 *   l maxReconsumeTimes | m batch | n brokerName
 *
 * Response header SendMessageResponseHeader: msgId (offsetMsgId, comma-joined for batches),
 * queueId, queueOffset (of the first message), transactionId, batchUniqId.
 */
import { ProtocolError } from "../errors.js";

export interface SendMessageRequestHeader {
  producerGroup: string;
  topic: string;
  /** Template topic for auto-creation; Java sends "TBW102". */
  defaultTopic: string;
  defaultTopicQueueNums: number;
  queueId: number;
  sysFlag: number;
  bornTimestamp: number;
  flag: number;
  properties?: string;
  reconsumeTimes?: number;
  unitMode?: boolean;
  maxReconsumeTimes?: number;
  batch?: boolean;
  brokerName?: string;
}

/** Maps the header to V2 short names. */
export function encodeSendMessageHeaderV2(h: SendMessageRequestHeader): Record<string, string> {
  const out: Record<string, string> = {
    a: h.producerGroup,
    b: h.topic,
    c: h.defaultTopic,
    d: String(h.defaultTopicQueueNums),
    e: String(h.queueId),
    f: String(h.sysFlag),
    g: String(h.bornTimestamp),
    h: String(h.flag),
  };
  if (h.properties !== undefined) out["i"] = h.properties;
  if (h.reconsumeTimes !== undefined) out["j"] = String(h.reconsumeTimes);
  if (h.unitMode !== undefined) out["k"] = String(h.unitMode);
  if (h.maxReconsumeTimes !== undefined) out["l"] = String(h.maxReconsumeTimes);
  if (h.batch !== undefined) out["m"] = String(h.batch);
  if (h.brokerName !== undefined) out["n"] = h.brokerName;
  return out;
}

export interface SendMessageResponseHeader {
  /** offsetMsgId(s): one per message, comma-joined for batches. */
  msgId: string;
  queueId: number;
  queueOffset: bigint;
  transactionId?: string;
}

/** Reads SendMessageResponseHeader from ext fields. Throws ProtocolError if a field is missing. */
export function decodeSendMessageResponseHeader(ext: Record<string, string>): SendMessageResponseHeader {
  const queueId = ext["queueId"];
  const queueOffset = ext["queueOffset"];
  if (queueId === undefined || queueOffset === undefined) {
    throw new ProtocolError("send response lacks queueId or queueOffset");
  }
  const out: SendMessageResponseHeader = {
    msgId: ext["msgId"] ?? "",
    queueId: Number(queueId),
    queueOffset: BigInt(queueOffset),
  };
  if (ext["transactionId"] !== undefined) out.transactionId = ext["transactionId"];
  return out;
}
