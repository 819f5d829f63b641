/**
 * The client against a real NameServer and Broker (started by the sandbox harness): what goes in
 * comes out byte for byte, in order, with its metadata; statuses are results; failures are fast
 * and clear. Runs against the default RocketMQ version, and again against 4.x by the test driver
 * (RMQ_VERSION).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { findOffsetByStoreTime } from "../../src/client/offset-search.js";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import type { MessageQueue } from "../../src/client/types.js";
import type { MessageExt } from "../../src/protocol/message.js";
import { RmqError } from "../../src/protocol/errors.js";
import { EncodedProperties, rewriteProperties } from "../../src/protocol/properties.js";
import { useSandbox, uniqueName } from "../helpers/sandbox.js";
import { resolveVersion } from "../../src/sandbox/index.js";

const GROUP = "rmq_connector_test";

describe("client against a real broker", () => {
  const sandbox = useSandbox(1);
  let client: RocketMQClient;
  let namesrv: string;

  before(async () => {
    const [cluster] = await sandbox.clusters();
    assert.ok(cluster);
    namesrv = cluster.namesrv;
    client = new RocketMQClient({ namesrv, requestTimeoutMs: 5000 });
  });
  after(() => client?.close());

  async function topicWithQueues(prefix: string, queueNums = 8): Promise<MessageQueue[]> {
    const topic = uniqueName(prefix);
    await client.admin.createTopic({ topic, queueNums });
    const route = await client.admin.getTopicRoute(topic, { refresh: true });
    const queues = route.writeQueues();
    assert.equal(queues.length, queueNums);
    return queues;
  }

  /** Pulls `queue` from `offset` until `count` messages arrived or a deadline passes. */
  async function pullAll(
    queue: MessageQueue,
    offset: bigint,
    count: number,
    tags = "*",
  ): Promise<MessageExt[]> {
    const consumer = client.pullConsumer({ group: GROUP });
    const out: MessageExt[] = [];
    const deadline = Date.now() + 20_000;
    let next = offset;
    while (out.length < count && Date.now() < deadline) {
      const result = await consumer.pull({ queue, offset: next, tags, suspendTimeoutMs: 1000 });
      out.push(...result.messages);
      next = result.nextBeginOffset;
    }
    return out;
  }

  it("sends binary bodies, tags, keys and unicode properties that come back byte-identical", async () => {
    const [queue] = await topicWithQueues("binary", 4);
    assert.ok(queue);
    const producer = client.producer();
    const sent = [
      {
        body: randomBytes(1024),
        tags: "TagA",
        keys: ["k1", "k2"],
        properties: { région: "Zürich ☃", empty_like: " " },
      },
      {
        body: Buffer.from([0, 1, 2, 255, 254, 0, 0x80]),
        tags: "TagB",
        keys: "single",
        properties: { 名前: "値" },
      },
      { body: Buffer.from([0]), tags: undefined, keys: undefined, properties: {} },
      { body: randomBytes(200_000), tags: "Big", keys: undefined, properties: { size: "200000" } },
    ];
    const offsets: bigint[] = [];
    for (const m of sent) {
      const result = await producer.send({ topic: queue.topic, ...m }, { queue });
      assert.equal(result.status, "SEND_OK");
      assert.equal(result.queue.queueId, queue.queueId);
      assert.equal(result.offsetMsgIds.length, 1);
      offsets.push(result.queueOffset);
    }
    assert.deepEqual(offsets, [0n, 1n, 2n, 3n]);
    const got = await pullAll(queue, 0n, sent.length);
    assert.equal(got.length, sent.length);
    got.forEach((m, i) => {
      const s = sent[i];
      assert.ok(s);
      assert.equal(m.queueOffset, BigInt(i));
      assert.ok(m.body && Buffer.compare(m.body, s.body) === 0, `body ${i} differs`);
      assert.equal(m.tags, s.tags);
      for (const [k, v] of Object.entries(s.properties)) assert.equal(m.properties[k], v, `property ${k}`);
      const keys = typeof s.keys === "string" ? [s.keys] : (s.keys ?? []);
      assert.deepEqual(m.keys, keys);
      assert.match(m.uniqKey ?? "", /^[0-9A-F]{32}$/);
      assert.ok(m.storeTimestamp >= m.bornTimestamp - 5000);
    });
  });

  it("forwards a pulled message's properties text as it is, with a new UNIQ_KEY only where it has none", async () => {
    const [queue] = await topicWithQueues("encoded", 1);
    assert.ok(queue);
    const producer = client.producer();
    await producer.sendBatch(
      [
        {
          topic: queue.topic,
          body: Buffer.from("a"),
          tags: "TagA",
          keys: "k1 k2",
          properties: { région: "Zürich" },
        },
        { topic: queue.topic, body: Buffer.from("b"), properties: { drop: "me" } },
      ],
      { queue },
    );
    const source = await pullAll(queue, 0n, 2);
    assert.equal(source.length, 2);
    const [a, b] = source as [MessageExt, MessageExt];
    const forwarded = [
      rewriteProperties(a.propertiesText, (name) => name === "drop", [["hop", "1"]]),
      rewriteProperties(b.propertiesText, (name) => name === "drop" || name === "UNIQ_KEY", [["hop", "1"]]),
    ];
    // The first keeps its UNIQ_KEY; the second lost it to `drop` and gets a new one.
    const single = await producer.send(
      { topic: queue.topic, body: Buffer.from("a"), properties: forwarded[0] },
      { queue },
    );
    const batch = await producer.sendBatch(
      [{ topic: queue.topic, body: Buffer.from("b"), properties: forwarded[1] }],
      {
        queue,
      },
    );
    assert.equal(single.uniqKeys[0], source[0]?.uniqKey);
    assert.notEqual(batch.uniqKeys[0], source[1]?.uniqKey);
    const [first, second] = await pullAll(queue, 2n, 2);
    assert.ok(first && second);
    assert.equal(first.tags, "TagA");
    assert.deepEqual(first.keys, ["k1", "k2"]);
    assert.equal(first.uniqKey, source[0]?.uniqKey);
    assert.equal(first.properties["région"], "Zürich");
    assert.equal(first.properties["hop"], "1");
    assert.equal(second.properties["drop"], undefined);
    assert.equal(second.uniqKey, batch.uniqKeys[0]);
    assert.equal(second.properties["hop"], "1");
    await assert.rejects(
      producer.send(
        { topic: queue.topic, body: Buffer.from("c"), tags: "T", properties: forwarded[0] },
        { queue },
      ),
      (err: unknown) =>
        err instanceof RmqError && err.code === "RMQ_INVALID_ARGUMENT" && /TAGS and KEYS/.test(err.message),
    );
    // Built by hand without its final separator: the new UNIQ_KEY must still be an entry of its own.
    const bare = await producer.send(
      {
        topic: queue.topic,
        body: Buffer.from("d"),
        properties: new EncodedProperties("odd\u0001v", undefined),
      },
      { queue },
    );
    const [fourth] = await pullAll(queue, 4n, 1);
    assert.equal(fourth?.properties["odd"], "v");
    assert.equal(fourth?.uniqKey, bare.uniqKeys[0]);
  });

  it("refuses an empty body before it reaches the broker (RocketMQ has no empty messages)", async () => {
    const [queue] = await topicWithQueues("empty", 1);
    assert.ok(queue);
    await assert.rejects(
      client.producer().send({ topic: queue.topic, body: Buffer.alloc(0) }, { queue }),
      (err: unknown) => {
        assert.ok(err instanceof RmqError);
        assert.equal(err.code, "RMQ_INVALID_ARGUMENT");
        assert.match(err.message, /empty/);
        return true;
      },
    );
  });

  it("sends a batch that lands in order with consecutive offsets, and keeps order within each queue", async () => {
    const queues = await topicWithQueues("order", 8);
    const producer = client.producer();
    const perQueue = 100;
    await Promise.all(
      queues.map(async (queue) => {
        for (let start = 0; start < perQueue; start += 25) {
          const batch = Array.from({ length: 25 }, (_, i) => ({
            topic: queue.topic,
            body: Buffer.from(`q${queue.queueId}-m${start + i}`),
            keys: `key-${start + i}`,
          }));
          const result = await producer.sendBatch(batch, { queue });
          assert.equal(result.queueOffset, BigInt(start));
          assert.equal(result.offsetMsgIds.length, 25);
          assert.equal(new Set(result.uniqKeys).size, 25);
        }
      }),
    );
    for (const queue of queues) {
      const got = await pullAll(queue, 0n, perQueue);
      assert.deepEqual(
        got.map((m) => m.body?.toString()),
        Array.from({ length: perQueue }, (_, i) => `q${queue.queueId}-m${i}`),
        `queue ${queue.queueId} out of order or incomplete`,
      );
      assert.deepEqual(
        got.map((m) => m.queueOffset),
        Array.from({ length: perQueue }, (_, i) => BigInt(i)),
      );
    }
  });

  it("filters by tag expression on the broker and re-checks on the client", async () => {
    const [queue] = await topicWithQueues("tags", 1);
    assert.ok(queue);
    const producer = client.producer();
    const tags = ["TagA", "TagB", "TagC", "TagA", "TagC", "TagB"];
    for (const [i, tag] of tags.entries()) {
      await producer.send({ topic: queue.topic, body: Buffer.from(`${tag}-${i}`), tags: tag }, { queue });
    }
    const consumer = client.pullConsumer({ group: GROUP });
    const seen: string[] = [];
    let next = 0n;
    // Long polls: the broker indexes stored messages asynchronously, so they may show a moment later.
    const deadline = Date.now() + 20_000;
    while (next < BigInt(tags.length) && Date.now() < deadline) {
      const r = await consumer.pull({ queue, offset: next, tags: "TagA || TagB", suspendTimeoutMs: 1000 });
      seen.push(...r.messages.map((m) => m.body?.toString() ?? ""));
      next = r.nextBeginOffset;
    }
    assert.deepEqual(seen, ["TagA-0", "TagB-1", "TagA-3", "TagB-5"]);
  });

  it("reports no new message, and offset moved, as results", async () => {
    const [queue] = await topicWithQueues("status", 1);
    assert.ok(queue);
    const consumer = client.pullConsumer({ group: GROUP });
    const empty = await consumer.pull({ queue, offset: 0n, suspendTimeoutMs: 0 });
    assert.equal(empty.status, "NO_NEW_MSG");
    assert.equal(empty.messages.length, 0);
    await client.producer().send({ topic: queue.topic, body: Buffer.from("x") }, { queue });
    // The broker indexes a stored message asynchronously (reput); wait until the queue shows it.
    for (let i = 0; i < 50 && (await client.admin.getMaxOffset(queue)) < 1n; i++)
      await new Promise((r) => setTimeout(r, 100));
    const beyond = await consumer.pull({ queue, offset: 1000n, suspendTimeoutMs: 0 });
    assert.equal(beyond.status, "OFFSET_ILLEGAL");
    assert.equal(beyond.nextBeginOffset, 1n);
  });

  it("long polling returns as soon as a message arrives", async () => {
    const [queue] = await topicWithQueues("longpoll", 1);
    assert.ok(queue);
    const consumer = client.pullConsumer({ group: GROUP });
    const started = Date.now();
    const pulled = consumer.pull({ queue, offset: 0n, suspendTimeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 300));
    await client.producer().send({ topic: queue.topic, body: Buffer.from("wake") }, { queue });
    const result = await pulled;
    assert.equal(result.status, "FOUND");
    assert.equal(result.messages[0]?.body?.toString(), "wake");
    assert.ok(Date.now() - started < 8000, "long poll did not return when the message arrived");
  });

  it("finds offsets by timestamp, min and max offsets", async () => {
    const [queue] = await topicWithQueues("timestamp", 1);
    assert.ok(queue);
    const producer = client.producer();
    for (let i = 0; i < 5; i++)
      await producer.send({ topic: queue.topic, body: Buffer.from(`early-${i}`) }, { queue });
    await new Promise((r) => setTimeout(r, 1100));
    const boundary = Date.now();
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 3; i++)
      await producer.send({ topic: queue.topic, body: Buffer.from(`late-${i}`) }, { queue });
    assert.equal(await client.admin.getMinOffset(queue), 0n);
    // The max offset counts consume-queue entries, which the broker dispatches after the send's
    // answer (asynchronously on 4.x and 5.x): CI once read 7 right after the 8th send on 4.9.7.
    let max = await client.admin.getMaxOffset(queue);
    for (const deadline = Date.now() + 5000; max < 8n && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 20));
      max = await client.admin.getMaxOffset(queue);
    }
    assert.equal(max, 8n);
    const offset = await client.admin.searchOffset(queue, boundary);
    assert.equal(offset, 5n);
    const [first] = await pullAll(queue, offset, 1);
    assert.equal(first?.body?.toString(), "late-0");
  });

  it("finds the first offset stored at or after a time, exactly, from any time", async () => {
    const queues = await topicWithQueues("storetime", 4);
    const producer = client.producer();
    // Single sends and batches (one store time for the whole batch) over four queues, in a few
    // rounds, so times repeat within a queue and lie between the queues' times.
    for (let round = 0; round < 3; round++) {
      for (const [i, queue] of queues.entries()) {
        await producer.send({ topic: queue.topic, body: Buffer.from(`r${round}-q${i}-single`) }, { queue });
        await producer.sendBatch(
          Array.from({ length: 3 }, (_, k) => ({
            topic: queue.topic,
            body: Buffer.from(`r${round}-q${i}-b${k}`),
          })),
          { queue },
        );
      }
    }
    const consumer = client.pullConsumer({ group: GROUP });
    const stored = await Promise.all(queues.map((q) => pullAll(q, 0n, 12)));
    const times = stored.flat().map((m) => m.storeTimestamp);
    const first = Math.min(...times);
    const last = Math.max(...times);
    // Every store time of every queue, the millisecond after it and before it, both ends, far off.
    const probes = [...new Set(times.flatMap((t) => [t - 1, t, t + 1]))].concat([0, last + 60_000]);
    for (const [i, queue] of queues.entries()) {
      const messages = stored[i] as MessageExt[];
      assert.equal(messages.length, 12);
      for (const t of probes) {
        const index = messages.findIndex((m) => m.storeTimestamp >= t);
        const expected = index < 0 ? 12n : (messages[index] as MessageExt).queueOffset;
        const got = await findOffsetByStoreTime(client.admin, consumer, queue, t);
        assert.equal(
          got,
          expected,
          `queue ${i}, t=${t} (store times ${messages.map((m) => m.storeTimestamp).join(",")})`,
        );
      }
    }
    // The edges as documented: before the first message, the min offset; after the last, the max.
    assert.equal(
      await findOffsetByStoreTime(client.admin, consumer, queues[0] as MessageQueue, first - 1),
      0n,
    );
    assert.equal(
      await findOffsetByStoreTime(client.admin, consumer, queues[0] as MessageQueue, last + 1),
      12n,
    );
    const [empty] = await topicWithQueues("storetime_empty", 1);
    assert.ok(empty);
    assert.equal(
      await findOffsetByStoreTime(client.admin, consumer, empty, first),
      0n,
      "an empty queue: its max offset",
    );
  });

  it("writes a consumer offset and reads it back", async () => {
    const [queue] = await topicWithQueues("offsets", 2);
    assert.ok(queue);
    const group = uniqueName("group");
    await client.admin.createSubscriptionGroup({ group });
    for (let i = 0; i < 3; i++)
      await client.producer().send({ topic: queue.topic, body: Buffer.from(`m${i}`) }, { queue });
    // 5.x tells "no offset" apart (setZeroIfNotFound=false); 4.x brokers ignore that field and
    // answer 0 while the queue's first message is still in memory (ConsumerManageProcessor).
    const none = await client.admin.queryConsumerOffset(group, queue);
    if (resolveVersion().startsWith("4.")) assert.equal(none, 0n);
    else assert.equal(none, undefined);
    assert.equal(
      await client.admin.hasConsumerOffset(group, queue),
      false,
      "the offset table tells none apart",
    );
    await client.admin.updateConsumerOffset(group, queue, 2n);
    assert.equal(await client.admin.queryConsumerOffset(group, queue), 2n);
    assert.equal(await client.admin.hasConsumerOffset(group, queue), true);
    await client.admin.updateConsumerOffset(group, queue, 3n);
    assert.equal(await client.admin.queryConsumerOffset(group, queue), 3n);
  });

  it("pulls back intact a large body that the Java tool compressed", async () => {
    const [queue] = await topicWithQueues("javacompressed", 1);
    assert.ok(queue);
    const body = `${"RocketMQ compresses bodies over 4 KiB. ".repeat(200)}end`;
    assert.ok(body.length > 4096);
    const output = await sandbox.mqadmin([
      "sendMessage",
      "-n",
      namesrv,
      "-t",
      queue.topic,
      "-p",
      body,
      "-c",
      "Zipped",
      "-k",
      "jkey",
      "-b",
      queue.brokerName,
      "-i",
      String(queue.queueId),
    ]);
    const [m] = await pullAll(queue, 0n, 1);
    assert.ok(m, `the message sent by mqadmin was not pulled; mqadmin said: ${output}`);
    assert.equal(m.sysFlag & 0x1, 0x1, "expected the Java tool to have compressed the body");
    assert.ok(m.storedBody.length < body.length, "stored body should be the compressed bytes");
    assert.equal(m.body?.toString("utf8"), body);
    assert.equal(m.tags, "Zipped");
  });

  it("speaks TLS to a stock NameServer and broker (permissive TLS mode, the default)", async () => {
    // A stock server's TLS is RocketMQ's test mode: a self-signed certificate made at start.
    // Verification (the default) refuses it with a clear error; `rejectUnauthorized: false` takes it.
    const verifying = new RocketMQClient({ namesrv, tls: true, requestTimeoutMs: 5000 });
    try {
      await assert.rejects(verifying.admin.getClusterInfo(), (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.match(
          err.message,
          /over TLS: .*self.signed.*not signed by a trusted CA; give the CA that signed it, tls\.ca/,
        );
        return true;
      });
    } finally {
      verifying.close();
    }
    const secure = new RocketMQClient({
      namesrv,
      tls: { rejectUnauthorized: false },
      requestTimeoutMs: 5000,
    });
    try {
      const [queue] = await topicWithQueues("tls", 1);
      assert.ok(queue);
      const sent = await secure
        .producer()
        .send({ topic: queue.topic, body: Buffer.from("over TLS") }, { queue });
      const r = await secure
        .pullConsumer({ group: GROUP })
        .pull({ queue, offset: sent.queueOffset, suspendTimeoutMs: 5000 });
      assert.equal(r.messages[0]?.body?.toString(), "over TLS");
    } finally {
      secure.close();
    }
  });

  it("skips a NameServer address that is down", async () => {
    const withDead = new RocketMQClient({ namesrv: `127.0.0.1:1;${namesrv}`, requestTimeoutMs: 3000 });
    try {
      const info = await withDead.admin.getClusterInfo();
      assert.ok(info.brokers.length >= 1);
      const [queue] = await topicWithQueues("deadns", 1);
      assert.ok(queue);
      const result = await withDead
        .producer()
        .send({ topic: queue.topic, body: Buffer.from("via failover") }, { queue });
      assert.equal(result.status, "SEND_OK");
    } finally {
      withDead.close();
    }
  });

  it("fails a request to a dead address with a clear error within its timeout", async () => {
    const dead = new RocketMQClient({
      namesrv: "127.0.0.1:1",
      requestTimeoutMs: 1500,
      connectTimeoutMs: 1500,
    });
    const started = Date.now();
    try {
      await assert.rejects(dead.admin.getTopicRoute("anything"), (err: unknown) => {
        assert.ok(err instanceof RmqError);
        assert.equal(err.code, "RMQ_CONNECTION");
        assert.match(err.message, /127\.0\.0\.1:1/);
        return true;
      });
      assert.ok(Date.now() - started < 3000);
    } finally {
      dead.close();
    }
  });

  it("fails a request with an unknown topic with a named broker error", async () => {
    await assert.rejects(client.admin.getTopicRoute(uniqueName("missing")), (err: unknown) => {
      assert.ok(err instanceof RmqError);
      assert.equal(err.code, "RMQ_BROKER_TOPIC_NOT_EXIST");
      return true;
    });
  });
});

describe("client across a broker restart", () => {
  const sandbox = useSandbox(1, { dedicated: true });

  it("reconnects to a broker restarted mid-stream and loses nothing it acknowledged", async () => {
    const [cluster] = await sandbox.clusters();
    assert.ok(cluster);
    const client = new RocketMQClient({ namesrv: cluster.namesrv, requestTimeoutMs: 3000 });
    try {
      const topic = uniqueName("restart");
      await client.admin.createTopic({ topic, queueNums: 2 });
      const [queue] = (await client.admin.getTopicRoute(topic, { refresh: true })).writeQueues();
      assert.ok(queue);
      const producer = client.producer();
      const acknowledged: string[] = [];
      let failures = 0;
      let restart: Promise<void> | undefined;
      let restartDone = false;
      const deadlineSend = Date.now() + 120_000;
      // Keep sending while the broker goes down and comes back: sends in the gap fail with
      // retriable errors, and the same client must carry on once the broker is back.
      for (let i = 0; (acknowledged.length < 60 || !restartDone) && Date.now() < deadlineSend; i++) {
        if (acknowledged.length === 30 && !restart) {
          restart = cluster.restartBroker().then(() => {
            restartDone = true;
          });
        }
        const body = `m-${i}`;
        try {
          await producer.send({ topic, body: Buffer.from(body) }, { queue });
          acknowledged.push(body);
        } catch (err) {
          assert.ok(
            err instanceof RmqError && err.retriable,
            `unexpected non-retriable error ${String(err)}`,
          );
          failures++;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      await restart;
      assert.ok(restartDone, "the broker restart did not finish");
      assert.ok(failures > 0, "no send failed: the broker was never seen down");
      assert.ok(acknowledged.length >= 60, "sending did not resume after the restart");
      const consumer = client.pullConsumer({ group: GROUP });
      const got: string[] = [];
      let next = 0n;
      const deadline = Date.now() + 20_000;
      while (got.length < acknowledged.length && Date.now() < deadline) {
        const r = await consumer.pull({ queue, offset: next, suspendTimeoutMs: 1000 });
        got.push(...r.messages.map((m) => m.body?.toString() ?? ""));
        next = r.nextBeginOffset;
      }
      // Every acknowledged message is there, in order; a send that failed may or may not be.
      const acked = new Set(acknowledged);
      assert.deepEqual(
        got.filter((b) => acked.has(b)),
        acknowledged,
      );
      console.log(`# restart: ${failures} sends failed while the broker was down`);
    } finally {
      client.close();
    }
  });
});
