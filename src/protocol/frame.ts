/**
 * Remoting frame (org.apache.rocketmq.remoting.protocol.RemotingCommand encode/decode,
 * NettyDecoder = LengthFieldBasedFrameDecoder(maxFrame, 0, 4, 0, 4)):
 *
 *   int32 length      = 4 + headerLength + bodyLength   (does not count itself)
 *   int32 headerInfo  = (serializeType << 24) | headerLength
 *   bytes header      headerLength bytes
 *   bytes body        the rest
 *
 * FrameDecoder turns a byte stream, cut anywhere, into whole frames (without the length prefix).
 */
import { ProtocolError } from "./errors.js";

/** Java's default com.rocketmq.remoting.frameMaxLength: 16 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** Smallest legal payload: the 4-byte headerInfo. */
const MIN_FRAME_PAYLOAD = 4;

/**
 * Chunks of an incomplete frame kept as they arrived before they are collected into one buffer.
 * A peer that drips a frame one byte per TCP segment hands us one Buffer per byte, each costing
 * ~100 bytes of object overhead: kept as chunks, a 16 MiB frame would hold ~1.8 GB.
 */
const MAX_PENDING_CHUNKS = 64;

/** First capacity of the buffer an incomplete frame is collected into (it doubles from there). */
const MIN_COLLECT_BYTES = 4096;

/** The buffer an incomplete frame is being collected into, and the frame's size with its prefix. */
interface Collector {
  buffer: Buffer;
  frameBytes: number;
}

/**
 * Accumulates chunks and yields complete frame payloads (the bytes after the length prefix).
 * Throws ProtocolError on a length below 4 or above `maxFrameBytes`; after that the stream
 * cannot be resynchronised and the connection must be closed.
 *
 * Memory stays bounded by the frame limit whatever the chunking: a frame's length is checked on
 * its first 4 bytes, before anything is buffered for it, and an incomplete frame that arrives in
 * many small chunks is copied into one buffer (capacity doubling, never beyond the frame's size).
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Set while an incomplete frame is collected: #chunks is then [a view of its filled part]. */
  #collector: Collector | undefined;

  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Bytes received but not yet part of a complete frame. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Adds a chunk and returns every frame it completes, in order. */
  push(chunk: Buffer): Buffer[] {
    if (chunk.length === 0) return [];
    this.#append(chunk);
    const frames: Buffer[] = [];
    while (this.#buffered >= 4) {
      const head = this.#peek(4);
      const length = head.readInt32BE(0);
      if (length < MIN_FRAME_PAYLOAD || length > this.#maxFrameBytes) {
        throw new ProtocolError(
          `frame length ${length} outside [${MIN_FRAME_PAYLOAD}, ${this.#maxFrameBytes}]: not a RocketMQ remoting stream or a corrupted one`,
        );
      }
      if (this.#buffered < 4 + length) {
        if (this.#collector === undefined && this.#chunks.length > MAX_PENDING_CHUNKS)
          this.#collect(4 + length);
        break;
      }
      const whole = this.#take(4 + length);
      frames.push(whole.subarray(4));
    }
    return frames;
  }

  #append(chunk: Buffer): void {
    const c = this.#collector;
    if (c === undefined) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      return;
    }
    const filled = Math.min(c.frameBytes, this.#buffered + chunk.length);
    if (filled > c.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.min(c.frameBytes, Math.max(filled, 2 * c.buffer.length)));
      c.buffer.copy(grown, 0, 0, this.#buffered);
      c.buffer = grown;
    }
    const used = filled - this.#buffered;
    chunk.copy(c.buffer, this.#buffered, 0, used);
    this.#buffered = filled;
    this.#chunks[0] = c.buffer.subarray(0, filled);
    if (filled < c.frameBytes) return;
    // The frame is complete and its buffer is handed out whole: the next bytes start afresh.
    this.#collector = undefined;
    if (used < chunk.length) {
      this.#chunks.push(chunk.subarray(used));
      this.#buffered += chunk.length - used;
    }
  }

  /** Copies the chunks of the incomplete frame of `frameBytes` into one buffer with room to grow. */
  #collect(frameBytes: number): void {
    const buffer = Buffer.allocUnsafe(Math.min(frameBytes, Math.max(2 * this.#buffered, MIN_COLLECT_BYTES)));
    let pos = 0;
    for (const chunk of this.#chunks) pos += chunk.copy(buffer, pos);
    this.#chunks = [buffer.subarray(0, pos)];
    this.#collector = { buffer, frameBytes };
  }

  #peek(n: number): Buffer {
    const first = this.#chunks[0] as Buffer;
    if (first.length >= n) return first;
    this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0] as Buffer;
  }

  #take(n: number): Buffer {
    const first = this.#peek(n);
    this.#buffered -= n;
    if (first.length === n) {
      this.#chunks.shift();
      return first;
    }
    this.#chunks[0] = first.subarray(n);
    return first.subarray(0, n);
  }
}
