/**
 * The fault proxy (test/helpers/fault-proxy.ts) does what each fault says, seen from a client
 * that reaches a fake peer through the pool's address translation: the peer stands for a broker
 * at an announced address nobody listens on, so every request here went through the proxy.
 */
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConnectionPool } from "../../src/transport/pool.js";
import { RmqError } from "../../src/protocol/errors.js";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import { FaultProxy, type ChaosFault } from "../helpers/fault-proxy.js";
import { startPeer, type FakePeer } from "../helpers/fake-peer.js";

/** An address from TEST-NET-1 (RFC 5737): never routable, so only the map can reach it. */
const ANNOUNCED = "192.0.2.1:10911";
const CODE = 10; // SEND_MESSAGE: errors name it

describe("FaultProxy", () => {
  let peer: FakePeer;
  /** Values of the requests the peer has received, in order. */
  const received: string[] = [];
  let proxy: FaultProxy;
  let pool: ConnectionPool;

  before(async () => {
    peer = await startPeer((cmd, reply) => {
      received.push(cmd.extFields["value"] ?? "");
      reply({ extFields: { echo: cmd.extFields["value"] ?? "" } });
    });
  });
  after(() => peer.close());
  beforeEach(async () => {
    received.length = 0;
    proxy = await FaultProxy.start({ upstream: peer.address });
    pool = new ConnectionPool({ addressMap: { [ANNOUNCED]: proxy.address }, requestTimeoutMs: 5000 });
  });
  afterEach(async () => {
    pool.close();
    await proxy.close();
  });

  const send = (value: string, timeoutMs?: number): Promise<string | undefined> =>
    pool
      .request(ANNOUNCED, { code: CODE, extFields: { value } }, timeoutMs === undefined ? {} : { timeoutMs })
      .then((r) => r.extFields["echo"]);

  /** Asserts `err` is an RmqError of `code` naming the request and both addresses. */
  const namesBoth =
    (code: string) =>
    (err: unknown): boolean => {
      assert.ok(err instanceof RmqError, String(err));
      assert.equal(err.code, code, err.message);
      assert.match(err.message, /SEND_MESSAGE \(code 10, opaque \d+\)/);
      assert.ok(err.message.includes(`${ANNOUNCED} (via ${proxy.address})`), err.message);
      assert.equal(err.context.address, ANNOUNCED);
      assert.equal(err.context["via"], proxy.address);
      return true;
    };

  /** Resolves once `check` holds; fails after `timeoutMs`. */
  async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it("forwards through the translated address and counts the traffic", async () => {
    assert.equal(await send("a"), "a");
    assert.equal(await send("b"), "b");
    assert.deepEqual(received, ["a", "b"]);
    const c = proxy.counters;
    assert.equal(c.accepted, 1);
    assert.ok(c.bytesToUpstream > 0 && c.bytesToClient > 0, JSON.stringify(c));
    // The pool keeps the announced address: callers and error context never see the proxy's.
    assert.deepEqual(pool.addresses, [ANNOUNCED]);
    assert.equal(pool.dialAddress(ANNOUNCED), proxy.address);
    assert.equal(pool.dialAddress(peer.address), peer.address);
  });

  it("cut() mid-request: a connection error naming the request and both addresses; the next request reconnects", async () => {
    await send("warm-up");
    proxy.stall(true); // hold the request so the cut surely falls while it waits
    const before = proxy.counters.bytesFromClient;
    const pending = send("in-flight");
    await until(() => proxy.counters.bytesFromClient > before, "the request to reach the proxy");
    assert.equal(proxy.cut(), 1);
    await assert.rejects(pending, namesBoth("RMQ_CONNECTION"));
    proxy.stall(false);
    assert.equal(await send("after"), "after");
    assert.equal(proxy.counters.cuts, 1);
    assert.equal(proxy.counters.accepted, 2);
    assert.deepEqual(received, ["warm-up", "after"]);
  });

  it("delayResponses beyond the timeout: the request times out although the peer received it", async () => {
    await send("warm-up");
    proxy.delayResponses(1500);
    await assert.rejects(send("landed", 300), namesBoth("RMQ_TIMEOUT"));
    assert.deepEqual(received, ["warm-up", "landed"]);
    proxy.delayResponses(undefined);
    // The late answer is dropped by the client (no pending request); the connection still works.
    await until(() => proxy.counters.bytesToClient > 0 && received.length === 2, "the late answer");
    assert.equal(await send("after"), "after");
    assert.equal(proxy.counters.accepted, 1);
  });

  it("dropResponses: requests reach the peer, answers never come, the connection stays", async () => {
    await send("warm-up");
    proxy.dropResponses(true);
    await assert.rejects(send("dropped", 300), namesBoth("RMQ_TIMEOUT"));
    assert.deepEqual(received, ["warm-up", "dropped"]);
    assert.ok(proxy.counters.bytesDropped > 0);
    assert.equal(proxy.connections, 1);
    proxy.dropResponses(false);
    assert.equal(await send("after"), "after");
    assert.equal(proxy.counters.accepted, 1);
  });

  it("refuse: a new connection is closed at once, naming both addresses; lifted, it connects", async () => {
    proxy.refuse(true);
    await assert.rejects(send("refused"), (err: unknown) => {
      assert.ok(err instanceof RmqError && err.code === "RMQ_CONNECTION", String(err));
      assert.ok(err.message.includes(`${ANNOUNCED} (via ${proxy.address})`), err.message);
      return true;
    });
    assert.equal(proxy.counters.refused, 1);
    assert.deepEqual(received, []);
    proxy.refuse(false);
    assert.equal(await send("after"), "after");
    assert.equal(proxy.counters.accepted, 1);
  });

  it("stall holds bytes both ways and resume forwards them in order", async () => {
    await send("warm-up");
    proxy.stall(true);
    const held = [send("h1"), send("h2"), send("h3")];
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(received, ["warm-up"], "nothing reaches the peer while stalled");
    proxy.stall(false);
    assert.deepEqual(await Promise.all(held), ["h1", "h2", "h3"]);
    assert.deepEqual(received, ["warm-up", "h1", "h2", "h3"]);
  });

  it("chaos applies random faults until aborted, then lifts them", async () => {
    // A seeded generator (mulberry32), so a failing schedule can be replayed.
    let seed = 0x5eed;
    const random = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const faults: ChaosFault[] = ["cut", "refuse", "stall", "delay", "drop"];
    const controller = new AbortController();
    const chaos = proxy.chaos({
      everyMs: [20, 60],
      holdMs: [50, 150],
      delayMs: 400,
      faults,
      random,
      signal: controller.signal,
    });
    let ok = 0;
    let failed = 0;
    const deadline = Date.now() + 3000;
    for (let i = 0; Date.now() < deadline; i++) {
      await send(`c${i}`, 200).then(
        () => ok++,
        (err: unknown) => {
          assert.ok(err instanceof RmqError && err.retriable, String(err));
          failed++;
        },
      );
    }
    controller.abort();
    const report = await chaos;
    const applied = Object.values(report).reduce((a, b) => a + b, 0);
    assert.ok(applied >= 10, JSON.stringify(report));
    assert.ok(failed > 0 && ok > 0, `ok ${ok}, failed ${failed}`);
    // Every fault is lifted: requests go through again.
    assert.equal(await send("after"), "after");
  });
});

describe("addressMap validation", () => {
  it("refuses an entry that is not host:port, naming it, when the client is built", () => {
    for (const addressMap of [{ "192.0.2.1": "127.0.0.1:1" }, { "192.0.2.1:10911": "127.0.0.1:70000" }]) {
      assert.throws(
        () => new RocketMQClient({ namesrv: "127.0.0.1:9876", addressMap }),
        (err: unknown) => {
          assert.ok(err instanceof RmqError, String(err));
          assert.equal(err.code, "RMQ_BAD_ADDRESS");
          assert.match(
            err.message,
            /^addressMap entry "192\.0\.2\.1(:10911)?": "127\.0\.0\.1:\d+": bad address/,
          );
          return true;
        },
      );
    }
  });
});
