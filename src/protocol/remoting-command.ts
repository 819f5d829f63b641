/**
 * RemotingCommand (org.apache.rocketmq.remoting.protocol.RemotingCommand) and its two header
 * encodings.
 *
 * JSON header (RemotingSerializable, fastjson):
 *   {"code":int,"language":"JAVA","version":int,"opaque":int,"flag":int,"remark":string?,
 *    "extFields":{string:string},"serializeTypeCurrentRPC":"JSON"}
 *
 * ROCKETMQ binary header (RocketMQSerializable), big-endian:
 *   int16 code | int8 languageCode | int16 version | int32 opaque | int32 flag
 *   int32 remarkLen | remark UTF-8                       (length 0 = null)
 *   int32 extLen    | { int16 keyLen, key, int32 valLen, val }*
 *
 * We always send JSON (every server accepts it) and decode both, because a server answers in its
 * own configured type, not in the request's.
 */
import { LanguageCode, SerializeType, type LanguageName } from "./codes.js";
import { ProtocolError } from "./errors.js";
import { parseTolerantJson, type JsonValue } from "./tolerant-json.js";

/** flag bit 0: this command is a response. */
export const RESPONSE_FLAG = 1;
/** flag bit 1: a request that expects no response. */
export const ONEWAY_FLAG = 2;

/**
 * MQVersion.Version ordinal we announce: V5_0_0. >= 401 (V4_9_4) makes the NameServer answer
 * routes in standard JSON.
 */
export const CLIENT_VERSION = 413;

export interface RemotingCommand {
  code: number;
  /** Language name as sent on the wire (JSON) or mapped from the binary code. */
  language: string;
  version: number;
  opaque: number;
  flag: number;
  remark?: string | undefined;
  /** The custom header: every value is a string on the wire. */
  extFields: Record<string, string>;
  body?: Buffer | undefined;
}

export function isResponse(cmd: RemotingCommand): boolean {
  return (cmd.flag & RESPONSE_FLAG) !== 0;
}

export function isOneway(cmd: RemotingCommand): boolean {
  return (cmd.flag & ONEWAY_FLAG) !== 0;
}

/**
 * Builds the ext fields of a request from a typed header object: undefined and null values are
 * left out (as Java's makeCustomHeaderToNet does), everything else is `String(value)`.
 */
export function toExtFields(header: object): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(header)) {
    if (value === undefined || value === null) continue;
    setField(out, key, String(value));
  }
  return out;
}

/**
 * Sets an ext field as an own property. A peer may send any key, and plain assignment of
 * "__proto__" would replace the object's prototype instead of adding the field.
 */
function setField(fields: Record<string, string>, key: string, value: string): void {
  if (key === "__proto__") {
    Object.defineProperty(fields, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    fields[key] = value;
  }
}

/** Encodes a whole frame (length prefix, header info, JSON header, body). */
export function encodeCommand(cmd: RemotingCommand): Buffer {
  const [head, body] = encodeCommandParts(cmd);
  return body === undefined ? head : Buffer.concat([head, body]);
}

/**
 * The frame of encodeCommand as [length prefix + header info + JSON header, body], the body
 * (when there is one) being the caller's buffer itself: a transport that writes both parts in
 * one go sends a batch of messages without copying it once more.
 */
export function encodeCommandParts(cmd: RemotingCommand): [Buffer] | [Buffer, Buffer] {
  const header: Record<string, unknown> = {
    code: cmd.code,
    language: cmd.language,
    version: cmd.version,
    opaque: cmd.opaque,
    flag: cmd.flag,
    extFields: cmd.extFields,
    serializeTypeCurrentRPC: "JSON",
  };
  if (cmd.remark !== undefined) header["remark"] = cmd.remark;
  const json = JSON.stringify(header);
  const headerLength = Buffer.byteLength(json, "utf8");
  const bodyLength = cmd.body?.length ?? 0;
  const head = Buffer.allocUnsafe(8 + headerLength);
  head.writeInt32BE(4 + headerLength + bodyLength, 0);
  head.writeInt32BE((SerializeType.JSON << 24) | headerLength, 4);
  head.write(json, 8, "utf8");
  return cmd.body && cmd.body.length > 0 ? [head, cmd.body] : [head];
}

/** Encodes a command with a ROCKETMQ binary header. Used by tests and by peers that want it. */
export function encodeCommandBinary(cmd: RemotingCommand): Buffer {
  const languageCode = LanguageCode[cmd.language as LanguageName] ?? LanguageCode.OTHER;
  const remark = cmd.remark === undefined ? undefined : Buffer.from(cmd.remark, "utf8");
  const ext: Buffer[] = [];
  for (const [k, v] of Object.entries(cmd.extFields)) {
    const key = Buffer.from(k, "utf8");
    const val = Buffer.from(v, "utf8");
    const lens = Buffer.allocUnsafe(2);
    lens.writeInt16BE(key.length, 0);
    const vlen = Buffer.allocUnsafe(4);
    vlen.writeInt32BE(val.length, 0);
    ext.push(lens, key, vlen, val);
  }
  const extBytes = Buffer.concat(ext);
  const fixed = Buffer.allocUnsafe(21);
  fixed.writeInt16BE(cmd.code, 0);
  fixed.writeInt8(languageCode, 2);
  fixed.writeInt16BE(cmd.version, 3);
  fixed.writeInt32BE(cmd.opaque, 5);
  fixed.writeInt32BE(cmd.flag, 9);
  fixed.writeInt32BE(remark?.length ?? 0, 13);
  const extLen = Buffer.allocUnsafe(4);
  extLen.writeInt32BE(extBytes.length, 0);
  const header = Buffer.concat([fixed.subarray(0, 17), remark ?? Buffer.alloc(0), extLen, extBytes]);
  const bodyLength = cmd.body?.length ?? 0;
  const prefix = Buffer.allocUnsafe(8);
  prefix.writeInt32BE(4 + header.length + bodyLength, 0);
  prefix.writeInt32BE((SerializeType.ROCKETMQ << 24) | header.length, 4);
  return Buffer.concat([prefix, header, cmd.body ?? Buffer.alloc(0)]);
}

const LANGUAGE_NAMES = new Map<number, string>(Object.entries(LanguageCode).map(([k, v]) => [v, k]));

/**
 * Decodes a frame payload (the bytes after the length prefix, as FrameDecoder yields them).
 * Throws ProtocolError on anything malformed.
 */
export function decodeCommand(payload: Buffer): RemotingCommand {
  if (payload.length < 4) throw new ProtocolError(`frame of ${payload.length} bytes has no header info`);
  const headerInfo = payload.readInt32BE(0);
  const serializeType = (headerInfo >>> 24) & 0xff;
  const headerLength = headerInfo & 0xffffff;
  if (4 + headerLength > payload.length) {
    throw new ProtocolError(`header length ${headerLength} exceeds frame of ${payload.length} bytes`);
  }
  const header = payload.subarray(4, 4 + headerLength);
  const body = payload.length > 4 + headerLength ? payload.subarray(4 + headerLength) : undefined;
  let cmd: RemotingCommand;
  if (serializeType === SerializeType.JSON) cmd = decodeJsonHeader(header);
  else if (serializeType === SerializeType.ROCKETMQ) cmd = decodeBinaryHeader(header);
  else throw new ProtocolError(`unknown serialize type ${serializeType}`);
  cmd.body = body;
  return cmd;
}

/**
 * A header is RemotingSerializable JSON of RemotingCommand: quoted keys, int32 numbers, string
 * ext fields, so JSON.parse reads it exactly; the tolerant reader (slower, and taken for any text
 * with a digit after a comma, such as a batch's comma-joined msgIds) is only the fallback.
 */
function parseHeaderJson(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return parseTolerantJson(text);
  }
}

function decodeJsonHeader(header: Buffer): RemotingCommand {
  const parsed = parseHeaderJson(header.toString("utf8"));
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ProtocolError("JSON header is not an object");
  }
  const int = (key: string): number => {
    const v = parsed[key];
    if (v === undefined || v === null) return 0;
    // Java ints: a number out of int32 range (which JSON.parse would also have rounded) is no header.
    if (typeof v !== "number" || !Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff)
      throw new ProtocolError(`JSON header field ${key} is not an int32`);
    return v;
  };
  let extFields: Record<string, string> = {};
  const ext = parsed["extFields"];
  if (ext !== undefined && ext !== null) {
    if (typeof ext !== "object" || Array.isArray(ext))
      throw new ProtocolError("JSON header extFields is not an object");
    // Java's extFields is a HashMap<String, String>: usually every value is a string already and
    // the parsed object (whose "__proto__" key, if any, is an own field) is used as it is.
    if (Object.values(ext).every((v) => typeof v === "string")) {
      extFields = ext as Record<string, string>;
    } else {
      for (const [k, v] of Object.entries(ext)) {
        if (v !== null) setField(extFields, k, typeof v === "string" ? v : JSON.stringify(v));
      }
    }
  }
  const remark = parsed["remark"];
  const language = parsed["language"];
  return {
    code: int("code"),
    language: typeof language === "string" ? language : "OTHER",
    version: int("version"),
    opaque: int("opaque"),
    flag: int("flag"),
    remark: typeof remark === "string" ? remark : undefined,
    extFields,
  };
}

function decodeBinaryHeader(h: Buffer): RemotingCommand {
  let pos = 0;
  const need = (n: number, what: string): void => {
    if (pos + n > h.length) throw new ProtocolError(`ROCKETMQ header truncated reading ${what}`);
  };
  need(21 - 4, "fixed part");
  const code = h.readInt16BE(0);
  const languageCode = h.readInt8(2);
  const version = h.readInt16BE(3);
  const opaque = h.readInt32BE(5);
  const flag = h.readInt32BE(9);
  const remarkLength = h.readInt32BE(13);
  pos = 17;
  if (remarkLength < 0) throw new ProtocolError(`ROCKETMQ header remark length ${remarkLength} is negative`);
  need(remarkLength, "remark");
  const remark = remarkLength > 0 ? h.toString("utf8", pos, pos + remarkLength) : undefined;
  pos += remarkLength;
  need(4, "ext length");
  const extLength = h.readInt32BE(pos);
  pos += 4;
  if (extLength < 0) throw new ProtocolError(`ROCKETMQ header ext length ${extLength} is negative`);
  need(extLength, "ext fields");
  const extEnd = pos + extLength;
  const extFields: Record<string, string> = {};
  while (pos < extEnd) {
    need(2, "ext key length");
    const keyLength = h.readInt16BE(pos);
    pos += 2;
    if (keyLength < 0 || pos + keyLength > extEnd)
      throw new ProtocolError("ROCKETMQ header ext key overruns the header");
    const key = h.toString("utf8", pos, pos + keyLength);
    pos += keyLength;
    if (pos + 4 > extEnd) throw new ProtocolError("ROCKETMQ header ext value length overruns the header");
    const valueLength = h.readInt32BE(pos);
    pos += 4;
    if (valueLength < 0 || pos + valueLength > extEnd)
      throw new ProtocolError("ROCKETMQ header ext value overruns the header");
    setField(extFields, key, h.toString("utf8", pos, pos + valueLength));
    pos += valueLength;
  }
  return {
    code,
    language: LANGUAGE_NAMES.get(languageCode) ?? "OTHER",
    version,
    opaque,
    flag,
    remark,
    extFields,
  };
}
