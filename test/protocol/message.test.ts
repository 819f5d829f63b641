import { test } from "node:test";
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import fc from "fast-check";
import { crc32, crc32Fallback } from "../../src/protocol/crc32.js";
import { ProtocolError } from "../../src/protocol/errors.js";
import {
  decodeStoredMessages,
  encodeStoredMessage,
  MESSAGE_MAGIC_CODE,
  MESSAGE_MAGIC_CODE_V2,
  type MessageExt,
  type StoredMessageFields,
} from "../../src/protocol/message.js";
import { MessageSysFlag } from "../../src/protocol/sysflag.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+|\/\/[^\n]*/g, ""), "hex");

/** One v1 record with IPv4 hosts and an uncompressed body, written out field by field from the layout. */
const V1_RECORD = hex(`
  0000007B                  // TOTALSIZE 123
  DAA320A7                  // MAGICCODE v1
  3610A686                  // BODYCRC = crc32("hello") & 0x7FFFFFFF
  00000003                  // QUEUEID 3
  00000000                  // FLAG 0
  000000000000002A          // QUEUEOFFSET 42
  0000000000001000          // PHYSICALOFFSET 4096
  00000000                  // SYSFLAG 0
  0000018F125C7400          // BORNTIMESTAMP 1714000000000
  C0A80164 0000D431         // BORNHOST 192.168.1.100:54321
  0000018F125C7405          // STORETIMESTAMP 1714000000005
  0A000001 00002A9F         // STOREHOST 10.0.0.1:10911
  00000001                  // RECONSUMETIMES 1
  0000000000000000          // PREPARED TRANSACTION OFFSET 0
  00000005 68656C6C6F       // BODY "hello"
  06 546F70696341           // TOPIC "TopicA"
  0015 54414753 01 54616741 02 4B455953 01 6B31206B32 02  // PROPERTIES "TAGS\x01TagA\x02KEYS\x01k1 k2\x02"
`);

const V1_FIELDS: StoredMessageFields = {
  topic: "TopicA",
  queueId: 3,
  flag: 0,
  queueOffset: 42n,
  commitLogOffset: 4096n,
  sysFlag: 0,
  bornTimestamp: 1714000000000,
  bornHost: "192.168.1.100:54321",
  storeTimestamp: 1714000000005,
  storeHost: "10.0.0.1:10911",
  reconsumeTimes: 1,
  preparedTransactionOffset: 0n,
  storedBody: Buffer.from("hello"),
  properties: "TAGS\u0001TagA\u0002KEYS\u0001k1 k2\u0002",
};

function base(over: Partial<StoredMessageFields> = {}): StoredMessageFields {
  return {
    ...V1_FIELDS,
    properties: { TAGS: "TagA", UNIQ_KEY: "0A0000010001000000010000000A0001" },
    ...over,
  };
}

function only(buf: Buffer, options = {}): MessageExt {
  const list = decodeStoredMessages(buf, options);
  assert.equal(list.length, 1);
  return list[0] as MessageExt;
}

function expectOnlyProtocolErrors(run: () => unknown): void {
  try {
    run();
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
  }
}

test("hand-written v1 IPv4 record decodes to the expected values", () => {
  assert.equal(V1_RECORD.length, 123);
  const msg = only(V1_RECORD, { verifyCrc: true });
  assert.deepEqual(msg, {
    topic: "TopicA",
    queueId: 3,
    queueOffset: 42n,
    commitLogOffset: 4096n,
    sysFlag: 0,
    flag: 0,
    bornTimestamp: 1714000000000,
    bornHost: "192.168.1.100:54321",
    storeTimestamp: 1714000000005,
    storeHost: "10.0.0.1:10911",
    reconsumeTimes: 1,
    preparedTransactionOffset: 0n,
    bodyCrc: 0x3610a686,
    storeSize: 123,
    magicCode: MESSAGE_MAGIC_CODE,
    storedBody: Buffer.from("hello"),
    body: Buffer.from("hello"),
    compression: undefined,
    properties: { TAGS: "TagA", KEYS: "k1 k2" },
    propertiesText: "TAGS\u0001TagA\u0002KEYS\u0001k1 k2\u0002",
    offsetMsgId: "0A00000100002A9F0000000000001000",
    tags: "TagA",
    keys: ["k1", "k2"],
    uniqKey: undefined,
  });
});

test("offsetMsgIds: false leaves offsetMsgId empty and changes nothing else", () => {
  const full = only(V1_RECORD);
  const lean = only(V1_RECORD, { offsetMsgIds: false });
  assert.equal(lean.offsetMsgId, "");
  assert.deepEqual({ ...lean, offsetMsgId: full.offsetMsgId }, full);
});

test("encodeStoredMessage of the same values gives the hand-written bytes", () => {
  assert.deepEqual(encodeStoredMessage(V1_FIELDS), V1_RECORD);
  assert.deepEqual(
    encodeStoredMessage({ ...V1_FIELDS, properties: { TAGS: "TagA", KEYS: "k1 k2" } }),
    V1_RECORD,
  );
});

test("v2 magic: topic length is int16, chosen automatically for topics over 127 bytes", () => {
  const topic = "T".repeat(130);
  const buf = encodeStoredMessage(base({ topic }));
  assert.equal(buf.readInt32BE(4), MESSAGE_MAGIC_CODE_V2);
  assert.equal(buf.readUInt32BE(4), 0xdaa320ab);
  // Topic length sits after the 84 fixed bytes and the 4 + 5 body bytes.
  assert.equal(buf.readInt16BE(93), 130);
  const msg = only(buf);
  assert.equal(msg.topic, topic);
  assert.equal(msg.magicCode, MESSAGE_MAGIC_CODE_V2);
  assert.equal(msg.uniqKey, "0A0000010001000000010000000A0001");
  // A short topic may also be written as v2; 127 bytes is still v1.
  assert.equal(only(encodeStoredMessage(base({ magicCode: MESSAGE_MAGIC_CODE_V2 }))).topic, "TopicA");
  assert.equal(encodeStoredMessage(base({ topic: "x".repeat(127) })).readInt32BE(4), MESSAGE_MAGIC_CODE);
  assert.throws(
    () => encodeStoredMessage(base({ topic: "x".repeat(128), magicCode: MESSAGE_MAGIC_CODE })),
    ProtocolError,
  );
});

test("v2 record bytes written by hand around the topic", () => {
  const v2 = Buffer.from(V1_RECORD);
  v2.writeInt32BE(MESSAGE_MAGIC_CODE_V2, 4);
  // Replace int8 topic length 06 by int16 0006: one byte longer.
  const patched = Buffer.concat([v2.subarray(0, 93), hex("0006"), v2.subarray(94)]);
  patched.writeInt32BE(124, 0);
  const msg = only(patched);
  assert.equal(msg.topic, "TopicA");
  assert.deepEqual(msg.properties, { TAGS: "TagA", KEYS: "k1 k2" });
  assert.deepEqual(encodeStoredMessage({ ...V1_FIELDS, magicCode: MESSAGE_MAGIC_CODE_V2 }), patched);
});

test("IPv6 born and store hosts follow the sysFlag bits", () => {
  const v4 = encodeStoredMessage(base());
  const sysFlag = MessageSysFlag.BORNHOST_V6_FLAG | MessageSysFlag.STOREHOSTADDRESS_V6_FLAG;
  const buf = encodeStoredMessage(
    base({ sysFlag, bornHost: "[2001:db8::5]:40000", storeHost: "[::1]:10911" }),
  );
  assert.equal(buf.length, v4.length + 24);
  // BORNHOST starts at 48: 16 address bytes then the port.
  assert.deepEqual(buf.subarray(48, 68), hex("20010DB8000000000000000000000005 00009C40"));
  const msg = only(buf, { verifyCrc: true });
  assert.equal(msg.bornHost, "[2001:db8::5]:40000");
  assert.equal(msg.storeHost, "[::1]:10911");
  assert.equal(msg.sysFlag, sysFlag);
  assert.equal(msg.offsetMsgId, "00000000000000000000000000000001" + "00002A9F" + "0000000000001000");
  // Only the store host in IPv6.
  const mixed = only(
    encodeStoredMessage(base({ sysFlag: MessageSysFlag.STOREHOSTADDRESS_V6_FLAG, storeHost: "[fe80::1]:1" })),
  );
  assert.equal(mixed.bornHost, "192.168.1.100:54321");
  assert.equal(mixed.storeHost, "[fe80::1]:1");
  assert.throws(() => encodeStoredMessage(base({ storeHost: "[::1]:1" })), ProtocolError);
  assert.throws(() => encodeStoredMessage(base({ sysFlag: MessageSysFlag.BORNHOST_V6_FLAG })), ProtocolError);
});

test("zlib bodies are inflated, the stored bytes kept for pass-through", () => {
  const original = Buffer.from("payload ".repeat(1000));
  const compressed = deflateSync(original);
  for (const sysFlag of [0x1 | 0x300, 0x1 /* legacy: no type bits */]) {
    const msg = only(encodeStoredMessage(base({ sysFlag, storedBody: compressed })), { verifyCrc: true });
    assert.equal(msg.compression, "ZLIB");
    assert.deepEqual(msg.body, original);
    assert.deepEqual(msg.storedBody, compressed);
    assert.equal(msg.sysFlag, sysFlag, "sysFlag kept as stored");
    assert.equal(msg.bodyCrc, crc32(compressed) & 0x7fffffff);
  }
  const raw = only(encodeStoredMessage(base({ sysFlag: 0x301, storedBody: compressed })), {
    decompress: false,
  });
  assert.equal(raw.body, undefined);
  assert.equal(raw.compression, "ZLIB");
  assert.throws(
    () =>
      decodeStoredMessages(encodeStoredMessage(base({ sysFlag: 0x301, storedBody: compressed })), {
        maxInflatedBytes: 100,
      }),
    ProtocolError,
  );
  assert.throws(
    () =>
      decodeStoredMessages(
        encodeStoredMessage(base({ sysFlag: 0x301, storedBody: Buffer.from("not zlib") })),
      ),
    (err: unknown) => err instanceof ProtocolError && /#0.*zlib/.test(err.message),
  );
});

test("LZ4 and ZSTD bodies are left compressed; unknown compression types are refused", () => {
  const stored = Buffer.from([0x04, 0x22, 0x4d, 0x18, 1, 2, 3]);
  for (const [sysFlag, name] of [
    [0x101, "LZ4"],
    [0x201, "ZSTD"],
  ] as const) {
    const msg = only(encodeStoredMessage(base({ sysFlag, storedBody: stored })));
    assert.equal(msg.compression, name);
    assert.equal(msg.body, undefined);
    assert.deepEqual(msg.storedBody, stored);
  }
  // Type bits without the COMPRESSED bit: not compressed.
  assert.deepEqual(only(encodeStoredMessage(base({ sysFlag: 0x300 }))).body, Buffer.from("hello"));
  assert.throws(
    () => decodeStoredMessages(encodeStoredMessage(base({ sysFlag: 0x401 }))),
    /unknown compression type 4/,
  );
});

test("verifyCrc rejects a body whose CRC does not match", () => {
  const buf = encodeStoredMessage(base({ bodyCrc: 12345 }));
  assert.equal(only(buf).bodyCrc, 12345);
  assert.throws(() => decodeStoredMessages(buf, { verifyCrc: true }), /#0.*CRC/);
});

test("crc32 fallback agrees with node:zlib", () => {
  assert.equal(crc32Fallback(Buffer.from("123456789")), 0xcbf43926);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => crc32Fallback(b) === crc32(b)));
});

/** Three records of different shapes, as one PULL body. */
function pullBody(): Buffer {
  return Buffer.concat([
    V1_RECORD,
    encodeStoredMessage(base({ topic: "t".repeat(200), queueOffset: 43n, commitLogOffset: 4219n })),
    encodeStoredMessage(
      base({
        sysFlag: 0x30,
        bornHost: "[::2]:1",
        storeHost: "[::3]:2",
        queueOffset: 44n,
        storedBody: Buffer.alloc(0),
      }),
    ),
  ]);
}

test("a PULL body of several records decodes in order", () => {
  const list = decodeStoredMessages(pullBody(), { verifyCrc: true });
  assert.deepEqual(
    list.map((m) => [m.queueOffset, m.topic.length, m.storeHost, m.body?.length]),
    [
      [42n, 6, "10.0.0.1:10911", 5],
      [43n, 200, "10.0.0.1:10911", 5],
      [44n, 6, "[::3]:2", 0],
    ],
  );
  assert.deepEqual(decodeStoredMessages(Buffer.alloc(0)), []);
});

test("a body cut at any point decodes the whole records before it, or names the cut record", () => {
  const body = pullBody();
  const boundaries = new Set<number>([0]);
  let end = 0;
  for (const m of decodeStoredMessages(body)) boundaries.add((end += m.storeSize));
  for (let cut = 0; cut < body.length; cut++) {
    const part = body.subarray(0, cut);
    if (boundaries.has(cut)) {
      assert.equal(
        decodeStoredMessages(part).length,
        [...boundaries].filter((b) => b > 0 && b <= cut).length,
      );
      continue;
    }
    const index = [...boundaries].filter((b) => b <= cut).length - 1;
    assert.throws(
      () => decodeStoredMessages(part),
      (err: unknown) => err instanceof ProtocolError && err.message.startsWith(`stored message #${index} `),
      `cut at ${cut}`,
    );
  }
});

test("malformed records give ProtocolErrors naming the field", () => {
  const bad = (mutate: (b: Buffer) => void, pattern: RegExp): void => {
    const b = Buffer.from(V1_RECORD);
    mutate(b);
    assert.throws(
      () => decodeStoredMessages(b),
      (err: unknown) => err instanceof ProtocolError && pattern.test(err.message),
    );
  };
  bad((b) => b.writeInt32BE(-875286124, 4), /blank/);
  bad((b) => b.writeInt32BE(0x12345678, 4), /unknown MAGICCODE 0x12345678/);
  bad((b) => b.writeInt32BE(50, 0), /TOTALSIZE 50/);
  bad((b) => b.writeInt32BE(-1, 0), /TOTALSIZE -1/);
  bad((b) => b.writeInt32BE(124, 0), /truncated/);
  bad((b) => b.writeInt32BE(-1, 84), /BODY length -1/);
  bad((b) => b.writeInt32BE(6, 84), /truncated reading TOPIC/); // body eats the topic length byte
  bad((b) => b.writeInt8(-128, 93), /TOPIC length -128/);
  bad((b) => b.writeInt16BE(-2, 100), /PROPERTIES length -2/);
  bad((b) => b.writeInt16BE(20, 100), /fields end after 122 bytes but TOTALSIZE is 123/);
  bad((b) => b.writeInt32BE(70000, 52), /BORNHOST port 70000/);
  bad((b) => b.writeInt32BE(-1, 68), /STOREHOST port -1/);
  bad((b) => b.writeInt32BE(0x10, 36), /port|truncated|TOTALSIZE/); // BORNHOST_V6 bit on IPv4 bytes shifts every later field
});

test("garbage and mutated records only ever raise ProtocolError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
      expectOnlyProtocolErrors(() => decodeStoredMessages(Buffer.from(bytes), { verifyCrc: true }));
    }),
    { numRuns: 2000 },
  );
  const body = pullBody();
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(body.length - 1), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 6,
      }),
      (edits) => {
        const b = Buffer.from(body);
        for (const [at, value] of edits) b[at] = value;
        expectOnlyProtocolErrors(() => decodeStoredMessages(b, { verifyCrc: true }));
      },
    ),
    { numRuns: 3000 },
  );
  // A valid record prefix followed by garbage.
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), (tail) => {
      expectOnlyProtocolErrors(() => decodeStoredMessages(Buffer.concat([V1_RECORD, tail])));
    }),
  );
});

test("round trip of arbitrary field values", () => {
  const host = fc.oneof(
    fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 65535 })).map(([ip, port]) => `${ip}:${port}`),
    fc
      .tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 65535 }))
      .map(
        ([ip, port]) =>
          `[${[...Array(8).keys()].map((i) => ((ip[2 * i]! << 8) | ip[2 * i + 1]!).toString(16)).join(":")}]:${port}`,
      ),
  );
  const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
  const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
  fc.assert(
    fc.property(
      fc.record({
        topic: fc.string({ minLength: 0, maxLength: 300 }),
        queueId: int32,
        flag: int32,
        queueOffset: int64,
        commitLogOffset: int64,
        extraFlags: fc.integer({ min: 0, max: 0xff }).map((f) => f & ~0x31),
        bornTimestamp: fc.integer({ min: 0, max: 2 ** 50 }),
        bornHost: host,
        storeTimestamp: fc.integer({ min: 0, max: 2 ** 50 }),
        storeHost: host,
        reconsumeTimes: int32,
        preparedTransactionOffset: int64,
        storedBody: fc.uint8Array({ maxLength: 100 }),
      }),
      ({ extraFlags, ...f }) => {
        const sysFlag =
          extraFlags | (f.bornHost.startsWith("[") ? 0x10 : 0) | (f.storeHost.startsWith("[") ? 0x20 : 0);
        const fields: StoredMessageFields = { ...f, sysFlag, properties: { KEYS: "a b" } };
        const msg = only(encodeStoredMessage(fields), { verifyCrc: true });
        const topicBytes = Buffer.byteLength(f.topic);
        assert.equal(msg.magicCode, topicBytes > 127 ? MESSAGE_MAGIC_CODE_V2 : MESSAGE_MAGIC_CODE);
        assert.equal(msg.topic, f.topic);
        assert.equal(msg.queueOffset, f.queueOffset);
        assert.equal(msg.commitLogOffset, f.commitLogOffset);
        assert.equal(msg.preparedTransactionOffset, f.preparedTransactionOffset);
        assert.equal(msg.sysFlag, sysFlag);
        assert.deepEqual(msg.storedBody, Buffer.from(f.storedBody));
        assert.deepEqual(msg.keys, ["a", "b"]);
        assert.deepEqual(
          encodeStoredMessage({ ...msg, properties: msg.properties, storedBody: msg.storedBody }),
          encodeStoredMessage(fields),
        );
      },
    ),
    { numRuns: 300 },
  );
});

test("records of one body with different topics and hosts each keep their own", () => {
  // The decoder reuses the previous record's topic text and host texts when the bytes repeat.
  const records = [
    base({ topic: "TopicA", storeHost: "10.0.0.1:10911", bornHost: "192.168.1.100:54321" }),
    base({ topic: "TopicB", storeHost: "10.0.0.2:10911", bornHost: "[2001:db8::5]:40000", sysFlag: 0x10 }),
    base({
      topic: "TopicA",
      storeHost: "10.0.0.1:10912",
      bornHost: "192.168.1.100:54321",
      commitLogOffset: 2n ** 40n,
    }),
    base({ topic: "TopicAB", storeHost: "10.0.0.1:10912", bornHost: "192.168.1.101:54321" }),
    base({
      topic: "TopicA",
      storeHost: "10.0.0.1:10912",
      bornHost: "192.168.1.101:54321",
      commitLogOffset: 1n,
    }),
  ];
  const decoded = decodeStoredMessages(Buffer.concat(records.map((r) => encodeStoredMessage(r))));
  assert.deepEqual(
    decoded.map((m) => [m.topic, m.storeHost, m.bornHost, m.offsetMsgId]),
    [
      ["TopicA", "10.0.0.1:10911", "192.168.1.100:54321", "0A00000100002A9F0000000000001000"],
      ["TopicB", "10.0.0.2:10911", "[2001:db8::5]:40000", "0A00000200002A9F0000000000001000"],
      ["TopicA", "10.0.0.1:10912", "192.168.1.100:54321", "0A00000100002AA00000010000000000"],
      ["TopicAB", "10.0.0.1:10912", "192.168.1.101:54321", "0A00000100002AA00000000000001000"],
      ["TopicA", "10.0.0.1:10912", "192.168.1.101:54321", "0A00000100002AA00000000000000001"],
    ],
  );
});
