/** Values shared by the client's producer, consumer and admin APIs. */
import type { EncodedProperties } from "../protocol/properties.js";

/** One queue of a topic on one broker (org.apache.rocketmq.common.message.MessageQueue). */
export interface MessageQueue {
  topic: string;
  brokerName: string;
  queueId: number;
}

/** Orders queues like Java's MessageQueue.compareTo: topic, then brokerName, then queueId. */
export function compareQueues(a: MessageQueue, b: MessageQueue): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  if (a.brokerName !== b.brokerName) return a.brokerName < b.brokerName ? -1 : 1;
  return a.queueId - b.queueId;
}

/** "topic@brokerName#queueId": a stable, readable key for maps and logs. */
export function queueKey(q: MessageQueue): string {
  return `${q.topic}@${q.brokerName}#${q.queueId}`;
}

/** A message to send. */
export interface Message {
  topic: string;
  body: Buffer;
  /** One tag (RocketMQ's TAGS property). */
  tags?: string | undefined;
  /** Keys for the broker's index (KEYS property, space-separated on the wire). */
  keys?: string | string[] | undefined;
  /**
   * User properties. Names and values must not contain \u0001 or \u0002. EncodedProperties
   * (from rewriteProperties) are sent as they are and hold TAGS and KEYS themselves: `tags` and
   * `keys` must then be unset.
   */
  properties?: Record<string, string> | EncodedProperties | undefined;
  /** The user flag (int32), stored as is. */
  flag?: number | undefined;
  /**
   * Compression bits of a body that is already compressed (sysFlag & 0x701 of a pulled
   * message), for pass-through replication. Default 0: the body is sent as is, uncompressed.
   */
  compressionSysFlag?: number | undefined;
  /** Born timestamp in ms. Default: now. */
  bornTimestamp?: number | undefined;
}

/** The broker's verdict on a stored message (codes 0, 10, 11, 12 all mean stored on the master). */
export type SendStatus = "SEND_OK" | "FLUSH_DISK_TIMEOUT" | "FLUSH_SLAVE_TIMEOUT" | "SLAVE_NOT_AVAILABLE";

export interface SendResult {
  status: SendStatus;
  queue: MessageQueue;
  /** Queue offset of the (first) message. */
  queueOffset: bigint;
  /** offsetMsgId of each message, from the broker. */
  offsetMsgIds: string[];
  /** UNIQ_KEY (client message id) of each message. */
  uniqKeys: string[];
}

export type PullStatus = "FOUND" | "NO_NEW_MSG" | "NO_MATCHED_MSG" | "OFFSET_ILLEGAL";
