/**
 * The transport against peers that send what no RocketMQ server sends: garbage, huge lengths,
 * half frames, slow drips, broken headers, responses nobody asked for. Each test holds the client
 * to four things: the connection closes with a ConnectionError naming the peer whose cause is
 * the ProtocolError; pending requests fail when the bytes prove the stream broken, not at their
 * timeout; nothing is buffered beyond the frame limit; the next request through the pool gets a
 * fresh connection and succeeds against a peer that behaves.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import type net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { ConnectionPool } from "../../src/transport/pool.js";
import type { Connection } from "../../src/transport/connection.js";
import { ConnectionError, RequestTimeoutError } from "../../src/transport/errors.js";
import { ProtocolError } from "../../src/protocol/errors.js";
import { FrameDecoder } from "../../src/protocol/frame.js";
import {
  RESPONSE_FLAG,
  decodeCommand,
  encodeCommand,
  type RemotingCommand,
} from "../../src/protocol/remoting-command.js";
import { serveRequests, startPeer, startRawPeer, type FakePeer } from "../helpers/fake-peer.js";

/** A small limit, so that the tests can send "just above it" and drip up to it quickly. */
const MAX_FRAME_BYTES = 4096;
/** Longer than any test waits: a request failing well before it was failed by the bytes. */
const LONG_TIMEOUT_MS = 10_000;

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** Answers every request with SUCCESS and ext field ok=<request's value>. */
function behave(socket: net.Socket): void {
  serveRequests(socket, (cmd, reply) => reply({ extFields: { ok: cmd.extFields["value"] ?? "" } }));
}

/**
 * A peer whose first connection runs `hostile` once the client's first request arrived (so that
 * request is pending); later connections behave. Returns it with a pool on it.
 */
async function hostilePeer(
  hostile: (socket: net.Socket, request: Buffer) => void,
): Promise<{ peer: FakePeer; pool: ConnectionPool }> {
  let accepted = 0;
  const peer = await startRawPeer((socket) => {
    if (accepted++ > 0) return behave(socket);
    socket.setNoDelay(true);
    socket.once("data", (request: Buffer) => hostile(socket, request));
  });
  const pool = new ConnectionPool({ requestTimeoutMs: LONG_TIMEOUT_MS, maxFrameBytes: MAX_FRAME_BYTES });
  cleanups.push(
    () => pool.close(),
    () => peer.close(),
  );
  return { peer, pool };
}

/** The connection's 'close' error, once it comes. */
async function closeError(conn: Connection): Promise<unknown> {
  const [err] = (await once(conn, "close")) as [unknown];
  return err;
}

/** Asserts `err` is a ConnectionError naming `address`, its cause a ProtocolError matching `why`. */
function assertProtocolClose(err: unknown, address: string, why: RegExp): void {
  assert.ok(err instanceof ConnectionError, `not a ConnectionError: ${String(err)}`);
  assert.ok(err.message.includes(`protocol error from ${address}`), err.message);
  assert.ok(err.cause instanceof ProtocolError, `cause is ${String(err.cause)}`);
  assert.match(err.cause.message, why);
  assert.equal(err.retriable, true);
}

/** Asserts a pending request's error: a ConnectionError naming the peer and the protocol error. */
function assertFailedByProtocolError(err: unknown, address: string, why: RegExp): boolean {
  assert.ok(err instanceof ConnectionError, `not a ConnectionError: ${String(err)}`);
  assert.ok(err.message.includes(address), err.message);
  assert.match(err.message, /protocol error/);
  assertProtocolClose(err.cause, address, why);
  return true;
}

/** After a hostile close: the pool's next request is on a new connection and succeeds. */
async function assertRecovers(pool: ConnectionPool, address: string, broken: Connection): Promise<void> {
  const response = await pool.request(address, { code: 1, extFields: { value: "again" } });
  assert.equal(response.extFields["ok"], "again");
  const conn = await pool.get(address);
  assert.notEqual(conn, broken);
  assert.equal(conn.closed, false);
}

/**
 * Runs the common case: a request pending while the peer sends `bytes`; the request fails
 * promptly with the protocol error, the connection closes naming the peer, the pool recovers.
 */
async function expectProtocolClose(bytes: Buffer, why: RegExp): Promise<void> {
  const { peer, pool } = await hostilePeer((socket) => socket.write(bytes));
  const conn = await pool.get(peer.address);
  const closed = closeError(conn);
  const started = performance.now();
  await assert.rejects(pool.request(peer.address, { code: 1 }), (err) =>
    assertFailedByProtocolError(err, peer.address, why),
  );
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 1000, `failed after ${elapsed.toFixed(0)} ms, not promptly`);
  assertProtocolClose(await closed, peer.address, why);
  assert.equal(conn.pendingRequests, 0);
  assert.ok(conn.readBufferedBytes <= 4 + MAX_FRAME_BYTES);
  await assertRecovers(pool, peer.address, conn);
}

/** A frame with the given headerInfo word and header/body bytes (length prefix computed). */
function frame(headerInfo: number, rest: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeInt32BE(4 + rest.length, 0);
  head.writeInt32BE(headerInfo, 4);
  return Buffer.concat([head, rest]);
}

const JSON_TYPE = 0;
const ROCKETMQ_TYPE = 1 << 24;

describe("hostile peer: garbage", () => {
  it("an HTTP response closes the connection on its first 4 bytes", async () => {
    // "HTTP" read as a length is 1 213 486 160.
    await expectProtocolClose(
      Buffer.from("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
      /frame length 1213486160 outside \[4, 4096\]/,
    );
  });

  it("random bytes close the connection", async () => {
    // Fixed "random" bytes (a negative length first): the test must not depend on luck.
    await expectProtocolClose(
      Buffer.from("9b1f6ac2e04d7731c85aa9be5f02d1437e6c09f8b2a4dd16", "hex"),
      /frame length -1692439870 outside/,
    );
  });
});

describe("hostile peer: huge length fields", () => {
  it("FrameDecoder rejects a 2 GiB length on its 4 bytes, holding nothing more", () => {
    const decoder = new FrameDecoder(MAX_FRAME_BYTES);
    assert.throws(() => decoder.push(Buffer.from("7fffffff", "hex")), ProtocolError);
    assert.equal(decoder.bufferedBytes, 4);
    // The limit itself is accepted (and waited for); one above it is not.
    const atLimit = new FrameDecoder(MAX_FRAME_BYTES);
    assert.deepEqual(atLimit.push(Buffer.from("00001000", "hex")), []);
    assert.throws(
      () => new FrameDecoder(MAX_FRAME_BYTES).push(Buffer.from("00001001", "hex")),
      ProtocolError,
    );
  });

  it("0x7fffffff alone closes the connection: nothing waits for the 2 GiB", async () => {
    await expectProtocolClose(Buffer.from("7fffffff", "hex"), /frame length 2147483647 outside/);
  });

  it("a length just above maxFrameBytes closes the connection", async () => {
    await expectProtocolClose(Buffer.from("00001001", "hex"), /frame length 4097 outside \[4, 4096\]/);
  });

  it("a length below the 4-byte header info closes the connection", async () => {
    await expectProtocolClose(Buffer.from("00000003aabbcc", "hex"), /frame length 3 outside/);
  });
});

describe("hostile peer: valid length, invalid header", () => {
  it("a header length larger than the frame", async () => {
    await expectProtocolClose(
      frame(JSON_TYPE | 100, Buffer.from("{}")),
      /header length 100 exceeds frame of 6 bytes/,
    );
  });

  it("a JSON header that is not JSON", async () => {
    await expectProtocolClose(frame(JSON_TYPE | 9, Buffer.from("{not json")), /malformed JSON/);
  });

  it("a JSON header whose opaque is not an int32", async () => {
    const header = Buffer.from('{"code":0,"opaque":1e12,"flag":1}');
    await expectProtocolClose(frame(JSON_TYPE | header.length, header), /opaque is not an int32/);
  });

  it("an unknown serialize type", async () => {
    await expectProtocolClose(frame((5 << 24) | 2, Buffer.from("{}")), /unknown serialize type 5/);
  });

  it("a ROCKETMQ header cut inside its fixed part", async () => {
    await expectProtocolClose(frame(ROCKETMQ_TYPE | 10, Buffer.alloc(10)), /truncated reading fixed part/);
  });

  it("a ROCKETMQ header whose remark length overruns it", async () => {
    const header = Buffer.alloc(21);
    header.writeInt32BE(1000, 13); // remark length
    await expectProtocolClose(frame(ROCKETMQ_TYPE | header.length, header), /truncated reading remark/);
  });

  it("a ROCKETMQ header whose ext key overruns the ext fields", async () => {
    const header = Buffer.alloc(21 + 4);
    header.writeInt32BE(4, 17); // ext length
    header.writeInt16BE(50, 21); // key length, beyond the 4 ext bytes
    await expectProtocolClose(frame(ROCKETMQ_TYPE | header.length, header), /ext key overruns/);
  });
});

/** The opaque of the request in `chunk` (the client's first frame). */
function opaqueOf(chunk: Buffer): number {
  const [payload] = new FrameDecoder().push(chunk);
  return decodeCommand(payload as Buffer).opaque;
}

/** A SUCCESS response frame for `opaque`. */
function response(opaque: number, fields: Partial<RemotingCommand> = {}): Buffer {
  return encodeCommand({
    code: 0,
    language: "JAVA",
    version: 413,
    flag: RESPONSE_FLAG,
    extFields: {},
    ...fields,
    opaque,
  });
}

/** Writes `bytes` `step` bytes at a time every `everyMs`; returns a function that stops it. */
function drip(socket: net.Socket, bytes: Buffer, step: number, everyMs: number): () => void {
  let pos = 0;
  const timer = setInterval(() => {
    if (pos >= bytes.length || socket.destroyed) return clearInterval(timer);
    socket.write(bytes.subarray(pos, pos + step));
    pos += step;
  }, everyMs);
  return () => clearInterval(timer);
}

describe("hostile peer: half frames and slow drips", () => {
  it("half a frame, then silence: the request times out and the stalled connection closes", async () => {
    const { peer, pool } = await hostilePeer((socket, request) => {
      const whole = response(opaqueOf(request), { body: Buffer.alloc(200, 1) });
      socket.write(whole.subarray(0, whole.length >> 1));
    });
    const conn = await pool.get(peer.address);
    const closed = closeError(conn);
    const started = performance.now();
    // The request that times out, and one behind it with a long timeout: it cannot get its
    // response before the half frame ends, so it must fail when the stall is found, not at 10 s.
    const timedOut = pool.request(peer.address, { code: 1 }, { timeoutMs: 400 });
    const behind = pool.request(peer.address, { code: 2 });
    await assert.rejects(timedOut, RequestTimeoutError);
    await assert.rejects(behind, (err) =>
      assertFailedByProtocolError(err, peer.address, /stalled mid-frame/),
    );
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 390 && elapsed < 2000, `failed after ${elapsed.toFixed(0)} ms`);
    assertProtocolClose(
      await closed,
      peer.address,
      /stream stalled mid-frame: \d+ bytes of an incomplete frame/,
    );
    await assertRecovers(pool, peer.address, conn);
  });

  it("a valid response dripped one byte every 2 ms is delivered before the timeout", async () => {
    const body = Buffer.from("dripped body ".repeat(8));
    const { peer, pool } = await hostilePeer((socket, request) => {
      drip(socket, response(opaqueOf(request), { body, extFields: { slow: "yes" } }), 1, 2);
    });
    const conn = await pool.get(peer.address);
    const result = await pool.request(peer.address, { code: 1 }, { timeoutMs: 5000 });
    assert.deepEqual(result.body, body);
    assert.equal(result.extFields["slow"], "yes");
    assert.equal(conn.closed, false);
    assert.equal(conn.readBufferedBytes, 0);
  });

  it("an endless frame dripped: the request ends by its timeout, the buffer by the frame limit", async () => {
    let stop = (): void => undefined;
    const { peer, pool } = await hostilePeer((socket) => {
      // A frame as long as the limit allows, far slower than the timeout; zeros: no valid header.
      const endless = Buffer.alloc(4 + MAX_FRAME_BYTES);
      endless.writeInt32BE(MAX_FRAME_BYTES, 0);
      stop = drip(socket, endless, 32, 5);
    });
    cleanups.push(() => stop());
    const conn = await pool.get(peer.address);
    const closed = closeError(conn);
    let maxBuffered = 0;
    const sampler = setInterval(() => (maxBuffered = Math.max(maxBuffered, conn.readBufferedBytes)), 2);
    cleanups.push(() => clearInterval(sampler));
    const started = performance.now();
    await assert.rejects(pool.request(peer.address, { code: 1 }, { timeoutMs: 300 }), RequestTimeoutError);
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 290 && elapsed < 1000, `timed out after ${elapsed.toFixed(0)} ms`);
    // Bytes keep coming: not a stall, the connection stays until the frame is whole (and garbage).
    assert.equal(conn.closed, false);
    assert.ok(conn.readBufferedBytes > 0);
    assertProtocolClose(await closed, peer.address, /malformed JSON/);
    assert.ok(maxBuffered > MAX_FRAME_BYTES / 2, `sampled only ${maxBuffered} bytes`);
    assert.ok(maxBuffered <= 4 + MAX_FRAME_BYTES, `buffered ${maxBuffered} bytes`);
    await assertRecovers(pool, peer.address, conn);
  });
});

describe("hostile peer: responses to unknown opaques", () => {
  it("are dropped: the connection stays and a pending request still gets its own response", async () => {
    const peer = await startPeer((cmd, reply, socket) => {
      socket.write(Buffer.concat([response(cmd.opaque + 1_000_000), response(-7), response(0)]));
      reply({ extFields: { mine: String(cmd.opaque) } });
    });
    cleanups.push(() => peer.close());
    const pool = new ConnectionPool({ requestTimeoutMs: LONG_TIMEOUT_MS });
    cleanups.push(() => pool.close());
    const conn = await pool.get(peer.address);
    for (let i = 0; i < 3; i++) {
      const result = await pool.request(peer.address, { code: 1 });
      assert.equal(conn.closed, false);
      assert.equal(await pool.get(peer.address), conn);
      assert.equal(conn.pendingRequests, 0);
      assert.ok(Number(result.extFields["mine"]) > 0);
      assert.equal(result.opaque, Number(result.extFields["mine"]));
    }
  });

  it("a late response after a timeout is dropped and the next request gets its own", async () => {
    const peer = await startPeer((cmd, reply) => {
      const delayMs = Number(cmd.extFields["delayMs"] ?? 0);
      setTimeout(() => reply({ extFields: { echo: cmd.extFields["value"] ?? "" } }), delayMs);
    });
    cleanups.push(() => peer.close());
    const pool = new ConnectionPool({ requestTimeoutMs: LONG_TIMEOUT_MS });
    cleanups.push(() => pool.close());
    const conn = await pool.get(peer.address);
    const late = pool.request(
      peer.address,
      { code: 1, extFields: { value: "late", delayMs: "300" } },
      { timeoutMs: 100 },
    );
    const other = pool.request(peer.address, { code: 1, extFields: { value: "other", delayMs: "400" } });
    await assert.rejects(late, RequestTimeoutError);
    assert.equal((await other).extFields["echo"], "other");
    await sleep(50);
    assert.equal(conn.closed, false);
    const next = await pool.request(peer.address, { code: 1, extFields: { value: "next" } });
    assert.equal(next.extFields["echo"], "next");
    assert.equal(await pool.get(peer.address), conn);
  });
});
