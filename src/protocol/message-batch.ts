/**
 * Batch body of SEND_BATCH_MESSAGE (320), following org.apache.rocketmq.common.message.MessageDecoder
 * encodeMessage / encodeMessages / decodeMessage, as read by the broker's
 * store/MessageExtEncoder.encode(MessageExtBatch). Each message, concatenated, big-endian:
 *
 *   int32 TOTALSIZE   22 + bodyLen + propsLen (this record, including itself)
 *   int32 MAGICCODE   0
 *   int32 BODYCRC     0 (the broker computes it)
 *   int32 FLAG        user flag
 *   int32 BODYLEN, bytes BODY
 *   int16 PROPSLEN (signed, <= 32767), bytes PROPERTIES (UTF-8 name\u0001value\u0002...)
 *
 * Note: the protocol notes (1.9) give TOTALSIZE as 20 + bodyLen + propsLen; MessageDecoder.encodeMessage
 * computes 4+4+4+4+4+bodyLen+2+propsLen = 22 + bodyLen + propsLen, and we follow the Java code. The
 * broker and Java's decodeMessage never read TOTALSIZE, MAGICCODE or BODYCRC, so neither do we.
 * The request header's sysFlag applies to every inner message; inner properties are only their own.
 */
import { ProtocolError } from "./errors.js";
import {
  decodeProperties,
  encodeProperties,
  MAX_PROPERTIES_BYTES,
  PropertiesTooLongError,
} from "./properties.js";

/** One message of a batch: what survives into the batch body. */
export interface BatchMessage {
  /** User flag (int32). */
  flag: number;
  body: Uint8Array;
  /** A record (encoded in key order) or an already encoded properties string. */
  properties: Readonly<Record<string, string>> | string;
}

/** One message read back from a batch body. */
export interface DecodedBatchMessage {
  flag: number;
  /** A view into the decoded buffer. */
  body: Buffer;
  properties: Record<string, string>;
}

/** Fixed bytes of one batch record: totalSize, magic, bodyCRC, flag, bodyLen (5 x int32) and propsLen (int16). */
export const BATCH_RECORD_OVERHEAD = 22;

/**
 * Encodes messages into a SEND_BATCH_MESSAGE body (an empty list gives an empty buffer).
 * Throws InvalidPropertyError for a property with a separator or empty name/value,
 * PropertiesTooLongError when one message's properties exceed 32767 UTF-8 bytes, and
 * ProtocolError for a flag that is not an int32.
 */
export function encodeBatchBody(messages: readonly BatchMessage[]): Buffer {
  // Sized first, then written into one buffer: a batch is built for every send of the
  // replication hot path, and per-record buffers plus a concat cost more than the bytes.
  const texts: string[] = [];
  const propsLengths: number[] = [];
  let total = 0;
  for (const [i, msg] of messages.entries()) {
    if (!Number.isInteger(msg.flag) || msg.flag < -0x80000000 || msg.flag > 0x7fffffff) {
      throw new ProtocolError(`batch message #${i}: flag ${msg.flag} is not an int32`);
    }
    const text = typeof msg.properties === "string" ? msg.properties : encodeProperties(msg.properties);
    const propsLength = Buffer.byteLength(text, "utf8");
    if (propsLength > MAX_PROPERTIES_BYTES) throw new PropertiesTooLongError(propsLength);
    texts.push(text);
    propsLengths.push(propsLength);
    total += BATCH_RECORD_OVERHEAD + msg.body.length + propsLength;
  }
  const out = Buffer.allocUnsafe(total);
  let pos = 0;
  for (const [i, msg] of messages.entries()) {
    const propsLength = propsLengths[i] as number;
    pos = out.writeInt32BE(BATCH_RECORD_OVERHEAD + msg.body.length + propsLength, pos);
    pos = out.writeInt32BE(0, pos); // MAGICCODE
    pos = out.writeInt32BE(0, pos); // BODYCRC
    pos = out.writeInt32BE(msg.flag, pos);
    pos = out.writeInt32BE(msg.body.length, pos);
    out.set(msg.body, pos);
    pos += msg.body.length;
    pos = out.writeInt16BE(propsLength, pos);
    pos += out.write(texts[i] as string, pos, "utf8");
  }
  return out;
}

/**
 * Decodes a batch body (MessageDecoder.decodeMessages): also the body of an inner-batch stored
 * message. Throws ProtocolError naming the message index and field on truncated or negative lengths.
 */
export function decodeBatchBody(buf: Buffer): DecodedBatchMessage[] {
  const out: DecodedBatchMessage[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const index = out.length;
    const start = pos;
    const need = (n: number, field: string): void => {
      if (n < 0)
        throw new ProtocolError(`batch message #${index} (byte ${start}): ${field} length ${n} is negative`);
      if (pos + n > buf.length) {
        throw new ProtocolError(
          `batch message #${index} (byte ${start}): truncated reading ${field}: needs ${n} bytes, ${buf.length - pos} left`,
        );
      }
    };
    need(16, "TOTALSIZE, MAGICCODE, BODYCRC and FLAG");
    const flag = buf.readInt32BE(pos + 12);
    pos += 16;
    need(4, "BODYLEN");
    const bodyLength = buf.readInt32BE(pos);
    pos += 4;
    need(bodyLength, "BODY");
    const body = buf.subarray(pos, pos + bodyLength);
    pos += bodyLength;
    need(2, "PROPSLEN");
    const propsLength = buf.readInt16BE(pos);
    pos += 2;
    need(propsLength, "PROPERTIES");
    const properties = decodeProperties(buf.toString("utf8", pos, pos + propsLength));
    pos += propsLength;
    out.push({ flag, body, properties });
  }
  return out;
}
