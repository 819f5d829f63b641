/**
 * Replication when things go wrong: a message the target refuses for good, and a target broker
 * restarted mid-stream.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import type { MessageQueue } from "../../src/client/types.js";
import { ReplicationEngine } from "../../src/connector/engine.js";
import { useSandbox, uniqueName } from "../helpers/sandbox.js";
import {
  poisonProperties,
  readTopic,
  recordingLogger,
  replicatedTotal,
  testConfig,
  waitForStatus,
  useReplicationClusters,
} from "../helpers/replication.js";

describe("replication faults", () => {
  const env = useReplicationClusters();
  const { startEngine } = env;
  let a: RocketMQClient;
  let b: RocketMQClient;
  let clusters: Record<string, string>;
  before(() => ({ a, b, clusters } = env.clients()));

  async function setup(prefix: string): Promise<{ topic: string; queues: MessageQueue[] }> {
    const topic = uniqueName(prefix);
    await a.admin.createTopic({ topic, queueNums: 2 });
    const queues = (await a.admin.getTopicRoute(topic, { refresh: true })).writeQueues();
    const producer = a.producer();
    const [q0, q1] = queues as [MessageQueue, MessageQueue];
    for (let i = 0; i < 3; i++) await producer.send({ topic, body: Buffer.from(`q0-${i}`) }, { queue: q0 });
    await producer.send(
      { topic, body: Buffer.from("poison"), properties: poisonProperties() },
      { queue: q0 },
    );
    for (let i = 4; i < 7; i++) await producer.send({ topic, body: Buffer.from(`q0-${i}`) }, { queue: q0 });
    for (let i = 0; i < 5; i++) await producer.send({ topic, body: Buffer.from(`q1-${i}`) }, { queue: q1 });
    return { topic, queues };
  }

  it("stops a queue at a message the target refuses for good, naming topic, queue and offset", async () => {
    const { topic } = await setup("poison");
    const engine = await startEngine(testConfig(uniqueName("c"), clusters, [{ from: "a", to: "b", topic }]));
    await waitForStatus(
      engine,
      (s) => s.queues.some((q) => q.state === "failed") && replicatedTotal(engine) >= 8,
    );
    const status = engine.status();
    const q0 = status.queues.find((q) => q.queueId === 0);
    const q1 = status.queues.find((q) => q.queueId === 1);
    assert.ok(q0 && q1);
    assert.equal(q0.state, "failed");
    assert.equal(q0.ackedOffset, 3n, "the queue stops at the refused message, not after it");
    assert.match(q0.lastError?.message ?? "", new RegExp(`offset 3 of ${topic} \\S+#0`));
    assert.match(q0.lastError?.message ?? "", /MESSAGE_ILLEGAL|too long|32767/i);
    assert.equal(q1.state, "running", "other queues go on");
    await waitForStatus(engine, (s) =>
      s.queues.every((q) => q.committedOffset === (q.queueId === 0 ? 3n : 5n)),
    );
    const got = await readTopic(b, topic, { expected: 8 });
    assert.deepEqual(
      got.get(0)?.map((m) => m.body?.toString()),
      ["q0-0", "q0-1", "q0-2"],
    );
    assert.equal(got.get(1)?.length, 5);
  });

  it("sends a refused message to the route's dead-letter topic and goes on", async () => {
    const { topic } = await setup("deadletter");
    const dlq = `${topic}-dlq`;
    const engine = await startEngine(
      testConfig(uniqueName("c"), clusters, [{ from: "a", to: "b", topic, deadLetterTopic: dlq }]),
    );
    await waitForStatus(engine, () => replicatedTotal(engine) >= 11);
    const q0 = engine.status().queues.find((q) => q.queueId === 0);
    assert.equal(q0?.deadLetteredMessages, 1);
    assert.equal(q0?.ackedOffset, 7n);
    const got = await readTopic(b, topic, { expected: 11 });
    assert.deepEqual(
      got.get(0)?.map((m) => m.body?.toString()),
      ["q0-0", "q0-1", "q0-2", "q0-4", "q0-5", "q0-6"],
    );
    const dead = [...(await readTopic(b, dlq, { expected: 1 })).values()].flat();
    assert.equal(dead.length, 1);
    assert.equal(dead[0]?.body?.toString(), "poison");
    assert.equal(dead[0]?.tags, "Poison");
    assert.ok(dead[0]?.properties["RMQC_DLQ_REASON"]);
    assert.equal(dead[0]?.properties["RMQC_DLQ_PROPERTIES_DROPPED"], "true");
    assert.equal(dead[0]?.properties["KEYS"], "k\u0001z", "kept byte for byte");
    assert.equal(dead[0]?.properties["RMQC_PATH"], "a");
    assert.equal(dead[0]?.properties["pad"], undefined);
    assert.equal(dead[0]?.properties["RMQC_SOURCE"]?.endsWith("/0/3"), true);
  });
});

describe("replication across a target broker restart", () => {
  const sandbox = useSandbox(2, { dedicated: true });

  it("loses nothing when the target broker restarts mid-stream (duplicates are counted)", async () => {
    const [ca, cb] = await sandbox.clusters();
    assert.ok(ca && cb);
    const a = new RocketMQClient({ namesrv: ca.namesrv });
    const b = new RocketMQClient({ namesrv: cb.namesrv });
    const topic = uniqueName("restart");
    const engine = new ReplicationEngine(
      testConfig(uniqueName("c"), { a: ca.namesrv, b: cb.namesrv }, [{ from: "a", to: "b", topic }]),
      recordingLogger(),
    );
    try {
      await a.admin.createTopic({ topic, queueNums: 4 });
      const queues = (await a.admin.getTopicRoute(topic, { refresh: true })).writeQueues();
      await engine.start();
      await waitForStatus(engine, (s) => s.queues.length === 4);
      const producer = a.producer();
      const sent: string[] = [];
      let restart: Promise<void> | undefined;
      for (let i = 0; i < 600; i++) {
        const body = `m-${i}`;
        await producer.send({ topic, body: Buffer.from(body) }, { queue: queues[i % 4] as MessageQueue });
        sent.push(body);
        if (i === 200) restart = cb.restartBroker();
        if (i % 20 === 0) await new Promise((r) => setTimeout(r, 20));
      }
      await restart;
      await waitForStatus(engine, (s) => s.queues.every((q) => q.ackedOffset === 150n), 120_000);
      const got = [...(await readTopic(b, topic, { expected: sent.length, timeoutMs: 60_000 })).values()]
        .flat()
        .map((m) => m.body?.toString() ?? "");
      const counts = new Map<string, number>();
      for (const body of got) counts.set(body, (counts.get(body) ?? 0) + 1);
      const missing = sent.filter((s) => !counts.has(s));
      const duplicates = [...counts.values()].filter((n) => n > 1).length;
      console.log(
        `# target restart: ${sent.length} sent, ${got.length} on target, ${missing.length} missing, ${duplicates} duplicated`,
      );
      assert.deepEqual(missing, [], "messages lost across the target restart");
      const errors = engine.status().queues.reduce((n, q) => n + (q.errorsByKind["send"] ?? 0), 0);
      assert.ok(errors > 0, "the restart was not seen by the engine (no send failed)");
    } finally {
      await engine.stop({ drain: false });
      a.close();
      b.close();
    }
  });
});
