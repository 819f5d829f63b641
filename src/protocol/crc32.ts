/**
 * CRC-32 (IEEE 802.3, the java.util.zip.CRC32 polynomial) and RocketMQ's body CRC
 * (org.apache.rocketmq.common.UtilAll.crc32: `CRC32(bytes) & 0x7FFFFFFF`).
 *
 * node:zlib has crc32 from Node 20.15; the package allows Node >= 20.9, so older runtimes fall
 * back to a table-driven implementation.
 */
import * as zlib from "node:zlib";

let table: Uint32Array | undefined;

function crc32Table(): Uint32Array {
  if (table !== undefined) return table;
  table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** Table-driven CRC-32, exported so tests can compare it with node:zlib's. Unsigned result. */
export function crc32Fallback(data: Uint8Array): number {
  const t = crc32Table();
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = (t[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const native: ((data: Uint8Array) => number) | undefined =
  typeof zlib.crc32 === "function" ? (data) => zlib.crc32(data) >>> 0 : undefined;

/** CRC-32 of `data` as an unsigned 32-bit number. */
export function crc32(data: Uint8Array): number {
  return native === undefined ? crc32Fallback(data) : native(data);
}

/** RocketMQ's BODYCRC of stored bytes: `CRC32(body) & 0x7FFFFFFF` (UtilAll.crc32). */
export function bodyCrc(body: Uint8Array): number {
  return crc32(body) & 0x7fffffff;
}
