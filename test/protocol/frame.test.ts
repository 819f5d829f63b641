import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { ProtocolError } from "../../src/protocol/errors.js";
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder } from "../../src/protocol/frame.js";
import {
  decodeCommand,
  encodeCommand,
  encodeCommandBinary,
  type RemotingCommand,
} from "../../src/protocol/remoting-command.js";

/**
 * HEART_BEAT request with a ROCKETMQ binary header, written out by hand:
 * length 35 | headerInfo type 1, 29 header bytes | code 34 | JAVA | version 413 | opaque 7 | flag 0 |
 * remark len 0 | ext len 8 | key "a" | value "b" | body "hi".
 */
const KNOWN = Buffer.from(
  "00000023" +
    "0100001D" +
    "0022" +
    "00" +
    "019D" +
    "00000007" +
    "00000000" +
    "00000000" +
    "00000008" +
    "0001" +
    "61" +
    "00000001" +
    "62" +
    "6869",
  "hex",
);
const KNOWN_COMMAND: RemotingCommand = {
  code: 34,
  language: "JAVA",
  version: 413,
  opaque: 7,
  flag: 0,
  extFields: { a: "b" },
  body: Buffer.from("hi"),
};

const COMMANDS: RemotingCommand[] = [
  {
    code: 11,
    language: "JAVA",
    version: 413,
    opaque: 1,
    flag: 0,
    extFields: { consumerGroup: "g", topic: "T", queueId: "0", queueOffset: "12345678901234" },
    body: undefined,
  },
  {
    code: 0,
    language: "JAVA",
    version: 413,
    opaque: 1,
    flag: 1,
    remark: "ok \u00e9",
    extFields: { nextBeginOffset: "5" },
    body: Buffer.from([0, 1, 2, 255]),
  },
  KNOWN_COMMAND,
  {
    code: 1,
    language: "GO",
    version: 317,
    opaque: -5,
    flag: 1,
    remark: "error: \u4e2d",
    extFields: {},
    body: undefined,
  },
  {
    code: 40,
    language: "OTHER",
    version: 0,
    opaque: 99,
    flag: 2,
    extFields: {},
    body: Buffer.alloc(3000, 7),
  },
];

/** The stream: JSON, binary, the hand-written vector, JSON, binary. */
const STREAM = Buffer.concat([
  encodeCommand(COMMANDS[0] as RemotingCommand),
  encodeCommandBinary(COMMANDS[1] as RemotingCommand),
  KNOWN,
  encodeCommand(COMMANDS[3] as RemotingCommand),
  encodeCommandBinary(COMMANDS[4] as RemotingCommand),
]);

/** Comparable view: absent remark/body and empty body are the same on the wire. */
function norm(cmd: RemotingCommand): unknown {
  return {
    code: cmd.code,
    language: cmd.language,
    version: cmd.version,
    opaque: cmd.opaque,
    flag: cmd.flag,
    remark: cmd.remark ?? null,
    extFields: cmd.extFields,
    body: cmd.body === undefined || cmd.body.length === 0 ? null : cmd.body.toString("hex"),
  };
}

function feed(chunks: Buffer[], decoder = new FrameDecoder()): RemotingCommand[] {
  const out: RemotingCommand[] = [];
  for (const c of chunks) for (const f of decoder.push(c)) out.push(decodeCommand(f));
  return out;
}

function splitAt(buf: Buffer, points: number[]): Buffer[] {
  const sorted = [...new Set(points)].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let last = 0;
  for (const p of sorted) {
    chunks.push(buf.subarray(last, p));
    last = p;
  }
  chunks.push(buf.subarray(last));
  return chunks;
}

test("the hand-written frame is what encodeCommandBinary writes and decodes to its command", () => {
  assert.deepEqual(encodeCommandBinary(KNOWN_COMMAND), KNOWN);
  const [payload] = new FrameDecoder().push(KNOWN);
  assert.ok(payload);
  assert.deepEqual(norm(decodeCommand(payload)), norm(KNOWN_COMMAND));
});

test("every chunk size from 1 byte to the whole stream gives the same commands", () => {
  const expected = COMMANDS.map(norm);
  for (let size = 1; size <= STREAM.length; size++) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < STREAM.length; i += size) chunks.push(STREAM.subarray(i, i + size));
    const decoder = new FrameDecoder();
    assert.deepEqual(feed(chunks, decoder).map(norm), expected, `chunk size ${size}`);
    assert.equal(decoder.bufferedBytes, 0);
  }
});

test("random split points give the same commands", () => {
  const expected = COMMANDS.map(norm);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: STREAM.length }), { maxLength: 40 }), (points) => {
      assert.deepEqual(feed(splitAt(STREAM, points)).map(norm), expected);
    }),
    { numRuns: 500 },
  );
});

test("a truncated stream yields only the complete frames and waits for the rest", () => {
  const decoder = new FrameDecoder();
  const frames = decoder.push(STREAM.subarray(0, STREAM.length - 1));
  assert.equal(frames.length, COMMANDS.length - 1);
  assert.ok(decoder.bufferedBytes > 0);
  assert.deepEqual(decoder.push(Buffer.alloc(0)), []);
  const last = decoder.push(STREAM.subarray(STREAM.length - 1));
  assert.equal(last.length, 1);
  assert.equal(decoder.bufferedBytes, 0);
  // Only 3 bytes of a length prefix: nothing yet, no error.
  assert.deepEqual(new FrameDecoder().push(Buffer.from([0, 0, 0])), []);
});

test("bad lengths are ProtocolErrors", () => {
  const prefix = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    return b;
  };
  for (const n of [-1, -2147483648, 0, 1, 3, DEFAULT_MAX_FRAME_BYTES + 1, 0x7fffffff]) {
    assert.throws(() => new FrameDecoder().push(prefix(n)), ProtocolError, `length ${n}`);
  }
  assert.throws(() => new FrameDecoder(100).push(prefix(101)), ProtocolError);
  assert.deepEqual(new FrameDecoder(100).push(prefix(100)), []);
  // Length 4 is the smallest frame: only headerInfo. Its header length 0 makes an empty JSON header.
  const [tiny] = new FrameDecoder().push(Buffer.concat([prefix(4), prefix(0)]));
  assert.ok(tiny);
  assert.throws(() => decodeCommand(tiny), ProtocolError);
  // A bad length found after good frames.
  const decoder = new FrameDecoder();
  assert.throws(() => decoder.push(Buffer.concat([KNOWN, prefix(-7)])), ProtocolError);
});

function onlyProtocolErrors(run: () => unknown): void {
  try {
    run();
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
  }
}

test("garbage bytes through FrameDecoder and decodeCommand raise only ProtocolError", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 600 }),
      fc.array(fc.integer({ min: 0, max: 600 }), { maxLength: 10 }),
      (bytes, points) => {
        const decoder = new FrameDecoder(4096);
        onlyProtocolErrors(() =>
          feed(
            splitAt(
              Buffer.from(bytes),
              points.filter((p) => p <= bytes.length),
            ),
            decoder,
          ),
        );
      },
    ),
    { numRuns: 3000 },
  );
  // Plausible frames: a valid length and header info around random header bytes of either type.
  fc.assert(
    fc.property(
      fc.constantFrom(0, 1, 2),
      fc.uint8Array({ maxLength: 200 }),
      fc.nat(300),
      (type, header, declared) => {
        const info = Buffer.alloc(4);
        info.writeInt32BE((type << 24) | declared);
        onlyProtocolErrors(() => decodeCommand(Buffer.concat([info, header])));
      },
    ),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.json(),
        fc.string(),
        fc.jsonValue().map((v) => JSON.stringify({ extFields: v, code: v })),
      ),
      (text) => {
        const header = Buffer.from(text);
        const info = Buffer.alloc(4);
        info.writeInt32BE(header.length);
        onlyProtocolErrors(() => decodeCommand(Buffer.concat([info, header])));
      },
    ),
    { numRuns: 2000 },
  );
});

/** The GC, for a test that measures retained memory (node --test does not pass --expose-gc). */
function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

test("a frame dripped one byte per chunk is delivered whole, and so are the frames in the chunk that completes it", () => {
  const first = encodeCommand({ ...KNOWN_COMMAND, body: Buffer.alloc(10_000, 7) });
  const second = encodeCommand({ ...KNOWN_COMMAND, opaque: 8 });
  const decoder = new FrameDecoder();
  const frames: Buffer[] = [];
  // All of the first frame but its last byte, one byte at a time (collected after 64 chunks)...
  for (let i = 0; i < first.length - 1; i++) frames.push(...decoder.push(first.subarray(i, i + 1)));
  assert.equal(frames.length, 0);
  assert.equal(decoder.bufferedBytes, first.length - 1);
  // ...then its last byte together with the whole second frame and half a third.
  const third = encodeCommand({ ...KNOWN_COMMAND, opaque: 9 });
  frames.push(...decoder.push(Buffer.concat([first.subarray(-1), second, third.subarray(0, 10)])));
  assert.deepEqual(frames, [first.subarray(4), second.subarray(4)]);
  assert.equal(decoder.bufferedBytes, 10);
  assert.deepEqual(decoder.push(third.subarray(10)), [third.subarray(4)]);
  assert.equal(decoder.bufferedBytes, 0);
});

test("an incomplete frame dripped one byte per chunk holds about its bytes, not a Buffer per byte", () => {
  // Before the decoder collected small chunks, 200 000 one-byte chunks held ~23 MB (a Buffer
  // object each); collected, they hold at most twice the bytes.
  const header = Buffer.alloc(4);
  header.writeInt32BE(1024 * 1024);
  const decoder = new FrameDecoder();
  decoder.push(header);
  const source = Buffer.alloc(200_000, 0x61);
  collectGarbage();
  const before = process.memoryUsage();
  for (let i = 0; i < source.length; i++) decoder.push(Buffer.from(source.subarray(i, i + 1)));
  collectGarbage();
  const after = process.memoryUsage();
  assert.equal(decoder.bufferedBytes, 4 + source.length);
  const grown = after.heapUsed + after.external - (before.heapUsed + before.external);
  assert.ok(grown < 2_000_000, `200 000 buffered bytes hold ${grown} bytes`);
});
