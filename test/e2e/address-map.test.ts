/**
 * Address translation against a real broker, through the fault proxy (test/helpers/fault-proxy.ts):
 * a client whose addressMap sends broker traffic through a proxy produces and pulls; a cut
 * during a stream of sends fails the requests in flight with errors naming both addresses and
 * the next request reconnects; and a response delayed beyond the send timeout gives the
 * "landed but unknown" outcome — the send fails as a timeout, yet the broker stored the message
 * (read back by a client without the proxy). Issue 10's exactly-once tests stand on these.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import type { MessageQueue } from "../../src/client/types.js";
import type { MessageExt } from "../../src/protocol/message.js";
import { RmqError } from "../../src/protocol/errors.js";
import { useSandbox, uniqueName, type TestCluster } from "../helpers/sandbox.js";
import { proxyCluster, type FaultProxy, type ProxiedCluster } from "../helpers/fault-proxy.js";

const GROUP = "rmq_connector_test";

describe("addressMap through a fault proxy, real broker", () => {
  const sandbox = useSandbox(1);
  let cluster: TestCluster;
  let proxied: ProxiedCluster;
  let proxy: FaultProxy;
  /** Goes through the proxy for every broker request (the NameServer is reached directly). */
  let client: RocketMQClient;
  /** No translation: reads what the broker really stored. */
  let direct: RocketMQClient;

  before(async () => {
    const [first] = await sandbox.clusters();
    assert.ok(first);
    cluster = first;
    proxied = await proxyCluster(cluster);
    const only = proxied.proxies.get(cluster.brokerName);
    assert.ok(only);
    proxy = only;
    client = new RocketMQClient({
      namesrv: cluster.namesrv,
      addressMap: proxied.addressMap,
      requestTimeoutMs: 5000,
    });
    direct = new RocketMQClient({ namesrv: cluster.namesrv, requestTimeoutMs: 5000 });
  });
  after(async () => {
    client?.close();
    direct?.close();
    await proxied?.close();
  });

  /** A new topic and its first queue, created without the proxy. */
  async function freshQueue(prefix: string): Promise<MessageQueue> {
    const topic = uniqueName(prefix);
    await direct.admin.createTopic({ topic, queueNums: 1 });
    const [queue] = (await direct.admin.getTopicRoute(topic, { refresh: true })).writeQueues();
    assert.ok(queue);
    return queue;
  }

  /** Pulls `queue` from offset 0 with `via` until `count` messages arrived or 30 s passed. */
  async function pullAll(via: RocketMQClient, queue: MessageQueue, count: number): Promise<MessageExt[]> {
    const consumer = via.pullConsumer({ group: GROUP });
    const out: MessageExt[] = [];
    const deadline = Date.now() + 30_000;
    let next = 0n;
    while (out.length < count && Date.now() < deadline) {
      const result = await consumer.pull({ queue, offset: next, suspendTimeoutMs: 1000 });
      out.push(...result.messages);
      next = result.nextBeginOffset;
    }
    return out;
  }

  /** Asserts `err` is an RmqError of `code` naming a send and the broker by both addresses. */
  function assertNamesBoth(err: unknown, code: string): void {
    assert.ok(err instanceof RmqError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, /SEND_MESSAGE(_V2)? \(code \d+, opaque \d+\)/);
    assert.ok(err.message.includes(`${cluster.brokerAddr} (via ${proxy.address})`), err.message);
    assert.equal(err.context.address, cluster.brokerAddr);
    assert.equal(err.context["via"], proxy.address);
  }

  it("the map's key is the address the broker announces in route data", async () => {
    const queue = await freshQueue("amap-route");
    const route = await client.admin.getTopicRoute(queue.topic, { refresh: true });
    assert.equal(route.masterAddress(cluster.brokerName), cluster.brokerAddr);
    assert.deepEqual(Object.keys(proxied.addressMap), [cluster.brokerAddr]);
  });

  it("produces and pulls through the proxy, and the proxy carried the bytes", async () => {
    const queue = await freshQueue("amap-flow");
    const before = proxy.counters;
    const producer = client.producer();
    const bodies = Array.from({ length: 20 }, () => randomBytes(2048));
    for (const body of bodies) await producer.send({ topic: queue.topic, body }, { queue });
    const pulled = await pullAll(client, queue, bodies.length);
    assert.deepEqual(
      pulled.map((m) => m.body?.toString("hex")),
      bodies.map((b) => b.toString("hex")),
    );
    const after = proxy.counters;
    const bodyBytes = bodies.length * 2048;
    // Requests carried the bodies upstream; pull responses carried them back.
    assert.ok(after.bytesToUpstream - before.bytesToUpstream > bodyBytes, JSON.stringify(after));
    assert.ok(after.bytesToClient - before.bytesToClient > bodyBytes, JSON.stringify(after));
    assert.ok(after.accepted >= 1);
  });

  it("cut() during a stream of sends: errors name both addresses, the next request recovers", async (t) => {
    const queue = await freshQueue("amap-cut");
    const producer = client.producer();
    const workers = 4;
    const perWorker = 40;
    const acceptedBefore = proxy.counters.accepted;
    let acked = 0;
    const failures: unknown[] = [];
    /** Per worker: whether the send right after its failure succeeded. */
    const recoveredAtOnce: boolean[] = [];
    let cutDone = false;
    const cutter = (async () => {
      try {
        const deadline = Date.now() + 60_000;
        while (acked < 30 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
        // Hold answers so that requests are surely in flight, wait until one reached the proxy,
        // then cut everything at once.
        proxy.delayResponses(2000);
        const seen = proxy.counters.bytesFromClient;
        while (proxy.counters.bytesFromClient === seen && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 5));
        assert.ok(proxy.cut() >= 1, "a connection to cut");
      } finally {
        proxy.delayResponses(undefined);
        cutDone = true;
      }
    })();
    const streamDeadline = Date.now() + 120_000;
    await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        let failedLast = false;
        // The stream goes on past the cut, and a worker whose send failed always sends again.
        for (let i = 0; (i < perWorker || !cutDone || failedLast) && Date.now() < streamDeadline; i++) {
          try {
            await producer.send({ topic: queue.topic, body: Buffer.from(`w${w}-${i}`) }, { queue });
            acked++;
            if (failedLast) recoveredAtOnce.push(true);
            failedLast = false;
          } catch (err) {
            failures.push(err);
            if (failedLast) recoveredAtOnce.push(false);
            failedLast = true;
          }
        }
      }),
    );
    await cutter;
    assert.ok(failures.length >= 1 && failures.length <= workers, `${failures.length} failures`);
    for (const err of failures) assertNamesBoth(err, "RMQ_CONNECTION");
    assert.equal(recoveredAtOnce.length, failures.length, "every failed worker sent again");
    assert.ok(
      recoveredAtOnce.every((ok) => ok),
      "the send after each failure succeeded",
    );
    assert.ok(proxy.counters.accepted > acceptedBefore, "the client reconnected through the proxy");
    // Every acknowledged send is stored (the failed ones may or may not be).
    const stored = await pullAll(direct, queue, acked);
    t.diagnostic(
      `${acked} sends acknowledged, ${failures.length} failed at the cut, ${stored.length} stored`,
    );
    assert.ok(stored.length >= acked && stored.length <= acked + failures.length, `${stored.length} stored`);
  });

  it('delayResponses beyond the send timeout: the send times out, yet the broker stored it ("landed but unknown")', async () => {
    const queue = await freshQueue("amap-landed");
    const producer = client.producer({ sendTimeoutMs: 1000 });
    const body = randomBytes(64);
    proxy.delayResponses(4000);
    try {
      await assert.rejects(producer.send({ topic: queue.topic, body }, { queue }), (err: unknown) => {
        assertNamesBoth(err, "RMQ_TIMEOUT");
        assert.equal((err as RmqError).retriable, true);
        return true;
      });
    } finally {
      proxy.delayResponses(undefined);
    }
    const stored = await pullAll(direct, queue, 1);
    assert.equal(stored.length, 1, "the timed-out send is in the queue");
    assert.equal(stored[0]?.body?.toString("hex"), body.toString("hex"));
    assert.equal(stored[0]?.queueOffset, 0n);
    // The path through the proxy still works once the late answer has passed.
    const next = await producer.send(
      { topic: queue.topic, body: Buffer.from("next") },
      { queue, timeoutMs: 15_000 },
    );
    assert.equal(next.queueOffset, 1n);
  });
});
