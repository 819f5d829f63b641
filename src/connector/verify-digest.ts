/**
 * The 32-bit digests `verify` compares a target message with the message the connector should
 * have written (mapMessage of its source), so that the target scan keeps a few bytes per message
 * instead of its bodies. CRC-32 is no cryptographic hash: it finds accidents (a changed byte, a
 * lost property), not an adversary.
 */
import type { Message } from "../client/types.js";
import { crc32 } from "../protocol/crc32.js";
import type { MessageExt } from "../protocol/message.js";
import { EncodedProperties, MessageConst } from "../protocol/properties.js";
import { MessageSysFlag } from "../protocol/sysflag.js";
import type { MessageDigest } from "./verify-book.js";

/**
 * Properties a target message carries that the connector did not send, so they are not compared
 * (mapMessage drops them from the source too). Found by diffing replicated and hand-sent
 * messages on 5.5.0 and 4.9.7 (test/e2e/verify.test.ts):
 * - CLUSTER: the target broker stamps its cluster name on every message it stores;
 * - MSG_REGION, TRACE_ON: stamped by the broker on single sends (SEND_MESSAGE(_V2)), not on the
 *   messages inside a batch, so dead letters and re-sent copies have them and batches do not;
 * - MIN_OFFSET, MAX_OFFSET: Java consumers add them to pulled messages (ours does not), so a
 *   message re-sent by a Java tool may carry them.
 */
export const TARGET_ADDED_PROPERTIES: ReadonlySet<string> = new Set([
  "CLUSTER",
  "MSG_REGION",
  "TRACE_ON",
  "MIN_OFFSET",
  "MAX_OFFSET",
]);

const UNIQ = MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX;

/** Compression bits of a stored sysFlag, as mapMessage passes them on (0 for a plain body). */
function compressionBits(sysFlag: number): number {
  return (sysFlag & MessageSysFlag.COMPRESSED_FLAG) !== 0 ? sysFlag & 0x701 : 0;
}

/**
 * Digest of a message's parts: stored body bytes, compression bits, flag, and the property set
 * (TAGS and KEYS among them) without TARGET_ADDED_PROPERTIES, sorted by name so that order does
 * not matter (a reader sees a set: decodeProperties keeps the last of duplicate names).
 */
function digest(
  storedBody: Uint8Array,
  compression: number,
  flag: number,
  properties: Record<string, string>,
): MessageDigest {
  const names = Object.keys(properties)
    .filter((n) => n !== UNIQ && !TARGET_ADDED_PROPERTIES.has(n))
    .sort();
  const parts = [String(crc32(storedBody)), String(storedBody.length), String(compression), String(flag)];
  for (const name of names) parts.push(name, properties[name] as string);
  const uniq = properties[UNIQ];
  return {
    content: crc32(Buffer.from(parts.join("\u0000"), "utf8")),
    uniqKey: uniq === undefined ? undefined : crc32(Buffer.from(uniq, "utf8")),
  };
}

/** Digest of a message read from the target. */
export function digestStored(m: MessageExt): MessageDigest {
  return digest(m.storedBody, compressionBits(m.sysFlag), m.flag, m.properties);
}

/** Digest of the message the connector sends (mapMessage's output). */
export function digestMapped(m: Message): MessageDigest {
  const properties =
    m.properties instanceof EncodedProperties ? m.properties.decode() : { ...(m.properties ?? {}) };
  if (!(m.properties instanceof EncodedProperties)) {
    // A hand-built Message names tags and keys outside its properties; the broker stores them as these.
    if (m.tags !== undefined && m.tags !== "") properties[MessageConst.PROPERTY_TAGS] = m.tags;
    const keys = Array.isArray(m.keys) ? m.keys.join(" ") : m.keys;
    if (keys !== undefined && keys !== "") properties[MessageConst.PROPERTY_KEYS] = keys;
  }
  return digest(m.body, m.compressionSysFlag ?? 0, m.flag ?? 0, properties);
}
