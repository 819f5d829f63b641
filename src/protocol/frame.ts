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
 * Accumulates chunks and yields complete frame payloads (the bytes after the length prefix).
 * Throws ProtocolError on a length below 4 or above `maxFrameBytes`; after that the stream
 * cannot be resynchronised and the connection must be closed.
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number;
  #chunks: Buffer[] = [];
  #buffered = 0;

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
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const frames: Buffer[] = [];
    while (this.#buffered >= 4) {
      const head = this.#peek(4);
      const length = head.readInt32BE(0);
      if (length < MIN_FRAME_PAYLOAD || length > this.#maxFrameBytes) {
        throw new ProtocolError(
          `frame length ${length} outside [${MIN_FRAME_PAYLOAD}, ${this.#maxFrameBytes}]: not a RocketMQ remoting stream or a corrupted one`,
        );
      }
      if (this.#buffered < 4 + length) break;
      const whole = this.#take(4 + length);
      frames.push(whole.subarray(4));
    }
    return frames;
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
