/**
 * Message ids and socket-address bytes, following org.apache.rocketmq.common.message.MessageDecoder
 * (createMessageId / decodeMessageId) and MessageClientIDSetter (createUniqID).
 *
 * offsetMsgId (broker-assigned, used by VIEW_MESSAGE_BY_ID), uppercase hex of
 *   storeHost IP (4 | 16 bytes) | int32 port | int64 commitLogOffset       = 32 | 56 hex chars
 *
 * UNIQ_KEY (client-assigned, property UNIQ_KEY), uppercase hex of
 *   client IP (4 | 16 bytes) | int16 pid | int32 classloader hash | int32 ms since the start of
 *   the current month (local time) | int16 counter                        = 32 | 56 hex chars
 *
 * Addresses are written "a.b.c.d:port" and "[v6]:port" (RFC 5952 text for IPv6).
 */
import { networkInterfaces } from "node:os";
import { randomInt } from "node:crypto";
import { ProtocolError } from "./errors.js";

/** Formats 4 or 16 address bytes as text: dotted quad, or RFC 5952 IPv6 (lowercase, longest zero run as ::). */
export function formatIp(ip: Uint8Array): string {
  if (ip.length === 4) return `${ip[0]}.${ip[1]}.${ip[2]}.${ip[3]}`;
  if (ip.length !== 16) throw new ProtocolError(`an IP address has 4 or 16 bytes, not ${ip.length}`);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip[i] as number) << 8) | (ip[i + 1] as number));
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/** Formats an address and port: "a.b.c.d:port" or "[v6]:port". */
export function formatAddress(ip: Uint8Array, port: number): string {
  return ip.length === 16 ? `[${formatIp(ip)}]:${port}` : `${formatIp(ip)}:${port}`;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses an IPv4 or IPv6 (with optional "::" and trailing dotted quad) literal into 4 or 16 bytes. Throws ProtocolError. */
export function parseIp(text: string): Buffer {
  const v4 = IPV4.exec(text);
  if (v4) {
    const bytes = v4.slice(1).map(Number);
    if (bytes.some((b) => b > 255)) throw new ProtocolError(`bad IPv4 address ${JSON.stringify(text)}`);
    return Buffer.from(bytes);
  }
  const bad = (): never => {
    throw new ProtocolError(`bad IP address ${JSON.stringify(text)}`);
  };
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) bad();
  const halves = text.split("::");
  if (halves.length > 2) bad();
  const parseGroups = (part: string): number[] => {
    if (part === "") return [];
    const out: number[] = [];
    const items = part.split(":");
    items.forEach((item, i) => {
      if (item.includes(".")) {
        if (i !== items.length - 1 || !IPV4.test(item)) bad();
        const quad = parseIp(item);
        out.push(
          ((quad[0] as number) << 8) | (quad[1] as number),
          ((quad[2] as number) << 8) | (quad[3] as number),
        );
      } else {
        if (!/^[0-9A-Fa-f]{1,4}$/.test(item)) bad();
        out.push(parseInt(item, 16));
      }
    });
    return out;
  };
  // A dotted quad may only end the address.
  if (halves.length === 2 && (halves[0] as string).includes(".")) bad();
  const head = parseGroups(halves[0] as string);
  const tail = halves.length === 2 ? parseGroups(halves[1] as string) : [];
  if (halves.length === 2 ? head.length + tail.length > 7 : head.length !== 8) bad();
  const groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** Parses "a.b.c.d:port" or "[v6]:port" into address bytes and port (0-65535). Throws ProtocolError. */
export function parseAddress(address: string): { ip: Buffer; port: number } {
  let host: string;
  let portText: string;
  if (address.startsWith("[")) {
    const close = address.indexOf("]:");
    if (close < 0) throw new ProtocolError(`bad address ${JSON.stringify(address)}: expected [ipv6]:port`);
    host = address.slice(1, close);
    portText = address.slice(close + 2);
  } else {
    const colon = address.lastIndexOf(":");
    if (colon < 0) throw new ProtocolError(`bad address ${JSON.stringify(address)}: expected host:port`);
    host = address.slice(0, colon);
    portText = address.slice(colon + 1);
  }
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : -1;
  if (port < 0 || port > 65535) throw new ProtocolError(`bad port in address ${JSON.stringify(address)}`);
  return { ip: parseIp(host), port };
}

/** Builds an offsetMsgId from the store host's address bytes, its port and the commit-log offset. */
export function createOffsetMsgId(storeHostIp: Uint8Array, port: number, commitLogOffset: bigint): string {
  return offsetMsgIdWithPrefix(offsetMsgIdPrefix(storeHostIp, port), commitLogOffset);
}

/**
 * The store-host part of an offsetMsgId (address bytes and int32 port, upper-case hex). Records
 * of one pull share it, so a decoder makes it once and adds each offset with
 * offsetMsgIdWithPrefix.
 */
export function offsetMsgIdPrefix(storeHostIp: Uint8Array, port: number): string {
  // Built as text: a Buffer per call (Buffer.alloc is never pooled) was a measurable share of the
  // pull path's CPU and of its external memory. Same bytes as Java: ip, int32 port, int64
  // offset, big-endian, upper-case hex.
  let hex = "";
  for (const byte of storeHostIp) hex += HEX_BYTES[byte] as string;
  return hex + ((port | 0) >>> 0).toString(16).padStart(8, "0").toUpperCase();
}

/** An offsetMsgId from offsetMsgIdPrefix's text and the commit-log offset. */
export function offsetMsgIdWithPrefix(prefix: string, commitLogOffset: bigint): string {
  return prefix + BigInt.asUintN(64, commitLogOffset).toString(16).padStart(16, "0").toUpperCase();
}

/** "00".."FF" by byte value. */
const HEX_BYTES: readonly string[] = Array.from({ length: 256 }, (_, i) =>
  i.toString(16).toUpperCase().padStart(2, "0"),
);

/** What an offsetMsgId says: the store host and where the message sits in its commit log. */
export interface OffsetMsgId {
  /** The store host address as text, e.g. "10.0.0.5" or "::1". */
  host: string;
  port: number;
  /** "host:port", IPv6 as "[host]:port": the broker to ask with VIEW_MESSAGE_BY_ID. */
  address: string;
  commitLogOffset: bigint;
}

/**
 * Decodes an offsetMsgId (32 hex chars for IPv4, 56 for IPv6, either case).
 * Throws ProtocolError on any other length or a non-hex character.
 */
export function decodeOffsetMsgId(hex: string): OffsetMsgId {
  if ((hex.length !== 32 && hex.length !== 56) || !/^[0-9A-Fa-f]*$/.test(hex)) {
    throw new ProtocolError(`offsetMsgId ${JSON.stringify(hex)} is not 32 or 56 hex characters`);
  }
  const bytes = Buffer.from(hex, "hex");
  const ipLength = hex.length === 32 ? 4 : 16;
  const ip = bytes.subarray(0, ipLength);
  const port = bytes.readInt32BE(ipLength);
  return {
    host: formatIp(ip),
    port,
    address: formatAddress(ip, port),
    commitLogOffset: bytes.readBigInt64BE(ipLength + 4),
  };
}

/** Settings of a UniqueIdGenerator; every field has a default taken from the running process. */
export interface UniqueIdOptions {
  /** 4 or 16 address bytes. Default: first non-internal IPv4 of this host, else bytes of the clock (MessageClientIDSetter.createFakeIP). */
  ip?: Uint8Array;
  /** Process id; only the low 16 bits are used. Default: process.pid. */
  pid?: number;
  /** Stands in for Java's classloader hash code: an int32 telling generators in one process apart. Default: random. */
  instanceHash?: number;
  /** Clock in ms since the epoch. Default: Date.now. */
  now?: () => number;
}

function defaultIp(): Uint8Array {
  try {
    for (const list of Object.values(networkInterfaces())) {
      for (const info of list ?? []) {
        if (info.family === "IPv4" && !info.internal) return parseIp(info.address);
      }
    }
  } catch {
    // no interface information: fall through to the clock-based fake address, as Java does
  }
  const clock = Buffer.alloc(8);
  clock.writeBigInt64BE(BigInt(Date.now()));
  return clock.subarray(4);
}

/**
 * Generates UNIQ_KEY values like MessageClientIDSetter.createUniqID: a fixed prefix (ip, pid,
 * instance hash), then the ms since the start of the current month (local time, as Java's
 * Calendar) and a 16-bit wrapping counter.
 */
export class UniqueIdGenerator {
  readonly #prefix: string;
  readonly #now: () => number;
  #counter = 0;
  #monthStart = 0;
  #nextMonthStart = 0;

  constructor(options: UniqueIdOptions = {}) {
    const ip = options.ip ?? defaultIp();
    if (ip.length !== 4 && ip.length !== 16) {
      throw new ProtocolError(`a UNIQ_KEY address has 4 or 16 bytes, not ${ip.length}`);
    }
    const fixed = Buffer.alloc(ip.length + 6);
    fixed.set(ip, 0);
    fixed.writeUInt16BE((options.pid ?? process.pid) & 0xffff, ip.length);
    fixed.writeInt32BE((options.instanceHash ?? randomInt(-0x80000000, 0x7fffffff)) | 0, ip.length + 2);
    this.#prefix = fixed.toString("hex").toUpperCase();
    this.#now = options.now ?? Date.now;
  }

  /** Returns the next id: 32 uppercase hex characters (56 with an IPv6 address). */
  next(): string {
    const now = this.#now();
    if (now >= this.#nextMonthStart || now < this.#monthStart - 1_000_000) {
      const d = new Date(now);
      this.#monthStart = new Date(d.getFullYear(), d.getMonth(), 1).getTime();
      this.#nextMonthStart = new Date(d.getFullYear(), d.getMonth() + 1, 1).getTime();
    }
    let diff = (now - this.#monthStart) | 0;
    // A clock stepped back a little (NTP) gives 0, as in Java.
    if (diff < 0 && diff > -1_000_000) diff = 0;
    const tail = Buffer.alloc(6);
    tail.writeInt32BE(diff, 0);
    tail.writeUInt16BE(this.#counter & 0xffff, 4);
    this.#counter = (this.#counter + 1) & 0xffff;
    return this.#prefix + tail.toString("hex").toUpperCase();
  }
}

let shared: UniqueIdGenerator | undefined;

/** A new UNIQ_KEY from a process-wide UniqueIdGenerator with default settings. */
export function createUniqueId(): string {
  shared ??= new UniqueIdGenerator();
  return shared.next();
}
