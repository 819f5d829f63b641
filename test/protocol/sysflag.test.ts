import { test } from "node:test";
import assert from "node:assert/strict";
import {
  compressionOf,
  forwardableSysFlag,
  MessageSysFlag,
  PullSysFlag,
  transactionType,
} from "../../src/protocol/sysflag.js";

test("bit values match MessageSysFlag.java and PullSysFlag.java", () => {
  assert.equal(MessageSysFlag.COMPRESSED_FLAG, 0x1);
  assert.equal(MessageSysFlag.MULTI_TAGS_FLAG, 0x2);
  assert.equal(MessageSysFlag.TRANSACTION_PREPARED_TYPE, 0x4);
  assert.equal(MessageSysFlag.TRANSACTION_COMMIT_TYPE, 0x8);
  assert.equal(MessageSysFlag.TRANSACTION_ROLLBACK_TYPE, 0xc);
  assert.equal(MessageSysFlag.BORNHOST_V6_FLAG, 0x10);
  assert.equal(MessageSysFlag.STOREHOSTADDRESS_V6_FLAG, 0x20);
  assert.equal(MessageSysFlag.NEED_UNWRAP_FLAG, 0x40);
  assert.equal(MessageSysFlag.INNER_BATCH_FLAG, 0x80);
  assert.equal(MessageSysFlag.COMPRESSION_ZLIB_TYPE, 0x300);
  assert.equal(PullSysFlag.FLAG_SUSPEND | PullSysFlag.FLAG_SUBSCRIPTION, 6);
  assert.equal(PullSysFlag.FLAG_LITE_PULL_MESSAGE, 0x10);
});

test("compressionOf reads the type bits only when COMPRESSED is set", () => {
  assert.equal(compressionOf(0), undefined);
  assert.equal(compressionOf(0x300), undefined);
  assert.equal(compressionOf(0x1), "ZLIB");
  assert.equal(compressionOf(0x301), "ZLIB");
  assert.equal(compressionOf(0x101), "LZ4");
  assert.equal(compressionOf(0x201 | 0x30), "ZSTD");
  assert.equal(compressionOf(0x401), null);
  assert.equal(compressionOf(0x701), null);
});

test("forwardableSysFlag keeps only the compression bits", () => {
  assert.equal(forwardableSysFlag(0x301 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x40 | 0x80), 0x301);
  assert.equal(forwardableSysFlag(0x1), 0x1);
  assert.equal(forwardableSysFlag(0xc | 0x30), 0);
  assert.equal(forwardableSysFlag(-1), 0x701);
  assert.equal(transactionType(0x30d), 0xc);
});
