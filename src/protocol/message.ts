/**
 * Stored-message records: the body of a PULL_MESSAGE (and VIEW_MESSAGE_BY_ID) response, following
 * org.apache.rocketmq.common.message.MessageDecoder (decode, decodesBatch, encode) and
 * MessageVersion. Big-endian; records are concatenated until the body ends.
 *
 *   int32  TOTALSIZE                 whole record, including this field
 *   int32  MAGICCODE                 v1 0xDAA320A7, v2 0xDAA320AB (v2 only changes the topic length to int16)
 *   int32  BODYCRC                   CRC32(stored body) & 0x7FFFFFFF
 *   int32  QUEUEID
 *   int32  FLAG                      user flag
 *   int64  QUEUEOFFSET
 *   int64  PHYSICALOFFSET            commit-log offset
 *   int32  SYSFLAG                   see sysflag.ts
 *   int64  BORNTIMESTAMP             ms
 *   bytes  BORNHOST                  4-byte IPv4 + int32 port, or 16-byte IPv6 + int32 port if SYSFLAG & 0x10
 *   int64  STORETIMESTAMP            ms
 *   bytes  STOREHOST                 4 + 4, or 16 + 4 if SYSFLAG & 0x20
 *   int32  RECONSUMETIMES
 *   int64  PREPARED TRANSACTION OFFSET
 *   int32  BODYLEN, bytes BODY       compressed when SYSFLAG & 0x1
 *   int8   TOPICLEN (v1, signed) | int16 TOPICLEN (v2), bytes TOPIC (UTF-8)
 *   int16  PROPERTIESLEN (signed), bytes PROPERTIES (UTF-8, see properties.ts)
 *
 * Java reads the fields in sequence and ignores TOTALSIZE, so a valid record's fields end exactly at
 * TOTALSIZE; we check that and report any other ending as a ProtocolError.
 */
import { inflateSync } from "node:zlib";
import { bodyCrc as computeBodyCrc } from "./crc32.js";
import { ProtocolError } from "./errors.js";
import { formatAddress, offsetMsgIdPrefix, offsetMsgIdWithPrefix, parseAddress } from "./message-id.js";
import { decodeProperties, encodePropertiesBytes, MessageConst } from "./properties.js";
import { compressionOf, MessageSysFlag, type CompressionName } from "./sysflag.js";

/** MAGICCODE of a v1 record (topic length int8): 0xDAA320A7. */
export const MESSAGE_MAGIC_CODE = -626843481;
/** MAGICCODE of a v2 record (topic length int16), written for topics over 127 bytes: 0xDAA320AB. */
export const MESSAGE_MAGIC_CODE_V2 = -626843477;
/** MAGICCODE of the blank filler at the end of a commit-log file; never valid in a pull body. */
export const BLANK_MAGIC_CODE = -875286124;

/** The fixed-size part of a v1 record with IPv4 hosts, an empty body, topic and properties. */
const MIN_RECORD_BYTES = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4 + 1 + 2;

/** One decoded stored message (Java MessageExt / MessageClientExt). */
export interface MessageExt {
  topic: string;
  queueId: number;
  /** Position in the consume queue. */
  queueOffset: bigint;
  /** Byte position in the broker's commit log. */
  commitLogOffset: bigint;
  /** SYSFLAG as stored: unlike Java, COMPRESSED is not cleared after inflating, so it can be forwarded. */
  sysFlag: number;
  /** User flag. */
  flag: number;
  bornTimestamp: number;
  /** Producer address, "ip:port" or "[ipv6]:port". */
  bornHost: string;
  storeTimestamp: number;
  /** Broker address that stored the message, "ip:port" or "[ipv6]:port". */
  storeHost: string;
  reconsumeTimes: number;
  preparedTransactionOffset: bigint;
  /** BODYCRC as stored: CRC32(storedBody) & 0x7FFFFFFF. */
  bodyCrc: number;
  /** TOTALSIZE of the record in bytes. */
  storeSize: number;
  /** MAGICCODE: MESSAGE_MAGIC_CODE or MESSAGE_MAGIC_CODE_V2. */
  magicCode: number;
  /** The body bytes as stored (compressed when sysFlag & 1): a view into the decoded buffer, for pass-through. */
  storedBody: Buffer;
  /**
   * The uncompressed body: storedBody itself when not compressed, the inflated bytes for zlib, and
   * undefined for LZ4/ZSTD (no codec here) or when decoding was asked not to decompress.
   */
  body: Buffer | undefined;
  /** How storedBody is compressed; undefined when it is not. */
  compression: CompressionName | undefined;
  properties: Record<string, string>;
  /** The PROPERTIES field as stored (`name\u0001value\u0002...`), for forwarding it unchanged. */
  propertiesText: string;
  /**
   * Broker-assigned id: store host + commit-log offset (see message-id.ts). Empty when decoded
   * with `offsetMsgIds: false`.
   */
  offsetMsgId: string;
  /** The TAGS property. */
  tags: string | undefined;
  /** The KEYS property split on spaces, empty parts dropped. */
  keys: string[];
  /** The UNIQ_KEY property (the client message id). */
  uniqKey: string | undefined;
}

/** Options of decodeStoredMessages. */
export interface DecodeStoredMessagesOptions {
  /** Check BODYCRC against the stored body; a mismatch is a ProtocolError. Default false (Java clients do not check). */
  verifyCrc?: boolean;
  /** Inflate zlib bodies into `body`. Default true. */
  decompress?: boolean;
  /**
   * Format each record's offsetMsgId. Default true. A caller that never reads it (the connector)
   * skips ~300 bytes of strings per message with false; offsetMsgId is then "".
   */
  offsetMsgIds?: boolean;
  /** Largest inflated body accepted, in bytes; larger is a ProtocolError. Default 128 MiB. */
  maxInflatedBytes?: number;
}

const DEFAULT_MAX_INFLATED_BYTES = 128 * 1024 * 1024;

class RecordReader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    readonly index: number,
    readonly start: number,
    public end: number,
  ) {
    this.pos = start;
  }

  fail(message: string): never {
    throw new ProtocolError(`stored message #${this.index} (byte ${this.start}): ${message}`, {
      context: { recordIndex: this.index, recordOffset: this.start },
    });
  }

  need(n: number, field: string): void {
    if (n > this.end - this.pos) {
      this.fail(`truncated reading ${field}: needs ${n} bytes, ${this.end - this.pos} left in the record`);
    }
  }

  int8(field: string): number {
    this.need(1, field);
    return this.buf.readInt8(this.pos++);
  }

  int16(field: string): number {
    this.need(2, field);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(field: string): number {
    this.need(4, field);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  int64(field: string): bigint {
    this.need(8, field);
    const high = this.buf.readInt32BE(this.pos);
    const low = this.buf.readUInt32BE(this.pos + 4);
    // One BigInt for any value within ±2^53 (offsets always are), instead of the four of
    // readBigInt64BE: this runs three times per pulled message.
    const v =
      high >= -0x200000 && high < 0x200000
        ? BigInt(high * 0x100000000 + low)
        : this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  /** An int64 that is a millisecond timestamp, as a number (no BigInt in between). */
  int64Number(field: string): number {
    this.need(8, field);
    const v = this.buf.readInt32BE(this.pos) * 0x100000000 + this.buf.readUInt32BE(this.pos + 4);
    this.pos += 8;
    return v;
  }

  /** The next `n` bytes as UTF-8 text, without a Buffer view in between. */
  utf8(n: number, field: string): string {
    if (n < 0) this.fail(`${field} length ${n} is negative`);
    this.need(n, field);
    const v = this.buf.toString("utf8", this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** Like utf8, but returns `last.text` when the bytes are `last.bytes` (records of a pull share a topic). */
  utf8Same(n: number, field: string, last: { bytes: Buffer; text: string }): string {
    if (
      n === last.bytes.length &&
      n <= this.end - this.pos &&
      last.bytes.compare(this.buf, this.pos, this.pos + n) === 0
    ) {
      this.pos += n;
      return last.text;
    }
    const start = this.pos;
    const text = this.utf8(n, field);
    last.bytes = Buffer.from(this.buf.subarray(start, start + n));
    last.text = text;
    return text;
  }

  bytes(n: number, field: string): Buffer {
    if (n < 0) this.fail(`${field} length ${n} is negative`);
    this.need(n, field);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  host(v6: boolean, field: string, known: KnownHost): KnownHost {
    const ipLength = v6 ? 16 : 4;
    this.need(ipLength + 4, field);
    const ipAt = this.pos;
    this.pos += ipLength;
    const port = this.int32(`${field} port`);
    if (port < 0 || port > 65535) this.fail(`${field} port ${port} is outside 0-65535`);
    // Compared in place, byte by byte (4 or 16 bytes: cheaper than a call into Buffer.compare):
    // most records repeat the previous record's host, and need no view of it.
    if (known.port === port && known.ip.length === ipLength) {
      let i = 0;
      while (i < ipLength && known.ip[i] === this.buf[ipAt + i]) i++;
      if (i === ipLength) return known;
    }
    return new KnownHost(Buffer.from(this.buf.subarray(ipAt, ipAt + ipLength)), port);
  }
}

/**
 * A host address read from a record, with its texts. Records of one pull mostly share their
 * store host and born host, so the decoder keeps the last of each and formats only new ones.
 */
class KnownHost {
  readonly text: string;
  #msgIdPrefix: string | undefined;
  constructor(
    readonly ip: Buffer,
    readonly port: number,
  ) {
    this.text = ip.length === 0 ? "" : formatAddress(ip, port);
  }

  offsetMsgId(commitLogOffset: bigint): string {
    this.#msgIdPrefix ??= offsetMsgIdPrefix(this.ip, this.port);
    return offsetMsgIdWithPrefix(this.#msgIdPrefix, commitLogOffset);
  }

  static readonly NONE = new KnownHost(Buffer.alloc(0), -1);
}

/** What the previous record had, for decodeRecord: its hosts and topic. */
interface PreviousRecord {
  born: KnownHost;
  store: KnownHost;
  topic: { bytes: Buffer; text: string };
}

function decodeRecord(
  r: RecordReader,
  options: DecodeStoredMessagesOptions,
  last: PreviousRecord,
): MessageExt {
  const storeSize = r.int32("TOTALSIZE");
  if (storeSize < MIN_RECORD_BYTES)
    r.fail(`TOTALSIZE ${storeSize} is below the minimum record size ${MIN_RECORD_BYTES}`);
  if (storeSize > r.end - r.start) {
    r.fail(`truncated: TOTALSIZE is ${storeSize} bytes but only ${r.end - r.start} remain`);
  }
  r.end = r.start + storeSize;
  const magicCode = r.int32("MAGICCODE");
  if (magicCode !== MESSAGE_MAGIC_CODE && magicCode !== MESSAGE_MAGIC_CODE_V2) {
    const hex = (magicCode >>> 0).toString(16).toUpperCase();
    r.fail(
      magicCode === BLANK_MAGIC_CODE
        ? "blank end-of-file record (magic CBD43194)"
        : `unknown MAGICCODE 0x${hex}`,
    );
  }
  const bodyCrc = r.int32("BODYCRC");
  const queueId = r.int32("QUEUEID");
  const flag = r.int32("FLAG");
  const queueOffset = r.int64("QUEUEOFFSET");
  const commitLogOffset = r.int64("PHYSICALOFFSET");
  const sysFlag = r.int32("SYSFLAG");
  const bornTimestamp = r.int64Number("BORNTIMESTAMP");
  const bornHost = (last.born = r.host(
    (sysFlag & MessageSysFlag.BORNHOST_V6_FLAG) !== 0,
    "BORNHOST",
    last.born,
  ));
  const storeTimestamp = r.int64Number("STORETIMESTAMP");
  const storeHost = (last.store = r.host(
    (sysFlag & MessageSysFlag.STOREHOSTADDRESS_V6_FLAG) !== 0,
    "STOREHOST",
    last.store,
  ));
  const reconsumeTimes = r.int32("RECONSUMETIMES");
  const preparedTransactionOffset = r.int64("PREPARED TRANSACTION OFFSET");
  const storedBody = r.bytes(r.int32("BODYLEN"), "BODY");
  const topicLength = magicCode === MESSAGE_MAGIC_CODE ? r.int8("TOPICLEN") : r.int16("TOPICLEN");
  const topic = r.utf8Same(topicLength, "TOPIC", last.topic);
  const propertiesText = r.utf8(r.int16("PROPERTIESLEN"), "PROPERTIES");
  const properties = decodeProperties(propertiesText);
  if (r.pos !== r.end) r.fail(`fields end after ${r.pos - r.start} bytes but TOTALSIZE is ${storeSize}`);

  if (options.verifyCrc === true) {
    const actual = computeBodyCrc(storedBody);
    if (actual !== bodyCrc) r.fail(`body CRC ${actual} does not match BODYCRC ${bodyCrc}`);
  }
  const compression = compressionOf(sysFlag);
  if (compression === null)
    r.fail(`SYSFLAG 0x${sysFlag.toString(16)} names unknown compression type ${(sysFlag >> 8) & 7}`);
  let body: Buffer | undefined = storedBody;
  if (compression !== undefined && storedBody.length > 0) {
    body = undefined;
    if (compression === "ZLIB" && options.decompress !== false) {
      try {
        body = inflateSync(storedBody, {
          maxOutputLength: options.maxInflatedBytes ?? DEFAULT_MAX_INFLATED_BYTES,
        });
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        throw new ProtocolError(
          `stored message #${r.index} (byte ${r.start}): zlib body does not inflate: ${reason}`,
          {
            cause: err,
            context: { recordIndex: r.index, recordOffset: r.start, topic, queueId },
          },
        );
      }
    }
  }
  const keys = properties[MessageConst.PROPERTY_KEYS];
  return {
    topic,
    queueId,
    queueOffset,
    commitLogOffset,
    sysFlag,
    flag,
    bornTimestamp,
    bornHost: bornHost.text,
    storeTimestamp,
    storeHost: storeHost.text,
    reconsumeTimes,
    preparedTransactionOffset,
    bodyCrc,
    storeSize,
    magicCode,
    storedBody,
    body,
    compression,
    properties,
    propertiesText,
    offsetMsgId: options.offsetMsgIds === false ? "" : storeHost.offsetMsgId(commitLogOffset),
    tags: properties[MessageConst.PROPERTY_TAGS],
    keys: keys === undefined ? [] : keys.split(" ").filter((k) => k !== ""),
    uniqKey: properties[MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX],
  };
}

/**
 * Decodes every record of a PULL_MESSAGE / VIEW_MESSAGE_BY_ID body, in order.
 * Throws ProtocolError naming the record index and field on a truncated or malformed record, an
 * unknown magic code or compression type, a CRC mismatch (with verifyCrc) or a zlib body that
 * does not inflate. Inner-batch records (INNER_BATCH_FLAG) are returned as they are, not unwrapped.
 */
export function decodeStoredMessages(buf: Buffer, options: DecodeStoredMessagesOptions = {}): MessageExt[] {
  const out: MessageExt[] = [];
  let pos = 0;
  const last: PreviousRecord = {
    born: KnownHost.NONE,
    store: KnownHost.NONE,
    topic: { bytes: Buffer.alloc(0), text: "" },
  };
  while (pos < buf.length) {
    const reader = new RecordReader(buf, out.length, pos, buf.length);
    const msg = decodeRecord(reader, options, last);
    out.push(msg);
    pos += msg.storeSize;
  }
  return out;
}

/** Fields of encodeStoredMessage: what a broker writes into a record. */
export interface StoredMessageFields {
  topic: string;
  queueId: number;
  flag: number;
  queueOffset: bigint;
  commitLogOffset: bigint;
  /** Must carry BORNHOST_V6 / STOREHOSTADDRESS_V6 exactly when the matching host is IPv6. */
  sysFlag: number;
  bornTimestamp: number;
  /** "ip:port" or "[ipv6]:port". */
  bornHost: string;
  storeTimestamp: number;
  /** "ip:port" or "[ipv6]:port". */
  storeHost: string;
  reconsumeTimes: number;
  preparedTransactionOffset: bigint;
  /** The body exactly as stored (already compressed when sysFlag & 1). */
  storedBody: Uint8Array;
  /** A record (encoded in key order) or an already encoded properties string. */
  properties: Readonly<Record<string, string>> | string;
  /** Default: computed from storedBody. */
  bodyCrc?: number;
  /** Default: MESSAGE_MAGIC_CODE, or MESSAGE_MAGIC_CODE_V2 when the topic exceeds 127 UTF-8 bytes (as the broker does). */
  magicCode?: number;
}

function checkInt32(field: string, v: number): number {
  if (!Number.isInteger(v) || v < -0x80000000 || v > 0xffffffff) {
    throw new ProtocolError(`${field} ${v} does not fit a 32-bit field`);
  }
  return v | 0;
}

/**
 * Encodes one stored-message record (MessageDecoder.encode without compression: storedBody is
 * written as given). Used to build test vectors and VIEW_MESSAGE-style bodies.
 * Throws ProtocolError on a bad address, a V6 sysFlag bit that disagrees with a host, a topic too
 * long for the magic code or a value too large for its field; InvalidPropertyError or
 * PropertiesTooLongError for the properties.
 */
export function encodeStoredMessage(fields: StoredMessageFields): Buffer {
  const born = parseAddress(fields.bornHost);
  const store = parseAddress(fields.storeHost);
  const sysFlag = checkInt32("sysFlag", fields.sysFlag);
  if ((born.ip.length === 16) !== ((sysFlag & MessageSysFlag.BORNHOST_V6_FLAG) !== 0)) {
    throw new ProtocolError(
      `bornHost ${fields.bornHost} disagrees with the BORNHOST_V6 bit of sysFlag 0x${sysFlag.toString(16)}`,
    );
  }
  if ((store.ip.length === 16) !== ((sysFlag & MessageSysFlag.STOREHOSTADDRESS_V6_FLAG) !== 0)) {
    throw new ProtocolError(
      `storeHost ${fields.storeHost} disagrees with the STOREHOSTADDRESS_V6 bit of sysFlag 0x${sysFlag.toString(16)}`,
    );
  }
  const topic = Buffer.from(fields.topic, "utf8");
  const magicCode = fields.magicCode ?? (topic.length > 127 ? MESSAGE_MAGIC_CODE_V2 : MESSAGE_MAGIC_CODE);
  if (magicCode !== MESSAGE_MAGIC_CODE && magicCode !== MESSAGE_MAGIC_CODE_V2) {
    throw new ProtocolError(`magicCode ${magicCode} is neither v1 nor v2`);
  }
  const topicLengthSize = magicCode === MESSAGE_MAGIC_CODE ? 1 : 2;
  if (topic.length > (topicLengthSize === 1 ? 127 : 32767)) {
    throw new ProtocolError(
      `topic of ${topic.length} bytes does not fit the ${topicLengthSize}-byte length of this magic code`,
    );
  }
  const props = encodePropertiesBytes(fields.properties);
  const body = fields.storedBody;
  const size =
    4 +
    4 +
    4 +
    4 +
    4 +
    8 +
    8 +
    4 +
    8 +
    born.ip.length +
    4 +
    8 +
    store.ip.length +
    4 +
    4 +
    8 +
    4 +
    body.length +
    topicLengthSize +
    topic.length +
    2 +
    props.length;
  const out = Buffer.alloc(size);
  let pos = 0;
  const i32 = (field: string, v: number): void => {
    pos = out.writeInt32BE(checkInt32(field, v), pos);
  };
  const i64 = (v: bigint): void => {
    pos = out.writeBigInt64BE(BigInt.asIntN(64, v), pos);
  };
  const raw = (b: Uint8Array): void => {
    out.set(b, pos);
    pos += b.length;
  };
  i32("size", size);
  i32("magicCode", magicCode);
  i32("bodyCrc", fields.bodyCrc ?? computeBodyCrc(body));
  i32("queueId", fields.queueId);
  i32("flag", fields.flag);
  i64(fields.queueOffset);
  i64(fields.commitLogOffset);
  i32("sysFlag", sysFlag);
  i64(BigInt(Math.trunc(fields.bornTimestamp)));
  raw(born.ip);
  i32("bornHost port", born.port);
  i64(BigInt(Math.trunc(fields.storeTimestamp)));
  raw(store.ip);
  i32("storeHost port", store.port);
  i32("reconsumeTimes", fields.reconsumeTimes);
  i64(fields.preparedTransactionOffset);
  i32("body length", body.length);
  raw(body);
  if (topicLengthSize === 1) pos = out.writeInt8(topic.length, pos);
  else pos = out.writeInt16BE(topic.length, pos);
  raw(topic);
  pos = out.writeInt16BE(props.length, pos);
  raw(props);
  return out;
}
