/**
 * How a pulled source message becomes the message sent to the target: the property mapping
 * (documented in docs/replication.md, keep the two in step) and the provenance that prevents
 * loops.
 *
 * Kept: body bytes as stored (a compressed body travels compressed, with its compression bits),
 * flag, born timestamp, TAGS, KEYS, UNIQ_KEY (so downstream consumers see the same message id and
 * can deduplicate), and every user property.
 * Dropped: properties the broker or the Java client own or that would change the message's
 * meaning on the target: delay/timer ones (the message was already delivered at the source and
 * must not be delayed again), transaction ones, POP/retry bookkeeping, client artefacts
 * (MIN_OFFSET, MAX_OFFSET) and broker stamps (CLUSTER, MSG_REGION, TRACE_ON), which the target
 * broker sets again itself.
 * Added: provenance (RMQC_* below).
 */
import type { Message } from "../client/types.js";
import type { MessageExt } from "../protocol/message.js";
import { rewriteProperties } from "../protocol/properties.js";
import { MessageSysFlag } from "../protocol/sysflag.js";

/** Provenance properties written on every replicated message. */
export const Provenance = {
  /** The hop this message came from: `cluster/topic/brokerName/queueId/queueOffset` (URI-encoded parts). */
  SOURCE: "RMQC_SOURCE",
  /** The first hop's origin in the same form: stays the same through every later hop. */
  ORIGIN: "RMQC_ORIGIN",
  /** Comma-separated cluster names the message has been stored in, oldest first. */
  PATH: "RMQC_PATH",
  /** Store timestamp (ms) of the message on the cluster it came from (for end-to-end latency). */
  SOURCE_STORE_MS: "RMQC_SOURCE_STORE_MS",
  /**
   * The connector that wrote this hop (its configured `name`): with RMQC_SOURCE it tells a
   * connector's own writes from another's that name their source cluster alike, which
   * exactly-once recovery and `verify` rely on.
   */
  WRITER: "RMQC_WRITER",
} as const;

/** Source properties never copied to the target (the broker, client or transaction machinery own them). */
export const DROPPED_PROPERTIES: ReadonlySet<string> = new Set([
  "MIN_OFFSET",
  "MAX_OFFSET",
  "CLUSTER",
  "MSG_REGION",
  "TRACE_ON",
  "WAIT",
  "DELAY",
  "REAL_TOPIC",
  "REAL_QID",
  "RETRY_TOPIC",
  "TRAN_MSG",
  "TRAN_PREPARED_QUEUE_OFFSET",
  "__transactionId__",
  "TRANSACTION_CHECK_TIMES",
  "CHECK_IMMUNITY_TIME_IN_SECONDS",
  "PGROUP",
  "RECONSUME_TIME",
  "MAX_RECONSUME_TIMES",
  "CONSUME_START_TIME",
  "POP_CK",
  "POP_CK_OFFSET",
  "1ST_POP_TIME",
  "INNER_NUM",
  "INNER_BASE",
  "DUP_INFO",
  "INNER_MULTI_DISPATCH",
  "INNER_MULTI_QUEUE_OFFSET",
  "__BORNHOST",
  "__CRC32#",
]);

/**
 * Timer properties are dropped all together: the target would arm a new timer for a message
 * with TIMER_DELIVER_MS/TIMER_DELAY_* and no TIMER_OUT_MS, so keeping only some is worse than
 * keeping none.
 */
function isDropped(name: string): boolean {
  return DROPPED_PROPERTIES.has(name) || name.startsWith("TIMER_") || name.startsWith("__RMQ.TRANSIENT.");
}

/** Where a message is read from, for provenance. */
export interface SourcePosition {
  cluster: string;
  topic: string;
  brokerName: string;
  queueId: number;
  queueOffset: bigint;
}

/** Formats a position as `cluster/topic/brokerName/queueId/queueOffset`. */
export function formatPosition(p: SourcePosition): string {
  return [p.cluster, p.topic, p.brokerName, String(p.queueId), p.queueOffset.toString()]
    .map((part) => encodeURIComponent(part))
    .join("/");
}

/** Parses formatPosition's output; undefined when malformed. */
export function parsePosition(text: string): SourcePosition | undefined {
  const parts = text.split("/");
  if (parts.length !== 5) return undefined;
  const [cluster, topic, brokerName, queueId, offset] = parts.map((p) => decodeURIComponent(p)) as [
    string,
    string,
    string,
    string,
    string,
  ];
  if (!/^\d+$/.test(queueId) || !/^\d+$/.test(offset)) return undefined;
  return { cluster, topic, brokerName, queueId: Number(queueId), queueOffset: BigInt(offset) };
}

/** Clusters the message has been stored in, including the one it was pulled from. */
export function clusterPath(message: MessageExt, sourceCluster: string): string[] {
  const previous = message.properties[Provenance.PATH];
  // A part holding \u0001 (legal in a stored value, never in a configured cluster name) is left
  // out: it decides no loop, and written back it would make the whole message unsendable.
  const path = previous ? previous.split(",").filter((c) => c.length > 0 && !c.includes("\u0001")) : [];
  if (!path.includes(sourceCluster)) path.push(sourceCluster);
  return path;
}

/** True when sending `message` (pulled from `sourceCluster`) to `targetCluster` would close a loop. */
export function wouldLoop(message: MessageExt, sourceCluster: string, targetCluster: string): boolean {
  // A first hop (no stored path) needs no array: this runs for every pulled message.
  if (message.properties[Provenance.PATH] === undefined) return sourceCluster === targetCluster;
  return clusterPath(message, sourceCluster).includes(targetCluster);
}

/** RMQC_PATH after this hop (clusterPath as text). */
function pathAfterHop(message: MessageExt, sourceCluster: string): string {
  if (message.properties[Provenance.PATH] === undefined) return sourceCluster;
  return clusterPath(message, sourceCluster).join(",");
}

/** The queue a message was pulled from, as far as the stored record does not say it. */
export interface PulledFrom {
  cluster: string;
  brokerName: string;
  /** The connector writing this hop (RMQC_WRITER). */
  writer: string;
  /** formatPosition's text up to the offset (`cluster/topic/broker/queueId/`), made once per queue. */
  positionPrefix: string;
}

/** PulledFrom for one source queue. */
export function pulledFrom(
  cluster: string,
  queue: { topic: string; brokerName: string; queueId: number },
  writer: string,
): PulledFrom {
  const prefix = formatPosition({
    cluster,
    topic: queue.topic,
    brokerName: queue.brokerName,
    queueId: queue.queueId,
    queueOffset: 0n,
  });
  return {
    cluster,
    brokerName: queue.brokerName,
    writer,
    positionPrefix: prefix.slice(0, prefix.length - 1),
  };
}

/** Source entries not copied: the dropped ones, and the provenance this hop writes anew (RMQC_ORIGIN stays). */
function isReplaced(name: string): boolean {
  return (
    name === Provenance.SOURCE ||
    name === Provenance.PATH ||
    name === Provenance.SOURCE_STORE_MS ||
    name === Provenance.WRITER ||
    isDropped(name)
  );
}

/**
 * The target message for `message`, pulled from `from`, going to `targetTopic`. Its properties
 * are the source's text without the dropped entries, plus provenance: kept entries (TAGS, KEYS
 * and UNIQ_KEY among them) travel byte for byte, without a decode and re-encode. Every appended
 * value is built to be encodable (URI-encoded names, digits, cluster names); the caller still
 * guards against a throw, which would name the message.
 */
export function mapMessage(message: MessageExt, from: PulledFrom, targetTopic: string): Message {
  // Same text as formatPosition, without re-encoding the queue's parts for every message.
  const source = from.positionPrefix + message.queueOffset.toString();
  const path = pathAfterHop(message, from.cluster);
  const storeMs = String(message.storeTimestamp);
  // Written out whole rather than pushed to: an array grown by one re-allocates its storage.
  const provenance: (readonly [string, string])[] =
    message.properties[Provenance.ORIGIN] === undefined
      ? [
          [Provenance.SOURCE, source],
          [Provenance.PATH, path],
          [Provenance.SOURCE_STORE_MS, storeMs],
          [Provenance.WRITER, from.writer],
          [Provenance.ORIGIN, source],
        ]
      : [
          [Provenance.SOURCE, source],
          [Provenance.PATH, path],
          [Provenance.SOURCE_STORE_MS, storeMs],
          [Provenance.WRITER, from.writer],
        ];
  const compressed = (message.sysFlag & MessageSysFlag.COMPRESSED_FLAG) !== 0;
  return {
    topic: targetTopic,
    body: message.storedBody,
    properties: rewriteProperties(message.propertiesText, isReplaced, provenance),
    flag: message.flag,
    bornTimestamp: message.bornTimestamp,
    compressionSysFlag: compressed ? message.sysFlag & 0x701 : 0,
  };
}
