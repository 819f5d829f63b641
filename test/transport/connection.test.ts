/**
 * Connection lifecycle against a tiny in-process peer that speaks remoting frames (fake-peer.ts). This tests the
 * transport's own promises (correlation, timeouts, aborts, failure on drop, answering server
 * requests, backpressure); the client's behaviour against real brokers is in test/e2e.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { once } from "node:events";
import { Connection } from "../../src/transport/connection.js";
import { ConnectionPool } from "../../src/transport/pool.js";
import { encodeCommand, type RemotingCommand } from "../../src/protocol/remoting-command.js";
import { RmqError } from "../../src/protocol/errors.js";
import { describeRequest, RequestCode } from "../../src/protocol/codes.js";
import { startPeer, startRawPeer } from "../helpers/fake-peer.js";

describe("Connection", () => {
  let peer: Awaited<ReturnType<typeof startPeer>>;
  before(async () => {
    peer = await startPeer((cmd, reply) => {
      const delay = Number(cmd.extFields["delayMs"] ?? 0);
      if (cmd.extFields["silent"] === "true") return;
      setTimeout(() => reply({ extFields: { echo: cmd.extFields["value"] ?? "" }, body: cmd.body }), delay);
    });
  });
  after(() => {
    for (const s of peer.sockets) s.destroy();
    peer.server.close();
  });

  it("correlates concurrent responses that arrive out of order", async () => {
    const conn = await Connection.connect(peer.address);
    try {
      const requests = Array.from({ length: 50 }, (_, i) =>
        conn.request({ code: 1, extFields: { value: String(i), delayMs: String((50 - i) % 7) } }),
      );
      const responses = await Promise.all(requests);
      responses.forEach((r, i) => assert.equal(r.extFields["echo"], String(i)));
      assert.equal(conn.pendingRequests, 0);
    } finally {
      conn.close();
    }
  });

  it("times out a request with no answer, within its timeout, and keeps the connection usable", async () => {
    const conn = await Connection.connect(peer.address);
    try {
      const started = Date.now();
      await assert.rejects(
        conn.request({ code: 1, extFields: { silent: "true" } }, { timeoutMs: 200 }),
        (err: unknown) => {
          assert.ok(err instanceof RmqError);
          assert.equal(err.code, "RMQ_TIMEOUT");
          assert.equal(err.retriable, true);
          return true;
        },
      );
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 190 && elapsed < 1000, `timed out after ${elapsed} ms`);
      const ok = await conn.request({ code: 1, extFields: { value: "after" } });
      assert.equal(ok.extFields["echo"], "after");
      assert.equal(conn.pendingRequests, 0);
    } finally {
      conn.close();
    }
  });

  it("names the request by code name and opaque when it times out, aborts or loses its connection", async () => {
    // The opaque in the message must be the one on the wire, so the peer records what it got.
    const seen: number[] = [];
    const p = await startPeer((cmd) => seen.push(cmd.opaque));
    try {
      const conn = await Connection.connect(p.address);
      const opaqueIn = (err: unknown): number => {
        assert.ok(err instanceof RmqError);
        const m = /opaque (\d+)\)/.exec(err.message);
        assert.ok(m, `no opaque in: ${err.message}`);
        assert.equal(err.context["opaque"], Number(m[1]));
        return Number(m[1]);
      };
      const where = p.address.replaceAll(".", "\\.");

      const timedOut = await conn.request({ code: RequestCode.PULL_MESSAGE }, { timeoutMs: 200 }).then(
        () => assert.fail("answered"),
        (err: unknown) => err,
      );
      assert.ok(timedOut instanceof RmqError && timedOut.code === "RMQ_TIMEOUT");
      assert.match(
        timedOut.message,
        new RegExp(`^PULL_MESSAGE \\(code 11, opaque \\d+\\) to ${where} timed out after 200 ms$`),
      );
      assert.equal(timedOut.context.requestCode, 11);
      assert.ok(seen.includes(opaqueIn(timedOut)), "the opaque named is the one the peer received");

      const unknown = await conn.request({ code: 9999 }, { timeoutMs: 100 }).then(
        () => assert.fail("answered"),
        (err: unknown) => err,
      );
      assert.match(
        (unknown as Error).message,
        new RegExp(`^request code 9999 \\(opaque \\d+\\) to ${where} timed out after 100 ms$`),
      );

      const controller = new AbortController();
      const aborting = conn.request({ code: RequestCode.SEND_MESSAGE_V2 }, { signal: controller.signal });
      controller.abort();
      const aborted = await aborting.then(
        () => assert.fail("answered"),
        (err: unknown) => err,
      );
      assert.ok(aborted instanceof RmqError && aborted.code === "RMQ_ABORTED");
      assert.match(
        aborted.message,
        new RegExp(`^SEND_MESSAGE_V2 \\(code 310, opaque \\d+\\) to ${where} aborted$`),
      );

      // Pending when the peer drops the connection: each names itself, with a distinct opaque.
      const pending = [RequestCode.PULL_MESSAGE, RequestCode.HEART_BEAT].map((code) =>
        conn.request({ code }, { timeoutMs: 10_000 }).then(
          () => assert.fail("answered"),
          (err: unknown) => err,
        ),
      );
      // Dropped once the peer holds both (the three requests above reached it too).
      for (const deadline = Date.now() + 2000; seen.length < 5;) {
        assert.ok(Date.now() < deadline, `the peer got ${seen.length} of 5 requests`);
        await new Promise((r) => setTimeout(r, 5));
      }
      for (const sock of p.sockets) sock.destroy();
      const [lostPull, lostBeat] = await Promise.all(pending);
      // A peer that closes at once without a word looks like a TLS-only server, and is told so.
      const closed =
        "connection closed right after our first request, unanswered \\(if the server only speaks TLS, set tls\\)";
      assert.ok(lostPull instanceof RmqError && lostPull.code === "RMQ_CONNECTION");
      assert.match(
        lostPull.message,
        new RegExp(`^PULL_MESSAGE \\(code 11, opaque \\d+\\) to ${where} failed: ${closed}$`),
      );
      assert.match((lostBeat as Error).message, /^HEART_BEAT \(code 34, opaque \d+\) to /);
      assert.notEqual(opaqueIn(lostPull), opaqueIn(lostBeat));

      // And a request made after the close.
      const late = await conn.request({ code: RequestCode.GET_ROUTEINFO_BY_TOPIC }).then(
        () => assert.fail("answered"),
        (err: unknown) => err,
      );
      assert.match(
        (late as Error).message,
        new RegExp(`^GET_ROUTEINFO_BY_TOPIC \\(code 105, opaque \\d+\\) to ${where} failed: ${closed}$`),
      );
    } finally {
      for (const sock of p.sockets) sock.destroy();
      p.server.close();
    }
  });

  it("names request codes from the table, and unknown ones by number", () => {
    assert.equal(describeRequest(11, 4711), "PULL_MESSAGE (code 11, opaque 4711)");
    assert.equal(
      describeRequest(RequestCode.SEND_BATCH_MESSAGE, 1),
      `SEND_BATCH_MESSAGE (code ${RequestCode.SEND_BATCH_MESSAGE}, opaque 1)`,
    );
    assert.equal(describeRequest(4242, 5), "request code 4242 (opaque 5)");
    for (const [name, code] of Object.entries(RequestCode)) {
      assert.equal(describeRequest(code, 0), `${name} (code ${code}, opaque 0)`);
    }
  });

  it("aborts a request when its signal fires", async () => {
    const conn = await Connection.connect(peer.address);
    try {
      const controller = new AbortController();
      const pending = conn.request(
        { code: 1, extFields: { silent: "true" } },
        { timeoutMs: 5000, signal: controller.signal },
      );
      setTimeout(() => controller.abort(), 50);
      await assert.rejects(pending, (err: unknown) => err instanceof RmqError && err.code === "RMQ_ABORTED");
      assert.equal(conn.pendingRequests, 0);
    } finally {
      conn.close();
    }
  });

  it("fails every pending request at once when the connection drops", async () => {
    const conn = await Connection.connect(peer.address);
    const pending = Array.from({ length: 10 }, () =>
      conn.request({ code: 1, extFields: { silent: "true" } }, { timeoutMs: 10_000 }),
    );
    const started = Date.now();
    for (const s of peer.sockets) s.destroy();
    const results = await Promise.allSettled(pending);
    assert.ok(Date.now() - started < 2000);
    for (const r of results) {
      assert.equal(r.status, "rejected");
      assert.ok(r.reason instanceof RmqError && r.reason.code === "RMQ_CONNECTION");
    }
    assert.ok(conn.closed);
    await assert.rejects(
      conn.request({ code: 1 }),
      (err: unknown) => err instanceof RmqError && err.code === "RMQ_CONNECTION",
    );
  });

  it("fails to connect to a dead port quickly with a clear error", async () => {
    const started = Date.now();
    await assert.rejects(Connection.connect("127.0.0.1:1", { connectTimeoutMs: 2000 }), (err: unknown) => {
      assert.ok(err instanceof RmqError);
      assert.equal(err.code, "RMQ_CONNECTION");
      assert.match(err.message, /127\.0\.0\.1:1/);
      return true;
    });
    assert.ok(Date.now() - started < 2500);
  });

  it("closes with a protocol error on garbage from the peer and fails pending requests", async () => {
    const garbage = await startPeer((_cmd, _reply, socket) =>
      socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3])),
    );
    try {
      const conn = await Connection.connect(garbage.address);
      await assert.rejects(conn.request({ code: 1 }, { timeoutMs: 5000 }), (err: unknown) => {
        assert.ok(err instanceof RmqError && err.code === "RMQ_CONNECTION");
        assert.match(err.message, /protocol error/);
        return true;
      });
      assert.ok(conn.closed);
    } finally {
      garbage.server.close();
    }
  });

  it("answers server-initiated requests: with the handler's response, or REQUEST_CODE_NOT_SUPPORTED", async () => {
    let serverSocket: net.Socket | undefined;
    const p = await startPeer((_cmd, reply, socket) => {
      serverSocket = socket;
      reply({});
    });
    try {
      const conn = await Connection.connect(p.address);
      await conn.request({ code: 1 });
      assert.ok(serverSocket);
      const sock = serverSocket;
      const ask = async (code: number, opaque: number): Promise<RemotingCommand> => {
        const answered = once(sock, "client-response") as Promise<[RemotingCommand]>;
        sock.write(encodeCommand({ code, language: "JAVA", version: 413, opaque, flag: 0, extFields: {} }));
        const [response] = await answered;
        return response;
      };
      const unsupported = await ask(307, 900);
      assert.equal(unsupported.opaque, 900);
      assert.equal(unsupported.code, 3);
      conn.setRequestHandler((cmd) => (cmd.code === 221 ? { code: 0, remark: "handled" } : undefined));
      const handled = await ask(221, 901);
      assert.equal(handled.opaque, 901);
      assert.equal(handled.code, 0);
      assert.equal(handled.remark, "handled");
      conn.close();
    } finally {
      for (const s of p.sockets) s.destroy();
      p.server.close();
    }
  });

  it("waits for the socket to drain instead of buffering without bound", async () => {
    // A peer that stops reading: our writes must stop once the kernel buffers are full.
    const stalled = await startRawPeer((socket) => socket.pause());
    const conn = await Connection.connect(stalled.address);
    try {
      const body = Buffer.alloc(1024 * 1024, 7);
      const pending = Array.from({ length: 64 }, () => conn.request({ code: 1, body }, { timeoutMs: 1500 }));
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, conn.writeBufferedBytes)), 5);
      await Promise.allSettled(pending);
      clearInterval(sampler);
      // 64 MiB were requested of a peer that never reads: at most about one frame may sit in
      // our buffer at a time, the rest waits for 'drain' (and then times out).
      assert.ok(peak > 0, "nothing was buffered at all");
      assert.ok(peak <= 2 * 1024 * 1024, `buffered ${peak} bytes in user space`);
    } finally {
      conn.close();
      stalled.close();
    }
  });

  it("never writes a request that timed out while it waited for the socket to drain", async () => {
    // A peer that reads nothing for a while, then everything: what it gets after the pause is
    // only what had left before the timeouts, not the waiting frames written late.
    let received = 0;
    const paused = await startRawPeer((socket) => {
      socket.pause();
      socket.on("data", (chunk: Buffer) => (received += chunk.length));
    });
    const conn = await Connection.connect(paused.address);
    try {
      const body = Buffer.alloc(1024 * 1024, 7);
      const pending = Array.from({ length: 64 }, () => conn.request({ code: 1, body }, { timeoutMs: 300 }));
      const results = await Promise.allSettled(pending);
      assert.ok(results.every((r) => r.status === "rejected"));
      for (const socket of paused.sockets) socket.resume();
      await new Promise((r) => setTimeout(r, 500));
      // The kernel buffers hold a few MiB at most; 64 MiB were asked for.
      assert.ok(received > 0, "nothing reached the peer at all");
      assert.ok(
        received < 16 * 1024 * 1024,
        `the peer got ${received} bytes: timed-out frames were written late`,
      );
    } finally {
      conn.close();
      paused.close();
    }
  });

  it("resets the connection when a resetOnTimeout request times out, failing the others on it", async () => {
    const resets: string[] = [];
    const silent = await startRawPeer((socket) => {
      socket.on("error", (err: NodeJS.ErrnoException) => resets.push(err.code ?? err.message));
      socket.resume();
    });
    const conn = await Connection.connect(silent.address);
    try {
      const other = conn.request({ code: 1 }, { timeoutMs: 10_000 });
      const started = Date.now();
      await assert.rejects(
        conn.request({ code: 310 }, { timeoutMs: 200, resetOnTimeout: true }),
        (err: unknown) => err instanceof RmqError && err.code === "RMQ_TIMEOUT",
      );
      await assert.rejects(
        other,
        (err: unknown) =>
          err instanceof RmqError &&
          err.code === "RMQ_CONNECTION" &&
          /connection reset after SEND_MESSAGE_V2 \(code 310, opaque \d+\) timed out/.test(err.message),
      );
      assert.ok(Date.now() - started < 2000);
      assert.ok(conn.closed);
      // An RST (SO_LINGER 0: unsent bytes dropped), not a FIN.
      const deadline = Date.now() + 2000;
      while (resets.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(resets, ["ECONNRESET"]);
    } finally {
      conn.close();
      silent.close();
    }
  });
});

describe("ConnectionPool", () => {
  it("shares one connect among concurrent callers and reconnects after a drop", async () => {
    const p = await startPeer((_cmd, reply) => reply({}));
    const pool = new ConnectionPool();
    try {
      const conns = await Promise.all(Array.from({ length: 10 }, () => pool.get(p.address)));
      assert.equal(new Set(conns).size, 1);
      for (const s of p.sockets) s.destroy();
      await once(conns[0] as Connection, "close");
      const response = await pool.request(p.address, { code: 1 });
      assert.equal(response.code, 0);
      const again = await pool.get(p.address);
      assert.notEqual(again, conns[0]);
    } finally {
      pool.close();
      for (const s of p.sockets) s.destroy();
      p.server.close();
    }
  });
});
