/**
 * The exactly-once checkpoint record of one source queue, and its message body: JSON, version
 * `v: 1`, offsets (bigint) as decimal strings so no JSON reader rounds them. Example:
 *
 *   {"v":1,"writer":"east-to-west","source":{"cluster":"east","topic":"orders","broker":"b-a","queueId":3},
 *    "nextSourceOffset":"1042","fingerprint":{"offset":"1041","storeMs":1764740000123,"bodyCrc":91823311},
 *    "targets":[{"topic":"orders","broker":"w-a","queueId":3,"watermark":"880"}],"writtenAtMs":1764740001000}
 *
 * `fingerprint` is null when nothing was replicated yet. Decoding is strict (every field, its type
 * and range) so that a foreign or damaged message is never taken for a checkpoint.
 */
import { RmqError } from "../protocol/errors.js";

/** A source queue, named as in RMQC_SOURCE. */
export interface SourceQueueId {
  cluster: string;
  topic: string;
  broker: string;
  queueId: number;
}

/** A target queue the source queue writes to, and its watermark (invariant W of the design). */
export interface CheckpointTarget {
  topic: string;
  broker: string;
  queueId: number;
  /** Target offset just past the source queue's last acknowledged message there, when the record was built. */
  watermark: bigint;
}

/** The last replicated source message, to detect a recreated or truncated source queue. */
export interface SourceFingerprint {
  offset: bigint;
  storeMs: number;
  bodyCrc: number;
}

export interface CheckpointRecord {
  v: 1;
  /** The connector's name (RMQC_WRITER). */
  writer: string;
  source: SourceQueueId;
  /** Everything before it is in the target or deliberately not sent. */
  nextSourceOffset: bigint;
  /** The last replicated source message; undefined before the first one. */
  fingerprint: SourceFingerprint | undefined;
  /** Every target queue the source queue writes to (its data queue, its dead-letter queue). */
  targets: CheckpointTarget[];
  /** Writer's clock when the record was built, ms since the epoch. */
  writtenAtMs: number;
}

/** "cluster/topic/broker/queueId" with each part URI-encoded (as RMQC_SOURCE names a queue): a map key. */
export function sourceKey(s: SourceQueueId): string {
  return `${encodeURIComponent(s.cluster)}/${encodeURIComponent(s.topic)}/${encodeURIComponent(s.broker)}/${s.queueId}`;
}

/** The message body of a record. */
export function encodeCheckpointRecord(r: CheckpointRecord): Buffer {
  return Buffer.from(
    JSON.stringify({
      v: r.v,
      writer: r.writer,
      source: {
        cluster: r.source.cluster,
        topic: r.source.topic,
        broker: r.source.broker,
        queueId: r.source.queueId,
      },
      nextSourceOffset: r.nextSourceOffset.toString(),
      fingerprint:
        r.fingerprint === undefined
          ? null
          : {
              offset: r.fingerprint.offset.toString(),
              storeMs: r.fingerprint.storeMs,
              bodyCrc: r.fingerprint.bodyCrc,
            },
      targets: r.targets.map((t) => ({
        topic: t.topic,
        broker: t.broker,
        queueId: t.queueId,
        watermark: t.watermark.toString(),
      })),
      writtenAtMs: r.writtenAtMs,
    }),
  );
}

/** Decodes a record body. Throws RmqError RMQ_EO_CHECKPOINT_RECORD saying which field is wrong. */
export function decodeCheckpointRecord(body: Buffer): CheckpointRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw bad(`is not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const o = object(parsed, "record");
  if (o["v"] !== 1) throw bad(`has version ${JSON.stringify(o["v"])}; this connector reads version 1`);
  const source = object(o["source"], "source");
  const fp = o["fingerprint"];
  const fingerprintObject = fp === null ? undefined : object(fp, "fingerprint");
  const targets = o["targets"];
  if (!Array.isArray(targets)) throw bad("field targets is not an array");
  return {
    v: 1,
    writer: text(o["writer"], "writer"),
    source: {
      cluster: text(source["cluster"], "source.cluster"),
      topic: text(source["topic"], "source.topic"),
      broker: text(source["broker"], "source.broker"),
      queueId: int(source["queueId"], "source.queueId"),
    },
    nextSourceOffset: offset(o["nextSourceOffset"], "nextSourceOffset"),
    fingerprint:
      fingerprintObject === undefined
        ? undefined
        : {
            offset: offset(fingerprintObject["offset"], "fingerprint.offset"),
            storeMs: int(fingerprintObject["storeMs"], "fingerprint.storeMs"),
            bodyCrc: int(fingerprintObject["bodyCrc"], "fingerprint.bodyCrc"),
          },
    targets: targets.map((t: unknown, i) => {
      const to = object(t, `targets[${i}]`);
      return {
        topic: text(to["topic"], `targets[${i}].topic`),
        broker: text(to["broker"], `targets[${i}].broker`),
        queueId: int(to["queueId"], `targets[${i}].queueId`),
        watermark: offset(to["watermark"], `targets[${i}].watermark`),
      };
    }),
    writtenAtMs: int(o["writtenAtMs"], "writtenAtMs"),
  };
}

function bad(why: string): RmqError {
  return new RmqError("RMQ_EO_CHECKPOINT_RECORD", `checkpoint record ${why}`);
}

function object(v: unknown, field: string): Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw bad(`field ${field} is not an object`);
  return v as Record<string, unknown>;
}

function text(v: unknown, field: string): string {
  if (typeof v !== "string" || v === "") throw bad(`field ${field} is not a non-empty string`);
  return v;
}

function int(v: unknown, field: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
    throw bad(`field ${field} is not an integer >= 0`);
  return v;
}

function offset(v: unknown, field: string): bigint {
  if (typeof v !== "string" || !/^\d{1,19}$/.test(v))
    throw bad(`field ${field} is not an offset (a string of digits)`);
  return BigInt(v);
}
