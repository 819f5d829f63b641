/**
 * Replication between two real RocketMQ clusters: nothing lost, order per queue kept, bytes and
 * metadata unchanged, filters and routes honoured, progress resumed, no loops.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import type { MessageQueue } from "../../src/client/types.js";
import { ReplicationEngine } from "../../src/connector/engine.js";
import type { MessageExt } from "../../src/protocol/message.js";
import { Provenance, parsePosition } from "../../src/connector/message-mapping.js";
import { resolveVersion } from "../../src/sandbox/index.js";
import { uniqueName } from "../helpers/sandbox.js";
import {
  readTopic,
  recordingLogger,
  replicatedTotal,
  testConfig,
  waitForStatus,
  useReplicationClusters,
} from "../helpers/replication.js";

/** Timer messages need 5.x's timer wheel (the sandbox enables it); 4.x has none. */
const TIMERS_UNSUPPORTED = resolveVersion().startsWith("4.")
  ? "RocketMQ 4.x has no timer wheel (TIMER_DELIVER_MS / TIMER_DELAY_SEC are 5.x)"
  : false;

describe("replication A -> B", () => {
  const env = useReplicationClusters();
  const { sandbox, startEngine } = env;
  let a: RocketMQClient;
  let b: RocketMQClient;
  let clusters: Record<string, string>;
  before(() => ({ a, b, clusters } = env.clients()));

  async function sourceTopic(
    prefix: string,
    queueNums = 8,
  ): Promise<{ topic: string; queues: MessageQueue[] }> {
    const topic = uniqueName(prefix);
    await a.admin.createTopic({ topic, queueNums });
    return { topic, queues: (await a.admin.getTopicRoute(topic, { refresh: true })).writeQueues() };
  }

  it("replicates 8 queues byte-identical with tags, keys, properties and flag, in order per queue", async () => {
    const { topic, queues } = await sourceTopic("fidelity");
    const producer = a.producer();
    const perQueue = 40;
    const sent = new Map<
      number,
      {
        body: Buffer;
        tags: string;
        keys: string;
        props: Record<string, string>;
        flag: number;
        uniq: string;
      }[]
    >();
    await Promise.all(
      queues.map(async (queue) => {
        const list: {
          body: Buffer;
          tags: string;
          keys: string;
          props: Record<string, string>;
          flag: number;
          uniq: string;
        }[] = [];
        for (let i = 0; i < perQueue; i += 10) {
          const batch = Array.from({ length: 10 }, (_, j) => ({
            topic,
            body: randomBytes(64 + ((i + j) % 7) * 100),
            tags: `Tag${(i + j) % 3}`,
            keys: `order-${queue.queueId}-${i + j}`,
            properties: { région: `é-${i + j}`, idx: String(i + j) },
            flag: (i + j) % 4,
          }));
          // Half single sends, half batches: both paths must replicate the same way.
          if (i % 20 === 0) {
            const r = await producer.sendBatch(batch, { queue });
            batch.forEach((m, j) =>
              list.push({
                body: m.body,
                tags: m.tags,
                keys: m.keys,
                props: m.properties,
                flag: m.flag,
                uniq: r.uniqKeys[j] as string,
              }),
            );
          } else {
            for (const m of batch) {
              const r = await producer.send(m, { queue });
              list.push({
                body: m.body,
                tags: m.tags,
                keys: m.keys,
                props: m.properties,
                flag: m.flag,
                uniq: r.uniqKeys[0] as string,
              });
            }
          }
        }
        sent.set(queue.queueId, list);
      }),
    );
    const engine = await startEngine(testConfig(uniqueName("c"), clusters, [{ from: "a", to: "b", topic }]));
    const total = queues.length * perQueue;
    await waitForStatus(engine, () => replicatedTotal(engine) >= total);
    const got = await readTopic(b, topic, { expected: total });
    for (const queue of queues) {
      const expected = sent.get(queue.queueId) ?? [];
      const actual = got.get(queue.queueId) ?? [];
      assert.equal(
        actual.length,
        expected.length,
        `queue ${queue.queueId}: ${actual.length} of ${expected.length} arrived`,
      );
      actual.forEach((m, i) => {
        const e = expected[i];
        assert.ok(e);
        assert.ok(
          m.body && Buffer.compare(m.body, e.body) === 0,
          `queue ${queue.queueId} message ${i}: body differs or out of order`,
        );
        assert.equal(m.tags, e.tags);
        assert.deepEqual(m.keys, [e.keys]);
        assert.equal(m.properties["région"], e.props["région"]);
        assert.equal(m.properties["idx"], e.props["idx"]);
        assert.equal(m.flag, e.flag);
        assert.equal(m.uniqKey, e.uniq, "the source UNIQ_KEY is kept");
        const source = parsePosition(m.properties[Provenance.SOURCE] ?? "");
        assert.ok(source, "provenance names the source position");
        assert.equal(source.cluster, "a");
        assert.equal(source.topic, topic);
        assert.equal(source.queueId, queue.queueId);
        assert.equal(source.queueOffset, BigInt(i));
        assert.equal(m.properties[Provenance.PATH], "a");
      });
    }
    // Progress is committed to the connector's group on the source.
    await waitForStatus(engine, (s) => s.queues.every((q) => q.committedOffset === BigInt(perQueue)));
    for (const queue of queues) {
      assert.equal(await a.admin.queryConsumerOffset(engine.group, queue), BigInt(perQueue));
    }
    await waitForStatus(engine, (s) => s.queues.every((q) => q.lagMessages === 0n));
  });

  it("shows its lag in mqadmin consumerProgress like any consumer group", async () => {
    const { topic, queues } = await sourceTopic("progress", 2);
    for (let i = 0; i < 6; i++)
      await a
        .producer()
        .send({ topic, body: Buffer.from(`p${i}`) }, { queue: queues[i % 2] as MessageQueue });
    const engine = await startEngine(testConfig(uniqueName("c"), clusters, [{ from: "a", to: "b", topic }]));
    await waitForStatus(
      engine,
      (s) => s.queues.length === 2 && s.queues.every((q) => q.committedOffset === 3n),
    );
    const output = await sandbox.mqadmin([
      "consumerProgress",
      "-n",
      clusters["a"] as string,
      "-g",
      engine.group,
    ]);
    const rows = output.split("\n").filter((l) => l.startsWith(topic));
    assert.equal(rows.length, 2, `expected one row per queue:\n${output}`);
    for (const row of rows) {
      // #Topic #Broker Name #QID #Broker Offset #Consumer Offset #Diff ...
      const [, , , brokerOffset, consumerOffset, diff] = row.trim().split(/\s+/);
      assert.equal(brokerOffset, "3");
      assert.equal(consumerOffset, "3");
      assert.equal(diff, "0");
    }
  });

  it("keeps the source born timestamp and passes a compressed body through compressed", async () => {
    const { topic, queues } = await sourceTopic("compressed", 1);
    const queue = queues[0] as MessageQueue;
    const body = `${"compress me please ".repeat(400)}!`;
    await sandbox.mqadmin([
      "sendMessage",
      "-n",
      clusters["a"] as string,
      "-t",
      topic,
      "-p",
      body,
      "-c",
      "Big",
      "-b",
      queue.brokerName,
      "-i",
      "0",
    ]);
    const bornAt = Date.now() - 60_000;
    await a.producer().send({ topic, body: Buffer.from("small"), bornTimestamp: bornAt }, { queue });
    const engine = await startEngine(testConfig(uniqueName("c"), clusters, [{ from: "a", to: "b", topic }]));
    await waitForStatus(engine, () => replicatedTotal(engine) >= 2);
    const got = (await readTopic(b, topic, { expected: 2 })).get(0) ?? [];
    assert.equal(got.length, 2);
    const [big, small] = got as [(typeof got)[0], (typeof got)[0]];
    assert.equal(big.sysFlag & 1, 1, "the compressed body stays compressed on the target");
    assert.equal(big.body?.toString(), body);
    assert.equal(big.tags, "Big");
    assert.equal(small.bornTimestamp, bornAt);
  });

  it("filters by tag expression and still commits past filtered messages", async () => {
    const { topic, queues } = await sourceTopic("tagfilter", 2);
    const producer = a.producer();
    const tags = ["TagA", "TagB", "TagC"];
    for (let i = 0; i < 30; i++) {
      await producer.send(
        { topic, body: Buffer.from(`m${i}`), tags: tags[i % 3] },
        { queue: queues[i % 2] as MessageQueue },
      );
    }
    const engine = await startEngine(
      testConfig(uniqueName("c"), clusters, [{ from: "a", to: "b", topic, tags: "TagA || TagC" }]),
    );
    await waitForStatus(engine, (s) => s.queues.length === 2 && s.queues.every((q) => q.ackedOffset === 15n));
    const got = [...(await readTopic(b, topic, { expected: 20 })).values()].flat();
    assert.equal(got.length, 20);
    assert.ok(got.every((m) => m.tags === "TagA" || m.tags === "TagC"));
  });

  it("replicates the topics a regex selects under a template name, including one created while running", async () => {
    const prefix = uniqueName("pay");
    const first = `${prefix}-one`;
    await a.admin.createTopic({ topic: first, queueNums: 2 });
    await a.producer().send({ topic: first, body: Buffer.from("first") });
    const engine = await startEngine(
      testConfig(uniqueName("c"), clusters, [
        { from: "a", to: "b", topic: new RegExp(`^${prefix}-.*`), targetTopic: (t) => `east_${t}` },
      ]),
    );
    await waitForStatus(engine, () => replicatedTotal(engine) >= 1);
    const second = `${prefix}-two`;
    await a.admin.createTopic({ topic: second, queueNums: 4 });
    await waitForStatus(engine, (s) => s.queues.some((q) => q.sourceTopic === second), 20_000);
    await a.producer().send({ topic: second, body: Buffer.from("second") });
    await waitForStatus(engine, () => replicatedTotal(engine) >= 2);
    const one = [...(await readTopic(b, `east_${first}`, { expected: 1 })).values()].flat();
    const two = [...(await readTopic(b, `east_${second}`, { expected: 1 })).values()].flat();
    assert.deepEqual(
      one.map((m) => m.body?.toString()),
      ["first"],
    );
    assert.deepEqual(
      two.map((m) => m.body?.toString()),
      ["second"],
    );
    const targetQueues = (await b.admin.getTopicRoute(`east_${second}`)).writeQueues();
    assert.equal(targetQueues.length, 4, "the target topic is created with the source's queue count");
  });

  it("starts at latest by default, pinning it so nothing after the pin is skipped", async () => {
    const { topic, queues } = await sourceTopic("latest", 2);
    const producer = a.producer();
    for (let i = 0; i < 10; i++)
      await producer.send({ topic, body: Buffer.from(`old-${i}`) }, { queue: queues[i % 2] as MessageQueue });
    const config = testConfig(uniqueName("c"), clusters, [
      { from: "a", to: "b", topic, start: { kind: "latest" } },
    ]);
    const engine = await startEngine(config);
    await waitForStatus(engine, (s) => s.queues.length === 2);
    assert.deepEqual(
      await Promise.all(queues.map((q) => a.admin.queryConsumerOffset(engine.group, q))),
      [5n, 5n],
      "latest is committed at once",
    );
    for (let i = 0; i < 6; i++)
      await producer.send({ topic, body: Buffer.from(`new-${i}`) }, { queue: queues[i % 2] as MessageQueue });
    await waitForStatus(engine, () => replicatedTotal(engine) >= 6);
    const got = [...(await readTopic(b, topic, { expected: 6 })).values()]
      .flat()
      .map((m) => m.body?.toString());
    assert.deepEqual(got.sort(), ["new-0", "new-1", "new-2", "new-3", "new-4", "new-5"]);
  });

  it("starts at a timestamp: exactly the messages stored at or after it, per queue", async () => {
    const { topic, queues } = await sourceTopic("timestamp", 4);
    const producer = a.producer();
    // Rounds over four queues of single sends and batches (a batch shares one store time), so
    // times repeat within a queue and interleave across queues around the chosen time.
    for (let round = 0; round < 5; round++) {
      for (const [i, queue] of queues.entries()) {
        await producer.send({ topic, body: Buffer.from(`r${round}-q${i}-s`) }, { queue });
        await producer.sendBatch(
          Array.from({ length: 3 }, (_, k) => ({ topic, body: Buffer.from(`r${round}-q${i}-b${k}`) })),
          { queue },
        );
      }
    }
    const stored = await readTopic(a, topic, { expected: 80 });
    const times = [...new Set([...stored.values()].flat().map((m) => m.storeTimestamp))].sort(
      (x, y) => x - y,
    );
    // A time that is some message's store time exactly (inclusive boundary), mid-traffic.
    const at = times[Math.floor(times.length / 2)] as number;
    const expected = new Map<number, string[]>();
    for (const [queueId, messages] of stored) {
      assert.equal(messages.length, 20);
      const after = messages.filter((m) => m.storeTimestamp >= at);
      assert.ok(
        after.length > 0 && after.length < messages.length,
        `queue ${queueId} has messages on both sides of ${at}: ${messages.map((m) => m.storeTimestamp).join(",")}`,
      );
      expected.set(
        queueId,
        after.map((m) => `${m.queueOffset}:${m.body?.toString()}`),
      );
    }
    const total = [...expected.values()].reduce((n, l) => n + l.length, 0);
    const engine = await startEngine(
      testConfig(uniqueName("c"), clusters, [
        { from: "a", to: "b", topic, start: { kind: "timestamp", timestampMs: at } },
      ]),
    );
    await waitForStatus(engine, () => replicatedTotal(engine) >= total);
    const got = new Map<number, string[]>();
    for (const m of [...(await readTopic(b, topic, { expected: total })).values()].flat()) {
      const source = parsePosition(m.properties[Provenance.SOURCE] ?? "");
      assert.ok(source, "every replicated message names its source position");
      assert.ok(
        Number(m.properties[Provenance.SOURCE_STORE_MS]) >= at,
        "stored at the source at or after the start",
      );
      got.set(source.queueId, [
        ...(got.get(source.queueId) ?? []),
        `${source.queueOffset}:${m.body?.toString()}`,
      ]);
    }
    assert.deepEqual(
      got,
      expected,
      "per source queue: exactly the messages stored at or after the time, in order",
    );
  });

  it("resumes after a stop from its commits: nothing lost, nothing twice", async () => {
    const { topic, queues } = await sourceTopic("resume", 4);
    const producer = a.producer();
    const name = uniqueName("c");
    const config = testConfig(name, clusters, [{ from: "a", to: "b", topic, start: { kind: "latest" } }]);
    const first = await startEngine(config);
    await waitForStatus(first, (s) => s.queues.length === 4);
    for (let i = 0; i < 40; i++)
      await producer.send({ topic, body: Buffer.from(`one-${i}`) }, { queue: queues[i % 4] as MessageQueue });
    await waitForStatus(first, () => replicatedTotal(first) >= 40);
    await first.stop();
    // Arrives while the connector is down; a latest start must not skip it after a restart.
    for (let i = 0; i < 40; i++)
      await producer.send({ topic, body: Buffer.from(`two-${i}`) }, { queue: queues[i % 4] as MessageQueue });
    const second = await startEngine(
      testConfig(name, clusters, [{ from: "a", to: "b", topic, start: { kind: "latest" } }]),
    );
    await waitForStatus(second, () => replicatedTotal(second) >= 40);
    const got = [...(await readTopic(b, topic, { expected: 80 })).values()]
      .flat()
      .map((m) => m.body?.toString() ?? "");
    const expected = [
      ...Array.from({ length: 40 }, (_, i) => `one-${i}`),
      ...Array.from({ length: 40 }, (_, i) => `two-${i}`),
    ];
    assert.deepEqual([...got].sort(), [...expected].sort(), "lost or duplicated messages across the restart");
  });

  it("stop() lets a slow periodic commit finish, then commits the final position", async () => {
    const { topic, queues } = await sourceTopic("slow-commit", 1);
    const queue = queues[0] as MessageQueue;
    const producer = a.producer();
    const engine = env.track(
      new ReplicationEngine(
        testConfig(uniqueName("c"), clusters, [{ from: "a", to: "b", topic }]),
        recordingLogger(),
      ),
    );
    // From `holding` on, commit calls at the source wait for release(); the commit stop() makes
    // itself is not held. stop() must not return, and close the clients, while one waits.
    const admin = engine.client("a").admin;
    const update = admin.updateConsumerOffset.bind(admin);
    let holding = false;
    let inFlight = 0;
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    admin.updateConsumerOffset = async (...args) => {
      inFlight++;
      try {
        if (holding) await released;
        return await update(...args);
      } finally {
        inFlight--;
      }
    };
    try {
      await engine.start();
      for (let i = 0; i < 10; i++) await producer.send({ topic, body: Buffer.from(`m-${i}`) }, { queue });
      await waitForStatus(engine, (s) => s.queues[0]?.committedOffset === 10n);
      holding = true;
      for (let i = 10; i < 20; i++) await producer.send({ topic, body: Buffer.from(`m-${i}`) }, { queue });
      // The next periodic commit moves the position past 10, and is held.
      await waitForStatus(engine, () => replicatedTotal(engine) >= 20 && inFlight > 0);
      holding = false;
      setTimeout(release, 1000);
      await engine.stop();
    } finally {
      release();
    }
    assert.equal(inFlight, 0, "no commit is left in flight after stop()");
    assert.equal(engine.status().queues[0]?.committedOffset, 20n);
    assert.equal(
      await a.admin.queryConsumerOffset(engine.group, queue),
      20n,
      "the final position is committed",
    );
  });

  it(
    "replicates a timer message once, only after its delivery at the source, and does not re-arm it",
    { skip: TIMERS_UNSUPPORTED },
    async () => {
      const { topic, queues } = await sourceTopic("timer", 1);
      const queue = queues[0] as MessageQueue;
      const engine = await startEngine(
        testConfig(uniqueName("c"), clusters, [{ from: "a", to: "b", topic }]),
      );
      await waitForStatus(engine, (s) => s.queues.length === 1);
      const producer = a.producer();
      const delaySec = 5;
      const sentAtMs = Date.now();
      const deliverMs = sentAtMs + delaySec * 1000;
      // An absolute time (what the Java client's setDeliverTimeMs sets) and a delay in seconds
      // (setDelayTimeSec), both the timer wheel's; then a plain message, delivered at once.
      const timers = [
        await producer.send(
          { topic, body: Buffer.from("at-time"), properties: { TIMER_DELIVER_MS: String(deliverMs) } },
          { queue },
        ),
        await producer.send(
          { topic, body: Buffer.from("delayed"), properties: { TIMER_DELAY_SEC: String(delaySec) } },
          { queue },
        ),
      ].map((r) => r.uniqKeys[0] as string);
      await producer.send({ topic, body: Buffer.from("plain") }, { queue });

      // The route runs while the timers wait: the plain message arrives, the timed ones do not.
      await waitForStatus(engine, () => replicatedTotal(engine) >= 1);
      const early = [...(await readTopic(b, topic, { expected: 1, quietMs: 300 })).values()].flat();
      assert.ok(Date.now() < deliverMs, "the check before the delivery time ran before it");
      assert.deepEqual(
        early.map((m) => m.body?.toString()),
        ["plain"],
        "nothing timed reaches the target before its delivery time",
      );

      await waitForStatus(engine, () => replicatedTotal(engine) >= 3, delaySec * 1000 + 30_000);
      const onSource = [...(await readTopic(a, topic, { expected: 3 })).values()].flat();
      const onTarget = [...(await readTopic(b, topic, { expected: 3 })).values()].flat();
      const bodies = (list: MessageExt[]): (string | undefined)[] => list.map((m) => m.body?.toString());
      assert.deepEqual(bodies(onSource).slice(0, 1), ["plain"], "the source delivered the timed ones later");
      assert.deepEqual(bodies(onTarget), bodies(onSource), "each message once, in the source queue's order");
      assert.deepEqual(bodies(onTarget).sort(), ["at-time", "delayed", "plain"]);
      for (const uniq of timers) {
        const source = onSource.find((m) => m.uniqKey === uniq);
        const target = onTarget.find((m) => m.uniqKey === uniq);
        assert.ok(source && target, `timer message ${uniq} is on both sides`);
        assert.ok(
          source.storeTimestamp >= deliverMs,
          `the source delivered it at ${source.storeTimestamp}, not before ${deliverMs}`,
        );
        assert.ok(
          Object.keys(source.properties).some((k) => k.startsWith("TIMER_")),
          "the source's delivered copy carries timer properties (so there is something to re-arm)",
        );
        assert.equal(Number(target.properties[Provenance.SOURCE_STORE_MS]), source.storeTimestamp);
        const timerProperties = Object.keys(target.properties).filter((k) => k.startsWith("TIMER_"));
        assert.deepEqual(timerProperties, [], "no timer property reaches the target");
        // Re-armed, the target would hold it another delaySec before storing it in the topic.
        assert.ok(
          target.storeTimestamp - source.storeTimestamp < 2000,
          `stored on the target ${target.storeTimestamp - source.storeTimestamp} ms after the source delivered it`,
        );
      }
    },
  );

  it("replicates A <-> B with the same topic name without a loop", async () => {
    const topic = uniqueName("bidi");
    await a.admin.createTopic({ topic, queueNums: 2 });
    await b.admin.createTopic({ topic, queueNums: 2 });
    const engine = await startEngine(
      testConfig(uniqueName("c"), clusters, [
        { from: "a", to: "b", topic },
        { from: "b", to: "a", topic },
      ]),
    );
    await waitForStatus(engine, (s) => s.queues.length === 4);
    for (let i = 0; i < 10; i++) {
      await a.producer().send({ topic, body: Buffer.from(`from-a-${i}`) });
      await b.producer().send({ topic, body: Buffer.from(`from-b-${i}`) });
    }
    await waitForStatus(engine, (s) => s.queues.reduce((n, q) => n + q.loopSkippedMessages, 0) >= 20);
    // Give a loop, if there were one, time to show itself.
    await new Promise((r) => setTimeout(r, 2000));
    const onA = [...(await readTopic(a, topic, { expected: 20 })).values()]
      .flat()
      .map((m) => m.body?.toString() ?? "");
    const onB = [...(await readTopic(b, topic, { expected: 20 })).values()]
      .flat()
      .map((m) => m.body?.toString() ?? "");
    const all = [
      ...Array.from({ length: 10 }, (_, i) => `from-a-${i}`),
      ...Array.from({ length: 10 }, (_, i) => `from-b-${i}`),
    ].sort();
    assert.deepEqual([...onA].sort(), all);
    assert.deepEqual([...onB].sort(), all);
    assert.equal(replicatedTotal(engine), 20);
  });
});
