/**
 * Message properties, following org.apache.rocketmq.common.message.MessageConst (names) and
 * MessageDecoder.messageProperties2String / string2messageProperties (wire form).
 *
 * Wire form: a UTF-8 string of `name \u0001 value \u0002` repeated, carried in the SEND header
 * field `properties`/`i`, and as an int16-length-prefixed string in stored and batch records, so
 * the encoded string may not exceed 32767 UTF-8 bytes.
 */
import { RmqError, type RmqErrorOptions } from "./errors.js";

/** Separates a property name from its value (MessageDecoder.NAME_VALUE_SEPARATOR). */
export const NAME_VALUE_SEPARATOR = "\u0001";
/** Ends each property (MessageDecoder.PROPERTY_SEPARATOR). */
export const PROPERTY_SEPARATOR = "\u0002";
/** The int16 length prefix of stored and batch records limits the encoded properties to this many bytes. */
export const MAX_PROPERTIES_BYTES = 32767;

/** Property names, keyed by their MessageConst.java constant names so grep works across both code bases. */
export const MessageConst = {
  /** Space-separated message keys. */
  PROPERTY_KEYS: "KEYS",
  PROPERTY_TAGS: "TAGS",
  PROPERTY_WAIT_STORE_MSG_OK: "WAIT",
  /** Delay level: a single send with it is delayed again by the receiving broker. */
  PROPERTY_DELAY_TIME_LEVEL: "DELAY",
  PROPERTY_RETRY_TOPIC: "RETRY_TOPIC",
  PROPERTY_REAL_TOPIC: "REAL_TOPIC",
  PROPERTY_REAL_QUEUE_ID: "REAL_QID",
  PROPERTY_TRANSACTION_PREPARED: "TRAN_MSG",
  PROPERTY_PRODUCER_GROUP: "PGROUP",
  /** Added by the Java consumer after a pull (client-side artefact). */
  PROPERTY_MIN_OFFSET: "MIN_OFFSET",
  /** Added by the Java consumer after a pull (client-side artefact). */
  PROPERTY_MAX_OFFSET: "MAX_OFFSET",
  PROPERTY_BUYER_ID: "BUYER_ID",
  PROPERTY_ORIGIN_MESSAGE_ID: "ORIGIN_MESSAGE_ID",
  PROPERTY_TRANSFER_FLAG: "TRANSFER_FLAG",
  PROPERTY_CORRECTION_FLAG: "CORRECTION_FLAG",
  PROPERTY_MQ2_FLAG: "MQ2_FLAG",
  PROPERTY_RECONSUME_TIME: "RECONSUME_TIME",
  PROPERTY_MSG_REGION: "MSG_REGION",
  PROPERTY_TRACE_SWITCH: "TRACE_ON",
  /** The client message id (MessageClientIDSetter). */
  PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX: "UNIQ_KEY",
  PROPERTY_EXTEND_UNIQ_INFO: "EXTEND_UNIQ_INFO",
  PROPERTY_MAX_RECONSUME_TIMES: "MAX_RECONSUME_TIMES",
  PROPERTY_CONSUME_START_TIMESTAMP: "CONSUME_START_TIME",
  PROPERTY_INNER_NUM: "INNER_NUM",
  PROPERTY_INNER_BASE: "INNER_BASE",
  DUP_INFO: "DUP_INFO",
  PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS: "CHECK_IMMUNITY_TIME_IN_SECONDS",
  PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET: "TRAN_PREPARED_QUEUE_OFFSET",
  PROPERTY_TRANSACTION_ID: "__transactionId__",
  PROPERTY_TRANSACTION_CHECK_TIMES: "TRANSACTION_CHECK_TIMES",
  PROPERTY_INSTANCE_ID: "INSTANCE_ID",
  PROPERTY_CORRELATION_ID: "CORRELATION_ID",
  PROPERTY_MESSAGE_REPLY_TO_CLIENT: "REPLY_TO_CLIENT",
  PROPERTY_MESSAGE_TTL: "TTL",
  PROPERTY_REPLY_MESSAGE_ARRIVE_TIME: "ARRIVE_TIME",
  PROPERTY_PUSH_REPLY_TIME: "PUSH_REPLY_TIME",
  /** Always overwritten by the receiving broker with its cluster name. */
  PROPERTY_CLUSTER: "CLUSTER",
  PROPERTY_MESSAGE_TYPE: "MSG_TYPE",
  PROPERTY_POP_CK: "POP_CK",
  PROPERTY_POP_CK_OFFSET: "POP_CK_OFFSET",
  PROPERTY_FIRST_POP_TIME: "1ST_POP_TIME",
  PROPERTY_SHARDING_KEY: "__SHARDINGKEY",
  PROPERTY_FORWARD_QUEUE_ID: "PROPERTY_FORWARD_QUEUE_ID",
  PROPERTY_REDIRECT: "REDIRECT",
  PROPERTY_INNER_MULTI_DISPATCH: "INNER_MULTI_DISPATCH",
  PROPERTY_INNER_MULTI_QUEUE_OFFSET: "INNER_MULTI_QUEUE_OFFSET",
  PROPERTY_TRACE_CONTEXT: "TRACE_CONTEXT",
  PROPERTY_TIMER_DELAY_SEC: "TIMER_DELAY_SEC",
  PROPERTY_TIMER_DELIVER_MS: "TIMER_DELIVER_MS",
  PROPERTY_TIMER_DELAY_MS: "TIMER_DELAY_MS",
  /** Present on timer-wheel deliveries; strip all TIMER_* together or none (protocol notes 1.10). */
  PROPERTY_TIMER_OUT_MS: "TIMER_OUT_MS",
  PROPERTY_TIMER_ENQUEUE_MS: "TIMER_ENQUEUE_MS",
  PROPERTY_TIMER_DEQUEUE_MS: "TIMER_DEQUEUE_MS",
  PROPERTY_TIMER_ROLL_TIMES: "TIMER_ROLL_TIMES",
  PROPERTY_TIMER_DEL_UNIQKEY: "TIMER_DEL_UNIQKEY",
  PROPERTY_TIMER_DELAY_LEVEL: "TIMER_DELAY_LEVEL",
  PROPERTY_BORN_HOST: "__BORNHOST",
  PROPERTY_BORN_TIMESTAMP: "BORN_TIMESTAMP",
  /** Reserved by brokers that store a body CRC in the properties (crc32ReservedLength). */
  PROPERTY_CRC32: "__CRC32#",
  PROPERTY_DLQ_ORIGIN_TOPIC: "DLQ_ORIGIN_TOPIC",
  PROPERTY_DLQ_ORIGIN_MESSAGE_ID: "DLQ_ORIGIN_MESSAGE_ID",
  /** Properties whose name starts with this are never stored by the broker. */
  PROPERTY_TRANSIENT_PREFIX: "__RMQ.TRANSIENT.",
} as const;

/** One of the property names in MessageConst. */
export type MessageConstName = (typeof MessageConst)[keyof typeof MessageConst];

/**
 * Names reserved for the system (MessageConst.STRING_HASH_SET): Java's Message.putUserProperty
 * refuses them. INNER_NUM, INNER_BASE, __transactionId__, TRANSACTION_CHECK_TIMES, __SHARDINGKEY,
 * RETRY_TOPIC... are in MessageConst but not in this set, as in Java.
 */
export const SYSTEM_PROPERTY_NAMES: ReadonlySet<string> = new Set<string>([
  "TRACE_ON",
  "MSG_REGION",
  "KEYS",
  "TAGS",
  "WAIT",
  "DELAY",
  "RETRY_TOPIC",
  "REAL_TOPIC",
  "REAL_QID",
  "TRAN_MSG",
  "PGROUP",
  "MIN_OFFSET",
  "MAX_OFFSET",
  "BUYER_ID",
  "ORIGIN_MESSAGE_ID",
  "TRANSFER_FLAG",
  "CORRECTION_FLAG",
  "MQ2_FLAG",
  "RECONSUME_TIME",
  "UNIQ_KEY",
  "MAX_RECONSUME_TIMES",
  "CONSUME_START_TIME",
  "POP_CK",
  "POP_CK_OFFSET",
  "1ST_POP_TIME",
  "TRAN_PREPARED_QUEUE_OFFSET",
  "DUP_INFO",
  "EXTEND_UNIQ_INFO",
  "INSTANCE_ID",
  "CORRELATION_ID",
  "REPLY_TO_CLIENT",
  "TTL",
  "ARRIVE_TIME",
  "PUSH_REPLY_TIME",
  "CLUSTER",
  "MSG_TYPE",
  "INNER_MULTI_QUEUE_OFFSET",
  "TIMER_DELAY_MS",
  "TIMER_DELAY_SEC",
  "TIMER_DELIVER_MS",
  "TIMER_ENQUEUE_MS",
  "TIMER_DEQUEUE_MS",
  "TIMER_ROLL_TIMES",
  "TIMER_OUT_MS",
  "TIMER_DEL_UNIQKEY",
  "TIMER_DELAY_LEVEL",
  "__BORNHOST",
  "BORN_TIMESTAMP",
  "DLQ_ORIGIN_TOPIC",
  "DLQ_ORIGIN_MESSAGE_ID",
  "__CRC32#",
]);

/** True when `name` is reserved for the system (MessageConst.STRING_HASH_SET). */
export function isSystemProperty(name: string): boolean {
  return SYSTEM_PROPERTY_NAMES.has(name);
}

/**
 * A property that cannot travel in the `name\u0001value\u0002` form: its name or value contains a
 * separator character, or is empty (the decoder drops empty names and values, so they would be lost).
 * Code `RMQ_INVALID_PROPERTY`, not retriable; `context.property` names the property.
 */
export class InvalidPropertyError extends RmqError {
  override name = "InvalidPropertyError";
  /** The offending property name (possibly itself the problem). */
  readonly property: string;
  constructor(property: string, message: string, options: RmqErrorOptions = {}) {
    super("RMQ_INVALID_PROPERTY", message, { ...options, context: { ...options.context, property } });
    this.property = property;
  }
}

function hasSeparator(s: string): boolean {
  return s.includes(NAME_VALUE_SEPARATOR) || s.includes(PROPERTY_SEPARATOR);
}

/**
 * Checks that one property can be encoded and read back unchanged.
 * Throws InvalidPropertyError when the name or value is empty or contains \u0001 or \u0002.
 */
export function assertValidProperty(name: string, value: string): void {
  if (name.length === 0) throw new InvalidPropertyError(name, "message property name is empty");
  if (hasSeparator(name)) {
    throw new InvalidPropertyError(
      name,
      `message property name ${JSON.stringify(name)} contains a \\u0001 or \\u0002 separator character`,
    );
  }
  if (value.length === 0) {
    throw new InvalidPropertyError(name, `message property ${JSON.stringify(name)} has an empty value`);
  }
  if (hasSeparator(value)) {
    throw new InvalidPropertyError(
      name,
      `value of message property ${JSON.stringify(name)} contains a \\u0001 or \\u0002 separator character`,
    );
  }
}

/**
 * Encodes properties as `name\u0001value\u0002...` in the record's key order
 * (MessageDecoder.messageProperties2String). Undefined values are skipped, as Java skips nulls.
 * Throws InvalidPropertyError (see assertValidProperty); the byte-length limit is checked by the
 * record encoders, which know the field.
 */
export function encodeProperties(properties: Readonly<Record<string, string | undefined>>): string {
  let out = "";
  for (const [name, value] of Object.entries(properties)) {
    if (value !== undefined) out += encodeProperty(name, value);
  }
  return out;
}

/** One `name\u0001value\u0002` entry. Throws InvalidPropertyError (see assertValidProperty). */
export function encodeProperty(name: string, value: string): string {
  assertValidProperty(name, value);
  return name + NAME_VALUE_SEPARATOR + value + PROPERTY_SEPARATOR;
}

/**
 * Parses a properties string with the semantics of MessageDecoder.string2messageProperties: split on
 * \u0002; a segment shorter than 3 characters, without \u0001, with an empty name or an empty value
 * is skipped; a later duplicate name wins; a missing final \u0002 is accepted. Never throws.
 * The result is a plain object whose own keys may include "__proto__" (defined as an own property).
 */
export function decodeProperties(text: string): Record<string, string> {
  // Built directly (this runs for every pulled message); a duplicate name keeps its first
  // position and takes the later value, as a Map would.
  const out: Record<string, string> = {};
  const len = text.length;
  let index = 0;
  while (index < len) {
    let end = text.indexOf(PROPERTY_SEPARATOR, index);
    if (end < 0) end = len;
    if (end - index >= 3) {
      const sep = text.indexOf(NAME_VALUE_SEPARATOR, index);
      if (sep > index && sep < end - 1) {
        const name = text.slice(index, sep);
        const value = text.slice(sep + 1, end);
        if (name === "__proto__") {
          Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
        } else {
          out[name] = value;
        }
      }
    }
    index = end + 1;
  }
  return out;
}

/**
 * Properties already in wire form, every entry valid: a producer sends the text as it is. Made by
 * rewriteProperties, so that a forwarded message's properties are not decoded into a record and
 * encoded again (the replication hot path).
 */
export class EncodedProperties {
  /** Use rewriteProperties, which checks every entry. */
  constructor(
    /** `name\u0001value\u0002...`, each entry ending with its separator. */
    readonly text: string,
    /** The UNIQ_KEY entry's value (the last one, as decodeProperties would read it). */
    readonly uniqKey: string | undefined,
  ) {}

  /** The properties as a record (decodeProperties of the text). */
  decode(): Record<string, string> {
    return decodeProperties(this.text);
  }
}

/**
 * `source` (wire form, as stored) without the entries whose name `drop` accepts, with `append`
 * added at the end. Kept entries keep their text and order, duplicates included (a reader takes
 * the later value, as from the source); entries decodeProperties would skip are left out. Names
 * in `append` should be ones `drop` accepts, or they appear twice. Throws InvalidPropertyError for
 * an appended entry that cannot be encoded.
 */
export function rewriteProperties(
  source: string,
  drop: (name: string) => boolean,
  append: Iterable<readonly [string, string]>,
): EncodedProperties {
  const UNIQ = MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX;
  // Joined once at the end: a flat string, not a tree of concatenations that every in-flight
  // message would hold until it is sent.
  const parts: string[] = [];
  let uniqKey: string | undefined;
  // Kept entries are copied in runs: most sources lose nothing, and stay one piece.
  let runStart = 0;
  const len = source.length;
  let index = 0;
  while (index < len) {
    let end = source.indexOf(PROPERTY_SEPARATOR, index);
    if (end < 0) end = len;
    let keep = false;
    if (end - index >= 3) {
      const sep = source.indexOf(NAME_VALUE_SEPARATOR, index);
      if (sep > index && sep < end - 1) {
        const name = source.slice(index, sep);
        keep = !drop(name);
        if (keep && name === UNIQ) uniqKey = source.slice(sep + 1, end);
      }
    }
    if (!keep) {
      if (index > runStart) parts.push(source.slice(runStart, index));
      runStart = end + 1;
    }
    index = end + 1;
  }
  if (runStart < len) {
    parts.push(runStart === 0 ? source : source.slice(runStart, len));
    if (!source.endsWith(PROPERTY_SEPARATOR)) parts.push(PROPERTY_SEPARATOR);
  }
  // An array (the connector's case) is walked by index: no iterator objects for every
  // forwarded message.
  const entries = Array.isArray(append) ? (append as readonly (readonly [string, string])[]) : [...append];
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as readonly [string, string];
    const name = entry[0];
    const value = entry[1];
    assertValidProperty(name, value);
    parts.push(name, NAME_VALUE_SEPARATOR, value, PROPERTY_SEPARATOR);
    if (name === UNIQ) uniqKey = value;
  }
  const text = parts.join("");
  return new EncodedProperties(text, uniqKey);
}

/**
 * The encoded properties do not fit the int16 length prefix of a stored or batch record.
 * Code `RMQ_PROPERTIES_TOO_LONG`, not retriable.
 */
export class PropertiesTooLongError extends RmqError {
  override name = "PropertiesTooLongError";
  /** UTF-8 length of the encoded properties. */
  readonly bytes: number;
  constructor(bytes: number, options: RmqErrorOptions = {}) {
    super(
      "RMQ_PROPERTIES_TOO_LONG",
      `message properties encode to ${bytes} bytes; at most ${MAX_PROPERTIES_BYTES} fit the int16 length field`,
      options,
    );
    this.bytes = bytes;
  }
}

/**
 * Encodes properties (a record, or an already encoded string taken as is) to UTF-8 bytes for an
 * int16-length field. Throws InvalidPropertyError, or PropertiesTooLongError above 32767 bytes.
 */
export function encodePropertiesBytes(
  properties: string | Readonly<Record<string, string | undefined>>,
): Buffer {
  const text = typeof properties === "string" ? properties : encodeProperties(properties);
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length > MAX_PROPERTIES_BYTES) throw new PropertiesTooLongError(bytes.length);
  return bytes;
}
