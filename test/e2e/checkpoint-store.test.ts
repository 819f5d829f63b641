/**
 * The exactly-once checkpoint kept as messages in the target cluster, against real brokers
 * (5.5.0, and 4.9.7 in the driver's second pass): topic creation, round trips over all checkpoint
 * queues, the newest record winning, bad and foreign records skipped, old records still found, and a
 * record read back at once after it was written; and the at-least-once checkpoint (consumer offsets)
 * keeping every queue of a first save made side by side.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Logger } from "../../src/client/logger.js";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import {
  CheckpointStore,
  checkpointTopic,
  sourceKey,
  type CheckpointRecord,
  type SourceQueueId,
} from "../../src/connector/checkpoint-store.js";
import { ConsumerOffsetCheckpoint } from "../../src/connector/checkpoint.js";
import { RmqError } from "../../src/protocol/errors.js";
import { queueKey } from "../../src/client/types.js";
import { resolveVersion } from "../../src/sandbox/index.js";
import { uniqueName, useSandbox } from "../helpers/sandbox.js";

interface Logged {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}

function capturingLogger(): Logger & { lines: Logged[] } {
  const lines: Logged[] = [];
  const at =
    (level: string) =>
    (fields: object, message: string): void => {
      lines.push({ level, fields: fields as Record<string, unknown>, message });
    };
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

function sources(n: number, cluster = "east"): SourceQueueId[] {
  return Array.from({ length: n }, (_, i) => ({
    cluster,
    topic: i % 2 === 0 ? "orders" : "pay/ments",
    broker: `src-${i % 3}`,
    queueId: i,
  }));
}

function record(
  writer: string,
  source: SourceQueueId,
  next: bigint,
  writtenAtMs = Date.now(),
): CheckpointRecord {
  return {
    v: 1,
    writer,
    source,
    nextSourceOffset: next,
    fingerprint:
      next === 0n
        ? undefined
        : { offset: next - 1n, storeMs: 1_764_740_000_000 + Number(next), bodyCrc: Number(next % 1000n) },
    targets: [
      { topic: "orders-copy", broker: "dst-a", queueId: source.queueId % 4, watermark: next * 2n },
      { topic: "%DLQ%conn", broker: "dst-a", queueId: 0, watermark: next },
    ],
    writtenAtMs,
  };
}

describe(`checkpoint store against RocketMQ ${resolveVersion()}`, () => {
  const sandbox = useSandbox(1);
  let client: RocketMQClient;

  before(async () => {
    const [cluster] = await sandbox.clusters();
    assert.ok(cluster);
    client = new RocketMQClient({ namesrv: cluster.namesrv, requestTimeoutMs: 5000 });
  });
  after(() => client?.close());

  async function store(options: { name?: string; logger?: Logger } = {}) {
    const name = options.name ?? uniqueName("ckpt");
    const s = new CheckpointStore({
      client,
      connectorName: name,
      logger: options.logger ?? capturingLogger(),
    });
    await s.ensureTopic();
    return s;
  }

  it("ensureTopic creates queueCount queues on every master and is idempotent", async () => {
    const name = uniqueName("ckpt-topic");
    const s = await store({ name });
    assert.equal(s.topic, checkpointTopic(name));
    await s.ensureTopic();
    await s.ensureTopic();
    const route = await client.admin.getTopicRoute(s.topic, { refresh: true });
    const masters = (await client.admin.getClusterInfo()).brokers.length;
    assert.equal(route.data.queueDatas.length, masters);
    for (const q of route.data.queueDatas) {
      assert.equal(q.readQueueNums, 8);
      assert.equal(q.writeQueueNums, 8);
    }
    // A topic someone made with too few queues is refused, not changed.
    const small = uniqueName("ckpt-small");
    await client.admin.createTopic({ topic: small, queueNums: 2 });
    const refused = new CheckpointStore({
      client,
      connectorName: name,
      logger: capturingLogger(),
      topic: small,
    });
    await assert.rejects(
      refused.ensureTopic(),
      (err: unknown) =>
        err instanceof RmqError &&
        err.code === "RMQ_EO_CHECKPOINT_TOPIC" &&
        err.message.includes(`${small} has 2 read / 2 write queues`),
    );
    assert.equal(
      (await client.admin.getTopicRoute(small, { refresh: true })).data.queueDatas[0]?.writeQueueNums,
      2,
    );
  });

  it("round-trips 20 source queues over the 8 checkpoint queues; the newer record wins", async () => {
    const s = await store();
    const all = sources(20);
    const used = new Set((await Promise.all(all.map((q) => s.queueOf(q)))).map((q) => q.queueId));
    assert.ok(used.size >= 6, `20 sources should spread over most of 8 queues, used ${used.size}`);
    await s.write(all.map((q, i) => record(s.writer, q, BigInt(100 + i))));
    // Newer records for the even ones, in two writes (two messages per queue).
    await s.write(all.filter((_, i) => i % 2 === 0).map((q, i) => record(s.writer, q, BigInt(500 + i))));
    await s.write(all.filter((_, i) => i % 4 === 0).map((q, i) => record(s.writer, q, BigInt(900 + i))));
    const latest = await s.readLatest(all);
    assert.equal(latest.size, 20);
    all.forEach((q, i) => {
      const expected =
        i % 4 === 0 ? BigInt(900 + i / 4) : i % 2 === 0 ? BigInt(500 + i / 2) : BigInt(100 + i);
      const got = latest.get(sourceKey(q));
      assert.ok(got, `record of ${sourceKey(q)}`);
      assert.deepEqual(got, record(s.writer, q, expected, got.writtenAtMs));
    });
    // Asking for a subset reads only what it needs and returns only that.
    const some = await s.readLatest([
      all[3] as SourceQueueId,
      { cluster: "east", topic: "none", broker: "x", queueId: 0 },
    ]);
    assert.deepEqual([...some.keys()], [sourceKey(all[3] as SourceQueueId)]);
  });

  it("skips records that do not parse and records of another writer, with a warning naming queue and offset", async () => {
    const logger = capturingLogger();
    const s = await store({ logger });
    const writer = s.writer;
    const [a, b] = sources(2);
    assert.ok(a && b);
    await s.write([record(writer, a, 10n), record(writer, b, 20n)]);
    const qa = await s.queueOf(a);
    const producer = client.producer();
    // After ours, in a's queue: garbage, JSON of another version, a record missing a field,
    // and another connector's record for the same source with a higher offset.
    const foreign = { ...record("someone-else", a, 99n) };
    const other = new CheckpointStore({
      client,
      connectorName: "someone-else",
      logger: capturingLogger(),
      topic: s.topic,
    });
    await other.write([foreign]);
    for (const body of ["not json {", '{"v":2,"writer":"x"}', JSON.stringify({ v: 1, writer })]) {
      await producer.send({ topic: s.topic, body: Buffer.from(body) }, { queue: qa });
    }
    const latest = await s.readLatest([a, b]);
    assert.equal(latest.get(sourceKey(a))?.nextSourceOffset, 10n);
    assert.equal(latest.get(sourceKey(b))?.nextSourceOffset, 20n);
    const warnings = logger.lines.filter((l) => l.level === "warn");
    assert.equal(warnings.length, 4, warnings.map((w) => w.message).join("\n"));
    for (const w of warnings) {
      assert.equal(w.fields["queueId"], qa.queueId);
      assert.match(w.message, new RegExp(`at offset \\d+ of ${qa.brokerName}#${qa.queueId}`));
    }
    assert.ok(warnings.some((w) => /not JSON/.test(w.message)));
    assert.ok(warnings.some((w) => /version 2/.test(w.message)));
    assert.ok(warnings.some((w) => /field source is not an object/.test(w.message)));
    assert.ok(warnings.some((w) => /writer someone-else/.test(w.message)));
    // The other writer's store sees its own record only.
    assert.equal((await other.readLatest([a])).get(sourceKey(a))?.nextSourceOffset, 99n);
  });

  it("finds a record however much older than the newest of its queue, and stops at the min offset", async () => {
    const s = await store();
    const writer = s.writer;
    const all = sources(40);
    const qa = await s.queueOf(all[0] as SourceQueueId);
    const sameQueue = [];
    for (const q of all) if ((await s.queueOf(q)).queueId === qa.queueId) sameQueue.push(q);
    assert.ok(sameQueue.length >= 3, "three sources in one checkpoint queue");
    const [stale, fresh, never] = sameQueue as [SourceQueueId, SourceQueueId, SourceQueueId];
    const now = Date.now();
    await s.write([record(writer, stale, 5n, now - 5 * 60_000)]);
    await s.write([record(writer, fresh, 7n, now - 30_000)]);
    await s.write([record(writer, fresh, 8n, now)]);
    // A source whose record stopped being rewritten (its queue failed safe, or was not owned for
    // a while) must not look like a first start: its old record is still found.
    const found = await s.readLatest([stale, fresh, never]);
    assert.deepEqual([...found.keys()].sort(), [sourceKey(stale), sourceKey(fresh)].sort());
    assert.equal(found.get(sourceKey(stale))?.nextSourceOffset, 5n);
    assert.equal(found.get(sourceKey(fresh))?.nextSourceOffset, 8n);
    // `never` is absent: the read went down to the min offset.
  });

  it("reads back a record written immediately before, every round (the dispatch wait)", async () => {
    const s = await store();
    const writer = s.writer;
    const all = sources(8);
    for (let round = 1; round <= 30; round++) {
      await s.write(all.map((q) => record(writer, q, BigInt(round * 1000 + q.queueId))));
      const latest = await s.readLatest(all);
      for (const q of all) {
        assert.equal(
          latest.get(sourceKey(q))?.nextSourceOffset,
          BigInt(round * 1000 + q.queueId),
          `round ${round}, ${sourceKey(q)}`,
        );
      }
    }
  });

  it("an empty checkpoint topic and an empty request give empty maps", async () => {
    const s = await store();
    assert.equal((await s.readLatest(sources(5))).size, 0);
    assert.equal((await s.readLatest([])).size, 0);
    await s.write([]);
  });

  it("keeps every queue of a first save made side by side (the broker's table creation races)", async () => {
    // The broker creates a topic@group offset table with get-then-put: two first commits at once
    // each make a table and one offset is dropped. Every round is a fresh group, so a first save.
    const topic = uniqueName("ckpt-offsets");
    await client.admin.createTopic({ topic, queueNums: 8 });
    const queues = (await client.admin.getTopicRoute(topic, { refresh: true })).writeQueues();
    for (let round = 0; round < 20; round++) {
      const group = uniqueName("ckpt-group");
      await client.admin.createSubscriptionGroup({ group });
      const checkpoint = new ConsumerOffsetCheckpoint(client.admin, group);
      const offsets = queues.map((_, i) => BigInt(round * 100 + i + 1));
      // Separate saves at once, as queues taken together each pin their start.
      await Promise.all(
        queues.map((queue, i) =>
          checkpoint.save([
            {
              queue,
              position: { nextSourceOffset: offsets[i] as bigint, targets: [], fingerprint: undefined },
            },
          ]),
        ),
      );
      const loaded = await checkpoint.load(queues);
      assert.deepEqual(
        queues.map((q) => loaded.get(queueKey(q))?.nextSourceOffset),
        offsets,
        `round ${round}`,
      );
    }
  });
});
