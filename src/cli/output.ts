/**
 * What `produce` and `consume` print: JSON lines on stdout, written with backpressure so a slow
 * reader (`| jq`) holds the command back instead of growing its memory, and stopped quietly when
 * the reader goes away (`| head -n 3`).
 */
import { isUtf8 } from "node:buffer";

/** How a body is carried in a JSON string. */
export type BodyEncoding = "utf8" | "base64";

/**
 * The body as a JSON-safe string: the text itself when the bytes are valid UTF-8 (JSON escapes
 * control characters, so it decodes back byte for byte), base64 otherwise.
 */
export function encodeBody(body: Buffer): { body: string; bodyEncoding: BodyEncoding } {
  return isUtf8(body)
    ? { body: body.toString("utf8"), bodyEncoding: "utf8" }
    : { body: body.toString("base64"), bodyEncoding: "base64" };
}

/** The bytes of a body printed by encodeBody. */
export function decodeBody(body: string, encoding: BodyEncoding): Buffer {
  return Buffer.from(body, encoding);
}

/** JSON.stringify that writes bigints as decimal strings (JSON numbers lose precision past 2^53). */
export function jsonLine(value: unknown): string {
  return `${JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}\n`;
}

/** Writes lines to a stream, waiting for 'drain' when its buffer is full. */
export class LineWriter {
  readonly #stream: NodeJS.WritableStream;
  #closed = false;
  #onClose: (() => void) | undefined;

  /** `onClose` runs once when the reader has gone (EPIPE): the command should stop. */
  constructor(stream: NodeJS.WritableStream, onClose?: () => void) {
    this.#stream = stream;
    this.#onClose = onClose;
    stream.on("error", (err: NodeJS.ErrnoException) => {
      // A closed pipe is the reader saying "enough", not a failure of ours.
      if (err.code === "EPIPE" || err.code === "ERR_STREAM_DESTROYED") this.#close();
      else throw err;
    });
  }

  /** True once the reader has gone; further writes are dropped. */
  get closed(): boolean {
    return this.#closed;
  }

  async write(line: string): Promise<void> {
    if (this.#closed) return;
    if (this.#stream.write(line)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.#stream.off("drain", done);
        this.#stream.off("close", done);
        resolve();
      };
      this.#stream.on("drain", done);
      this.#stream.on("close", done);
    });
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const onClose = this.#onClose;
    this.#onClose = undefined;
    onClose?.();
  }
}
