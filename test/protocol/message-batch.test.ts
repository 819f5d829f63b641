import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ProtocolError } from "../../src/protocol/errors.js";
import { decodeBatchBody, encodeBatchBody } from "../../src/protocol/message-batch.js";
import { InvalidPropertyError, PropertiesTooLongError } from "../../src/protocol/properties.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+|\/\/[^\n]*/g, ""), "hex");

/** Two messages written out by hand from MessageDecoder.encodeMessage. */
const BATCH = hex(`
  0000001F        // TOTALSIZE 31 = 22 + 2 + 7
  00000000        // MAGICCODE 0
  00000000        // BODYCRC 0
  00000000        // FLAG 0
  00000002 6162   // BODY "ab"
  0007 54414753 01 41 02   // PROPERTIES "TAGS\\x01A\\x02"
  00000016        // TOTALSIZE 22
  00000000
  00000000
  00000007        // FLAG 7
  00000000        // empty BODY
  0000            // no PROPERTIES
`);

test("encodeBatchBody gives the hand-written bytes", () => {
  assert.deepEqual(
    encodeBatchBody([
      { flag: 0, body: Buffer.from("ab"), properties: { TAGS: "A" } },
      { flag: 7, body: new Uint8Array(0), properties: {} },
    ]),
    BATCH,
  );
  assert.deepEqual(encodeBatchBody([]), Buffer.alloc(0));
});

test("decodeBatchBody of the hand-written bytes", () => {
  assert.deepEqual(decodeBatchBody(BATCH), [
    { flag: 0, body: Buffer.from("ab"), properties: { TAGS: "A" } },
    { flag: 7, body: Buffer.alloc(0), properties: {} },
  ]);
});

test("a body that is a view into a larger buffer is copied correctly", () => {
  const big = Buffer.from("xxhelloxx");
  const body = big.subarray(2, 7);
  const [msg] = decodeBatchBody(encodeBatchBody([{ flag: -1, body, properties: "K\u0001V\u0002" }]));
  assert.deepEqual(msg, { flag: -1, body: Buffer.from("hello"), properties: { K: "V" } });
});

test("truncation at every cut point is a ProtocolError naming the message", () => {
  for (let cut = 1; cut < BATCH.length; cut++) {
    if (cut === 31) {
      assert.equal(decodeBatchBody(BATCH.subarray(0, cut)).length, 1);
      continue;
    }
    const index = cut < 31 ? 0 : 1;
    assert.throws(
      () => decodeBatchBody(BATCH.subarray(0, cut)),
      (err: unknown) => err instanceof ProtocolError && err.message.startsWith(`batch message #${index} `),
      `cut at ${cut}`,
    );
  }
});

test("negative lengths are ProtocolErrors", () => {
  const b = Buffer.from(BATCH);
  b.writeInt32BE(-5, 16);
  assert.throws(() => decodeBatchBody(b), /BODY length -5/);
  const c = Buffer.from(BATCH);
  c.writeInt16BE(-1, 22);
  assert.throws(() => decodeBatchBody(c), /PROPERTIES length -1/);
});

test("garbage only raises ProtocolError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        decodeBatchBody(Buffer.from(bytes));
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
      }
    }),
    { numRuns: 2000 },
  );
});

test("round trip", () => {
  const part = fc
    .string({ minLength: 1, maxLength: 20 })
    .filter((s) => !s.includes("\u0001") && !s.includes("\u0002"));
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          flag: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
          body: fc.uint8Array({ maxLength: 50 }),
          properties: fc.dictionary(part, part, { maxKeys: 5 }),
        }),
        { maxLength: 5 },
      ),
      (messages) => {
        const buf = encodeBatchBody(messages);
        let pos = 0;
        for (const m of messages) {
          const props = Buffer.byteLength(
            Object.entries(m.properties)
              .map(([k, v]) => `${k}\u0001${v}\u0002`)
              .join(""),
          );
          assert.equal(buf.readInt32BE(pos), 22 + m.body.length + props);
          pos += 22 + m.body.length + props;
        }
        assert.equal(pos, buf.length);
        assert.deepEqual(
          decodeBatchBody(buf),
          messages.map((m) => ({ flag: m.flag, body: Buffer.from(m.body), properties: { ...m.properties } })),
        );
      },
    ),
  );
});

test("properties are checked: separators, and at most 32767 bytes", () => {
  assert.throws(
    () => encodeBatchBody([{ flag: 0, body: Buffer.alloc(0), properties: { k: "a\u0002b" } }]),
    (err: unknown) => err instanceof InvalidPropertyError && err.property === "k",
  );
  const ok = encodeBatchBody([{ flag: 0, body: Buffer.alloc(0), properties: { k: "x".repeat(32767 - 3) } }]);
  assert.equal(ok.readInt16BE(20), 32767);
  assert.throws(
    () => encodeBatchBody([{ flag: 0, body: Buffer.alloc(0), properties: { k: "x".repeat(32767 - 2) } }]),
    PropertiesTooLongError,
  );
  assert.throws(
    () => encodeBatchBody([{ flag: 2 ** 31, body: Buffer.alloc(0), properties: {} }]),
    ProtocolError,
  );
});

test("multi-byte properties are sized in UTF-8 bytes, given as a record or as encoded text", () => {
  const body = encodeBatchBody([
    { flag: 0, body: new Uint8Array(0), properties: { k: "é" } },
    { flag: 3, body: Buffer.from("x"), properties: "€\u0001é\u0002" },
  ]);
  assert.deepEqual(
    body,
    hex(`
      0000001B                    // TOTALSIZE 27 = 22 + 0 + 5
      00000000 00000000 00000000  // MAGICCODE, BODYCRC, FLAG 0
      00000000                    // empty BODY
      0005 6B 01 C3A9 02          // "k\x01é\x02": 5 bytes, 4 UTF-16 units
      0000001E                    // TOTALSIZE 30 = 22 + 1 + 7
      00000000 00000000 00000003  // FLAG 3
      00000001 78                 // BODY "x"
      0007 E282AC 01 C3A9 02      // "€\x01é\x02": 7 bytes, 4 UTF-16 units
    `),
  );
  assert.deepEqual(decodeBatchBody(body), [
    { flag: 0, body: Buffer.alloc(0), properties: { k: "é" } },
    { flag: 3, body: Buffer.from("x"), properties: { "€": "é" } },
  ]);
});
