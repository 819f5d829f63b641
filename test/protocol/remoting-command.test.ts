import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ProtocolError } from "../../src/protocol/errors.js";
import {
  decodeCommand,
  encodeCommand,
  encodeCommandBinary,
  isOneway,
  isResponse,
  toExtFields,
  type RemotingCommand,
} from "../../src/protocol/remoting-command.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+|\/\/[^\n]*/g, ""), "hex");

/** Frame payload (what FrameDecoder yields): headerInfo + header + body. */
function payload(type: number, header: Buffer, body: Buffer = Buffer.alloc(0)): Buffer {
  const info = Buffer.alloc(4);
  info.writeInt32BE((type << 24) | header.length);
  return Buffer.concat([info, header, body]);
}

test("encodeCommand writes the known JSON frame", () => {
  const cmd: RemotingCommand = {
    code: 34,
    language: "JAVA",
    version: 413,
    opaque: 1,
    flag: 0,
    extFields: { a: "b" },
    body: Buffer.from("hi"),
  };
  // length 124 | headerInfo JSON, 118 bytes |
  // {"code":34,"language":"JAVA","version":413,"opaque":1,"flag":0,"extFields":{"a":"b"},"serializeTypeCurrentRPC":"JSON"} | "hi"
  const expected = hex(`
    0000007C 00000076
    7B22636F6465223A33342C226C616E6775616765223A224A415641222C2276657273696F6E223A3431332C226F7061717565223A
    312C22666C6167223A302C226578744669656C6473223A7B2261223A2262227D2C2273657269616C697A655479706543757272
    656E74525043223A224A534F4E227D
    6869`);
  assert.deepEqual(encodeCommand(cmd), expected);
  assert.deepEqual(decodeCommand(expected.subarray(4)), { ...cmd, remark: undefined });
});

test("a Java-style JSON header decodes to the expected values", () => {
  const header =
    '{"code":0,"extFields":{"queueOffset":"5"},"flag":1,"language":"JAVA","opaque":7,"serializeTypeCurrentRPC":"JSON","version":413}';
  const cmd = decodeCommand(payload(0, Buffer.from(header), Buffer.from("body")));
  assert.deepEqual(cmd, {
    code: 0,
    language: "JAVA",
    version: 413,
    opaque: 7,
    flag: 1,
    remark: undefined,
    extFields: { queueOffset: "5" },
    body: Buffer.from("body"),
  });
  assert.equal(isResponse(cmd), true);
  assert.equal(isOneway(cmd), false);
});

test("JSON header: remark null, empty and present; missing fields; non-string ext values", () => {
  const dec = (h: string): RemotingCommand => decodeCommand(payload(0, Buffer.from(h)));
  assert.equal(dec('{"code":1,"remark":null}').remark, undefined);
  assert.equal(dec('{"code":1,"remark":""}').remark, "");
  assert.equal(dec('{"code":1,"remark":"TOPIC_NOT_EXIST"}').remark, "TOPIC_NOT_EXIST");
  const bare = dec("{}");
  assert.deepEqual(
    { ...bare },
    {
      code: 0,
      language: "OTHER",
      version: 0,
      opaque: 0,
      flag: 0,
      remark: undefined,
      extFields: {},
      body: undefined,
    },
  );
  assert.deepEqual(dec('{"extFields":{"a":5,"b":null,"c":true}}').extFields, { a: "5", c: "true" });
  // A batch send's response: comma-joined msgIds (a digit after a comma) and a large offset, exact.
  assert.deepEqual(
    dec(
      '{"code":0,"extFields":{"msgId":"7F00000100002A9F0000000007FA1234,7F00000100002A9F0000000007FA1634","queueOffset":"9007199254740993"},"opaque":-2147483648}',
    ).extFields,
    {
      msgId: "7F00000100002A9F0000000007FA1234,7F00000100002A9F0000000007FA1634",
      queueOffset: "9007199254740993",
    },
  );
  assert.equal(dec('{"opaque":-2147483648}').opaque, -2147483648);
  // fastjson with an unquoted key still decodes.
  assert.deepEqual(dec('{code:3,extFields:{0:"x"}}').extFields, { "0": "x" });
  for (const bad of [
    "[]",
    "5",
    '"x"',
    "null",
    '{"code":1.5}',
    '{"code":"1"}',
    '{"opaque":2147483648}',
    '{"opaque":12345678901234567890}',
    '{"extFields":[1]}',
    "{",
    "",
    "\u00ff",
  ]) {
    assert.throws(() => dec(bad), ProtocolError, bad);
  }
});

/** ROCKETMQ header written out by hand: response code 17 (TOPIC_NOT_EXIST), GO, version 317, opaque 258, flag 1, remark "no", ext {k: "v1"}. */
const BINARY_HEADER = hex(`
  0011              // code 17
  09                // language GO
  013D              // version 317
  00000102          // opaque 258
  00000001          // flag 1 (response)
  00000002 6E6F     // remark "no"
  00000009          // ext length 9
  0001 6B 00000002 7631   // "k" -> "v1"
`);

test("a hand-written ROCKETMQ binary header decodes to the expected values", () => {
  const cmd = decodeCommand(payload(1, BINARY_HEADER, Buffer.from([9])));
  assert.deepEqual(cmd, {
    code: 17,
    language: "GO",
    version: 317,
    opaque: 258,
    flag: 1,
    remark: "no",
    extFields: { k: "v1" },
    body: Buffer.from([9]),
  });
  const frame = encodeCommandBinary(cmd);
  assert.deepEqual(frame.subarray(8, 8 + BINARY_HEADER.length), BINARY_HEADER);
});

test("binary header: remark length 0 is null, language codes map to names", () => {
  const h = Buffer.from(BINARY_HEADER);
  const noRemark = Buffer.concat([h.subarray(0, 13), hex("00000000"), h.subarray(19)]);
  assert.equal(decodeCommand(payload(1, noRemark)).remark, undefined);
  assert.equal(
    decodeCommand(payload(1, Buffer.from(encodeCommandBinary({ ...baseCmd(), remark: "" }).subarray(8))))
      .remark,
    undefined,
    "an empty remark cannot be told from null in this encoding",
  );
  const lang = (code: number): string => {
    const b = Buffer.from(BINARY_HEADER);
    b.writeInt8(code, 2);
    return decodeCommand(payload(1, b)).language;
  };
  assert.equal(lang(0), "JAVA");
  assert.equal(lang(13), "NODE_JS");
  assert.equal(lang(99), "OTHER");
});

function baseCmd(): RemotingCommand {
  return { code: 1, language: "JAVA", version: 413, opaque: 1, flag: 0, extFields: {} };
}

test("truncated binary headers at every cut point are ProtocolErrors", () => {
  for (let cut = 0; cut < BINARY_HEADER.length; cut++) {
    assert.throws(
      () => decodeCommand(payload(1, BINARY_HEADER.subarray(0, cut))),
      ProtocolError,
      `cut at ${cut}`,
    );
  }
  // Negative lengths.
  const negRemark = Buffer.from(BINARY_HEADER);
  negRemark.writeInt32BE(-1, 13);
  assert.throws(() => decodeCommand(payload(1, negRemark)), /remark length -1/);
  const negKey = Buffer.from(BINARY_HEADER);
  negKey.writeInt16BE(-1, 23);
  assert.throws(() => decodeCommand(payload(1, negKey)), ProtocolError);
  const longValue = Buffer.from(BINARY_HEADER);
  longValue.writeInt32BE(3, 26);
  assert.throws(() => decodeCommand(payload(1, longValue)), ProtocolError);
});

test("frame payload errors: too short, header longer than the frame, unknown serialize type", () => {
  assert.throws(() => decodeCommand(Buffer.alloc(3)), ProtocolError);
  assert.throws(() => decodeCommand(hex("00000010 7B7D")), /header length 16/);
  assert.throws(() => decodeCommand(hex("02000002 7B7D")), /serialize type 2/);
});

test("toExtFields leaves out null and undefined and stringifies the rest", () => {
  assert.deepEqual(toExtFields({ a: 1, b: undefined, c: null, d: "x", e: 12345678901234567890n, f: false }), {
    a: "1",
    d: "x",
    e: "12345678901234567890",
    f: "false",
  });
});

test("round trip of arbitrary commands through both header encodings", () => {
  const text = fc.string({ maxLength: 30 });
  const cmd = fc.record({
    code: fc.integer({ min: -32768, max: 32767 }),
    language: fc.constantFrom("JAVA", "GO", "OTHER", "CPP", "NODE_JS"),
    version: fc.integer({ min: -32768, max: 32767 }),
    opaque: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
    flag: fc.integer({ min: 0, max: 3 }),
    remark: fc.option(fc.string({ minLength: 1, maxLength: 30 }), { nil: undefined }),
    extFields: fc.dictionary(text, text, { maxKeys: 5 }),
    body: fc.option(
      fc.uint8Array({ minLength: 1, maxLength: 50 }).map((b) => Buffer.from(b)),
      { nil: undefined },
    ),
  });
  fc.assert(
    fc.property(cmd, (c) => {
      const expected = { ...c, extFields: { ...c.extFields } };
      assert.deepEqual({ ...decodeCommand(encodeCommand(c).subarray(4)) }, expected);
      assert.deepEqual({ ...decodeCommand(encodeCommandBinary(c).subarray(4)) }, expected);
    }),
    { numRuns: 500 },
  );
});

test('an ext field named "__proto__" stays a field in both encodings (found by the property above)', () => {
  const extFields: Record<string, string> = {};
  Object.defineProperty(extFields, "__proto__", {
    value: "x",
    enumerable: true,
    writable: true,
    configurable: true,
  });
  const c = {
    code: 0,
    language: "JAVA",
    version: 0,
    opaque: 0,
    flag: 0,
    remark: undefined,
    extFields,
    body: undefined,
  };
  for (const encode of [encodeCommand, encodeCommandBinary]) {
    const decoded = decodeCommand(encode(c).subarray(4));
    assert.deepEqual(decoded.extFields, extFields);
    assert.equal(Object.getPrototypeOf(decoded.extFields), Object.prototype);
  }
});
