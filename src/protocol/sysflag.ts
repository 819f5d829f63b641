/**
 * System flag bits, following org.apache.rocketmq.common.sysflag.MessageSysFlag and
 * org.apache.rocketmq.common.sysflag.PullSysFlag (identical in 4.9.8 and 5.x).
 *
 * MessageSysFlag (int32 SYSFLAG of a stored message, header `sysFlag`/`f` of a send):
 *   bit 0      COMPRESSED
 *   bit 1      MULTI_TAGS
 *   bits 2-3   transaction type: NOT 0x0, PREPARED 0x4, COMMIT 0x8, ROLLBACK 0xC
 *   bit 4      BORNHOST_V6       (born host stored as 16 + 4 bytes)
 *   bit 5      STOREHOSTADDRESS_V6 (store host stored as 16 + 4 bytes)
 *   bit 6      NEED_UNWRAP, bit 7 INNER_BATCH (BatchCQ topics only)
 *   bits 8-10  compression type: 0 legacy zlib, 1 LZ4, 2 ZSTD, 3 ZLIB (CompressionType.findByValue)
 *
 * PullSysFlag (header `sysFlag` of PULL_MESSAGE): COMMIT_OFFSET 1, SUSPEND 2, SUBSCRIPTION 4,
 * CLASS_FILTER 8, LITE_PULL 0x10.
 */

/** Bits of the message sysFlag, named as in MessageSysFlag.java. */
export const MessageSysFlag = {
  COMPRESSED_FLAG: 0x1,
  MULTI_TAGS_FLAG: 0x2,
  TRANSACTION_NOT_TYPE: 0x0,
  TRANSACTION_PREPARED_TYPE: 0x4,
  TRANSACTION_COMMIT_TYPE: 0x8,
  TRANSACTION_ROLLBACK_TYPE: 0xc,
  BORNHOST_V6_FLAG: 0x10,
  STOREHOSTADDRESS_V6_FLAG: 0x20,
  NEED_UNWRAP_FLAG: 0x40,
  INNER_BATCH_FLAG: 0x80,
  COMPRESSION_LZ4_TYPE: 0x100,
  COMPRESSION_ZSTD_TYPE: 0x200,
  COMPRESSION_ZLIB_TYPE: 0x300,
  /** Mask of the three compression-type bits. */
  COMPRESSION_TYPE_COMPARATOR: 0x700,
} as const;

/** Values of the compression-type field `(sysFlag >> 8) & 7`, as in CompressionType.java. */
export const CompressionTypeValue = {
  /** Written by clients that predate the type bits; means zlib. */
  LEGACY_ZLIB: 0,
  LZ4: 1,
  ZSTD: 2,
  ZLIB: 3,
} as const;

/** Name of a body compression format: a zlib stream, an LZ4 frame or a zstd frame. */
export type CompressionName = "ZLIB" | "LZ4" | "ZSTD";

/** Bits of the PULL_MESSAGE request header `sysFlag`, named as in PullSysFlag.java. */
export const PullSysFlag = {
  /** The broker also stores the `commitOffset` header as the group's offset. */
  FLAG_COMMIT_OFFSET: 0x1,
  /** Long polling: the broker holds the request while no message is available. */
  FLAG_SUSPEND: 0x2,
  /** The broker takes `subscription`/`expressionType` from this request instead of heartbeats. */
  FLAG_SUBSCRIPTION: 0x4,
  FLAG_CLASS_FILTER: 0x8,
  /** Set by the Java lite pull consumer (request code 361). */
  FLAG_LITE_PULL_MESSAGE: 0x10,
} as const;

/** The transaction type bits `sysFlag & 0xC` (MessageSysFlag.getTransactionValue). */
export function transactionType(sysFlag: number): number {
  return sysFlag & MessageSysFlag.TRANSACTION_ROLLBACK_TYPE;
}

/**
 * The compression of a body stored with `sysFlag`, or undefined when the COMPRESSED bit is clear.
 * Type 0 is legacy zlib (clients that send only the COMPRESSED bit, e.g. Go and Java before 5.0).
 * Returns null for the types 4-7, which no RocketMQ version defines (Java throws on them).
 */
export function compressionOf(sysFlag: number): CompressionName | null | undefined {
  if ((sysFlag & MessageSysFlag.COMPRESSED_FLAG) === 0) return undefined;
  switch ((sysFlag >> 8) & 0x7) {
    case CompressionTypeValue.LEGACY_ZLIB:
    case CompressionTypeValue.ZLIB:
      return "ZLIB";
    case CompressionTypeValue.LZ4:
      return "LZ4";
    case CompressionTypeValue.ZSTD:
      return "ZSTD";
    default:
      return null;
  }
}

/**
 * The part of a source message's sysFlag that may be sent on with its stored body: the COMPRESSED
 * bit and the compression type, `sysFlag & (0x1 | 0x700)` (protocol notes 1.9).
 *
 * The broker stores a send's body and sysFlag verbatim and consumers decompress by the stored flag,
 * so compressed bytes can be forwarded untouched (no LZ4/ZSTD codec needed). Every other bit is
 * harmful when copied: PREPARED/ROLLBACK keep the message out of the consume queue forever, COMMIT
 * makes a batch MESSAGE_ILLEGAL, a stale BORNHOST_V6/STOREHOST_V6 bit makes the broker size the
 * record for the wrong address family, and MULTI_TAGS/INNER_BATCH/NEED_UNWRAP are broker-owned.
 */
export function forwardableSysFlag(sysFlag: number): number {
  return sysFlag & (MessageSysFlag.COMPRESSED_FLAG | MessageSysFlag.COMPRESSION_TYPE_COMPARATOR);
}
