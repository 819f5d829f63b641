/**
 * The decoders the fuzzer drives, each with a generator of valid encodings (made by the project's
 * own encoders, so mutations start from real wire bytes), the call that decodes an input, and the
 * largest output that input may produce. The output size is what the decoder built from the
 * input (string characters and bytes, views included): a decoder that sizes anything by an
 * untrusted length field breaks the bound.
 */
import { deflateSync } from "node:zlib";
import { FrameDecoder } from "../../src/protocol/frame.js";
import {
  decodeCommand,
  encodeCommand,
  encodeCommandBinary,
  type RemotingCommand,
} from "../../src/protocol/remoting-command.js";
import { decodeStoredMessages, encodeStoredMessage } from "../../src/protocol/message.js";
import { decodeBatchBody, encodeBatchBody } from "../../src/protocol/message-batch.js";
import { decodeProperties, encodeProperties } from "../../src/protocol/properties.js";
import { MessageSysFlag } from "../../src/protocol/sysflag.js";
import type { Prng } from "./prng.js";

export const TARGET_NAMES = ["frame", "header", "message", "batch", "properties"] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export interface FuzzTarget {
  name: TargetName;
  /** A valid encoding: decoding it must not throw. */
  valid(rng: Prng): Buffer;
  /** Decodes `input` (throwing what the decoder throws); returns the size of the output. */
  run(input: Buffer, rng: Prng): number;
  /** The largest output allowed for an input of `inputBytes`. */
  maxOutput(inputBytes: number): number;
  /** The decoder documents that it never throws: any error at all is a failure. */
  neverThrows?: boolean;
}

/** The frame limit the frame target decodes with: small, so mutated lengths reach past it. */
const FUZZ_MAX_FRAME_BYTES = 2048;
/** The inflate limit of the message target: a zlib bomb must stop here. */
const FUZZ_MAX_INFLATED_BYTES = 256 * 1024;
/** deflate's best ratio is 1032:1; a record may inflate that much, up to the limit above. */
const DEFLATE_RATIO = 1032;

function randomProperties(rng: Prng): Record<string, string> {
  const out: Record<string, string> = {};
  for (let n = rng.int(5); n > 0; n--) {
    out[rng.pick(["TAGS", "KEYS", "UNIQ_KEY", "__proto__", "WAIT", rng.text(rng.range(1, 8))])] = rng.text(
      rng.range(1, 24),
    );
  }
  return out;
}

function randomCommand(rng: Prng): RemotingCommand {
  const extFields: Record<string, string> = {};
  for (let n = rng.int(6); n > 0; n--) {
    const value = rng.pick([rng.text(rng.range(0, 20)), String(rng.next()), "1,2,3", '{"a":1}']);
    Object.defineProperty(extFields, rng.chance(0.05) ? "__proto__" : rng.text(rng.range(1, 10)), {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  const cmd: RemotingCommand = {
    code: rng.range(-0x8000, 0x7fff),
    language: rng.pick(["JAVA", "GO", "CPP", "OTHER"]),
    version: rng.range(0, 0x7fff),
    opaque: rng.next() | 0,
    flag: rng.int(4),
    extFields,
  };
  if (rng.chance(0.3)) cmd.remark = rng.text(rng.range(0, 40));
  if (rng.chance(0.5)) cmd.body = rng.bytes(rng.int(64));
  return cmd;
}

/** A whole frame, JSON or ROCKETMQ header. */
function randomFrame(rng: Prng): Buffer {
  const cmd = randomCommand(rng);
  return rng.chance(0.5) ? encodeCommand(cmd) : encodeCommandBinary(cmd);
}

/** Sizes of what decodeCommand returned: its strings and body. */
function commandSize(cmd: RemotingCommand): number {
  let n = cmd.language.length + (cmd.remark?.length ?? 0) + (cmd.body?.length ?? 0);
  for (const [k, v] of Object.entries(cmd.extFields)) n += k.length + v.length;
  return n;
}

/**
 * The frames a correct decoder finds in `stream`, by the definition of the format rather than
 * by FrameDecoder's code, and whether the stream breaks the limits somewhere.
 */
function referenceFrames(stream: Buffer, maxFrameBytes: number): { frames: Buffer[]; invalid: boolean } {
  const frames: Buffer[] = [];
  let pos = 0;
  while (stream.length - pos >= 4) {
    const length = stream.readInt32BE(pos);
    if (length < 4 || length > maxFrameBytes) return { frames, invalid: true };
    if (stream.length - pos - 4 < length) break;
    frames.push(stream.subarray(pos + 4, pos + 4 + length));
    pos += 4 + length;
  }
  return { frames, invalid: false };
}

const frame: FuzzTarget = {
  name: "frame",
  valid(rng) {
    return Buffer.concat(Array.from({ length: rng.range(1, 4) }, () => randomFrame(rng)));
  },
  run(input, rng) {
    // Cut anywhere: the frames must not depend on how the stream was chunked.
    const decoder = new FrameDecoder(FUZZ_MAX_FRAME_BYTES);
    const expected = referenceFrames(input, FUZZ_MAX_FRAME_BYTES);
    const got: Buffer[] = [];
    const tiny = rng.chance(0.3);
    let error: Error | undefined;
    for (let pos = 0; pos < input.length && error === undefined;) {
      const size = tiny ? rng.range(1, 3) : rng.range(1, 600);
      try {
        got.push(...decoder.push(input.subarray(pos, pos + size)));
      } catch (err) {
        error = err instanceof Error ? err : new Error(String(err));
      }
      pos += size;
      if (error === undefined && decoder.bufferedBytes > 4 + FUZZ_MAX_FRAME_BYTES) {
        throw new Error(`FrameDecoder buffers ${decoder.bufferedBytes} bytes, limit ${FUZZ_MAX_FRAME_BYTES}`);
      }
    }
    if ((error !== undefined) !== expected.invalid) {
      throw new Error(
        `FrameDecoder ${error === undefined ? "accepted" : "rejected"} the stream; the format says otherwise`,
      );
    }
    // Frames completed in the push that threw are lost with it: what came out is a prefix.
    const prefix = expected.frames.slice(0, got.length);
    if (got.length > expected.frames.length || got.some((f, i) => !f.equals(prefix[i] as Buffer))) {
      throw new Error("FrameDecoder's frames differ from the format's");
    }
    if (error === undefined && got.length !== expected.frames.length)
      throw new Error("FrameDecoder lost frames");
    if (error !== undefined) throw error;
    return got.reduce((n, f) => n + f.length, 0);
  },
  maxOutput: (n) => n,
};

const header: FuzzTarget = {
  name: "header",
  valid: (rng) => randomFrame(rng).subarray(4),
  run: (input) => commandSize(decodeCommand(input)),
  // A non-string ext value is re-serialised: "1e20" (4 bytes) becomes 21 characters.
  maxOutput: (n) => 8 * n + 64,
};

function randomHost(rng: Prng, v6: boolean): string {
  const port = rng.int(65536);
  if (!v6) return `${rng.int(256)}.${rng.int(256)}.${rng.int(256)}.${rng.int(256)}:${port}`;
  return `[${Array.from({ length: 8 }, () => rng.int(65536).toString(16)).join(":")}]:${port}`;
}

function randomRecord(rng: Prng): Buffer {
  const bornV6 = rng.chance(0.2);
  const storeV6 = rng.chance(0.2);
  const compressed = rng.chance(0.2);
  let body = rng.bytes(rng.int(80));
  if (compressed && rng.chance(0.5)) body = Buffer.alloc(rng.int(4000), rng.int(256)); // compresses well
  let sysFlag =
    (bornV6 ? MessageSysFlag.BORNHOST_V6_FLAG : 0) | (storeV6 ? MessageSysFlag.STOREHOSTADDRESS_V6_FLAG : 0);
  if (compressed)
    sysFlag |= MessageSysFlag.COMPRESSED_FLAG | rng.pick([0, MessageSysFlag.COMPRESSION_ZLIB_TYPE]);
  return encodeStoredMessage({
    topic: rng.chance(0.1) ? rng.text(rng.range(128, 200)) : rng.text(rng.range(1, 20)),
    queueId: rng.int(64),
    flag: rng.next() | 0,
    queueOffset: BigInt(rng.next()),
    commitLogOffset: BigInt(rng.next()) * 4096n,
    sysFlag,
    bornTimestamp: 1_700_000_000_000 + rng.int(1e9),
    bornHost: randomHost(rng, bornV6),
    storeTimestamp: 1_700_000_000_000 + rng.int(1e9),
    storeHost: randomHost(rng, storeV6),
    reconsumeTimes: rng.int(16),
    preparedTransactionOffset: 0n,
    storedBody: compressed ? deflateSync(body) : body,
    properties: randomProperties(rng),
  });
}

const message: FuzzTarget = {
  name: "message",
  valid: (rng) => Buffer.concat(Array.from({ length: rng.range(1, 3) }, () => randomRecord(rng))),
  run(input, rng) {
    const messages = decodeStoredMessages(input, {
      verifyCrc: rng.chance(0.5),
      offsetMsgIds: rng.chance(0.8),
      maxInflatedBytes: FUZZ_MAX_INFLATED_BYTES,
    });
    let n = 0;
    for (const m of messages) {
      n += m.storedBody.length + m.topic.length + m.propertiesText.length + m.offsetMsgId.length;
      n += m.bornHost.length + m.storeHost.length;
      if (m.body !== undefined && m.body !== m.storedBody) n += m.body.length;
      for (const [k, v] of Object.entries(m.properties)) n += k.length + v.length;
    }
    return n;
  },
  // Per record (at least 91 bytes): ~130 characters of hosts and id, and an inflated body.
  maxOutput: (n) => 4 * n + Math.min(DEFLATE_RATIO * n, (n / 91) * FUZZ_MAX_INFLATED_BYTES) + 256,
};

const batch: FuzzTarget = {
  name: "batch",
  valid: (rng) =>
    encodeBatchBody(
      Array.from({ length: rng.range(1, 4) }, () => ({
        flag: rng.next() | 0,
        body: rng.bytes(rng.int(64)),
        properties: randomProperties(rng),
      })),
    ),
  run(input) {
    let n = 0;
    for (const m of decodeBatchBody(input)) {
      n += m.body.length;
      for (const [k, v] of Object.entries(m.properties)) n += k.length + v.length;
    }
    return n;
  },
  maxOutput: (n) => n,
};

const properties: FuzzTarget = {
  name: "properties",
  valid: (rng) => Buffer.from(encodeProperties(randomProperties(rng)), "utf8"),
  run(input) {
    let n = 0;
    for (const [k, v] of Object.entries(decodeProperties(input.toString("utf8")))) n += k.length + v.length;
    return n;
  },
  maxOutput: (n) => n,
  neverThrows: true,
};

/** Every target, in a fixed order: a target's index is part of its case seeds. */
export const TARGETS: readonly FuzzTarget[] = [frame, header, message, batch, properties];
