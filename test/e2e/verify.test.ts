/**
 * `verify` against real clusters: a clean replication is reported clean with every message
 * checked; each kind of problem, made on purpose, is reported with its exact count and offsets;
 * filtered messages and another writer's messages are not problems; the CLI's exit codes,
 * summary line and JSON.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RocketMQClient } from "../../src/client/rocketmq-client.js";
import type { Message, MessageQueue } from "../../src/client/types.js";
import { mapMessage, parsePosition, Provenance, pulledFrom } from "../../src/connector/message-mapping.js";
import { verifyRoutes, type QueueVerifyReport, type VerifyReport } from "../../src/connector/verify.js";
import type { MessageExt } from "../../src/protocol/message.js";
import { EncodedProperties, rewriteProperties } from "../../src/protocol/properties.js";
import { runCli } from "../helpers/cli.js";
import {
  readTopic,
  recordingLogger,
  replicatedTotal,
  testConfig,
  useReplicationClusters,
  waitForStatus,
} from "../helpers/replication.js";
import { uniqueName } from "../helpers/sandbox.js";

const PER_QUEUE = 300;
const QUEUES = 8;

describe("verify", () => {
  const env = useReplicationClusters();
  let a: RocketMQClient;
  let b: RocketMQClient;
  let clusters: Record<string, string>;
  const name = uniqueName("verifier");
  const main = uniqueName("vmain");
  const filtered = uniqueName("vfilter");
  const hand = uniqueName("vhand");
  const dir = mkdtempSync(join(tmpdir(), "rmq-verify-test-"));
  let mainQueues: MessageQueue[];
  let handQueue: MessageQueue;
  const routeName = (topic: string): string => `a:${topic}->b`;
  const routes = [
    { from: "a", to: "b", topic: main },
    { from: "a", to: "b", topic: filtered, tags: "keep" },
    {
      from: "a",
      to: "b",
      topic: hand,
      targetTopic: (t: string) => `${t}_copy`,
      deadLetterTopic: `${hand}_dlq`,
    },
  ];
  const verifyConfig = () => testConfig(name, clusters, routes);
  const verify = (options: Partial<Parameters<typeof verifyRoutes>[1]> = {}): Promise<VerifyReport> =>
    verifyRoutes(verifyConfig(), { logger: recordingLogger(), ...options });
  const queueOf = (r: VerifyReport, topic: string, queueId: number): QueueVerifyReport => {
    const q = r.queues.find((x) => x.sourceTopic === topic && x.queueId === queueId);
    assert.ok(q, `no report for ${topic}#${queueId}`);
    return q;
  };
  /** The report's problem counts and examples, without the parts a test does not pin. */
  const problems = (q: QueueVerifyReport) => ({
    missing: q.missing,
    duplicated: q.duplicated,
    outOfOrder: q.outOfOrder,
    altered: q.altered,
    examples: q.examples,
  });
  const none = { missing: [], duplicated: [], outOfOrder: [], altered: [] };

  before(async () => {
    ({ a, b, clusters } = env.clients());
    await a.admin.createTopic({ topic: main, queueNums: QUEUES });
    await a.admin.createTopic({ topic: filtered, queueNums: 2 });
    await a.admin.createTopic({ topic: hand, queueNums: 1 });
    mainQueues = (await a.admin.getTopicRoute(main, { refresh: true })).writeQueues();
    handQueue = (await a.admin.getTopicRoute(hand, { refresh: true })).writeQueues()[0] as MessageQueue;
    const producer = a.producer();
    await Promise.all(
      mainQueues.map(async (queue) => {
        for (let i = 0; i < PER_QUEUE; i += 50) {
          const batch = Array.from({ length: 50 }, (_, j) => ({
            topic: main,
            body: Buffer.from(`m-${queue.queueId}-${i + j}`.repeat(1 + ((i + j) % 5))),
            tags: `T${(i + j) % 3}`,
            keys: `k-${i + j}`,
            properties: { idx: String(i + j) },
            flag: (i + j) % 4,
          }));
          await producer.sendBatch(batch, { queue });
        }
      }),
    );
    for (const queue of (await a.admin.getTopicRoute(filtered, { refresh: true })).writeQueues()) {
      for (let i = 0; i < 20; i++)
        await producer.send(
          { topic: filtered, body: Buffer.from(`f${i}`), tags: i % 4 === 3 ? "drop" : "keep" },
          { queue },
        );
    }
    const engineConfig = testConfig(name, clusters, routes.slice(0, 2));
    const engine = await env.startEngine(engineConfig);
    await waitForStatus(engine, () => replicatedTotal(engine) >= QUEUES * PER_QUEUE + 30, 120_000);
    // Drain: everything replicated is committed at the source, the bound of --until committed.
    await engine.stop({ drain: true });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("reports a finished replication clean, every produced message checked", async () => {
    const report = await verify({ route: routeName(main) });
    assert.equal(report.clean, true, JSON.stringify(report.totals));
    assert.equal(report.queues.length, QUEUES);
    for (const q of report.queues) {
      assert.deepEqual(problems(q), { missing: 0, duplicated: 0, outOfOrder: 0, altered: 0, examples: none });
      assert.equal(q.checked, PER_QUEUE, `${q.sourceTopic}#${q.queueId}`);
      assert.equal(q.fromOffset, 0n);
      assert.equal(q.untilOffset, BigInt(PER_QUEUE));
    }
    assert.equal(report.totals.checked, QUEUES * PER_QUEUE);
    assert.equal(report.totals.otherWriters, 0);
    // --from earliest and --until max give the same range here: nothing was left uncommitted.
    const wide = await verify({ route: routeName(main), from: { kind: "earliest" }, until: "max" });
    assert.equal(wide.clean, true);
    assert.equal(wide.totals.checked, QUEUES * PER_QUEUE);
  });

  it("does not count filtered messages as missing", async () => {
    const report = await verify({ route: routeName(filtered) });
    assert.equal(report.clean, true, JSON.stringify(report.totals));
    for (const q of report.queues) {
      assert.equal(q.checked, 20);
      assert.equal(q.filtered, 5);
      assert.equal(q.missing, 0);
    }
  });

  it("finds a duplicate and a missing message, with their offsets", async () => {
    const queue = mainQueues[3] as MessageQueue;
    // A copy of one replicated message, properties and all (the broker's CLUSTER stamp aside).
    const target = await readTopic(b, main, { expected: QUEUES * PER_QUEUE, quietMs: 200 });
    const victim = [...target.values()]
      .flat()
      .find(
        (m) =>
          parsePosition(m.properties[Provenance.SOURCE] ?? "")?.queueId === queue.queueId &&
          m.queueOffset > 10n,
      );
    assert.ok(victim);
    const victimOffset = (
      parsePosition(victim.properties[Provenance.SOURCE] ?? "") as { queueOffset: bigint }
    ).queueOffset;
    const targetQueues = (await b.admin.getTopicRoute(main, { refresh: true })).writeQueues();
    const victimQueue = targetQueues.find((q) => q.queueId === victim.queueId);
    assert.ok(victimQueue);
    await b.producer().send(copyOf(victim), { queue: victimQueue });
    // A message the connector never replicated, committed past as if it had.
    const sent = await a.producer().send({ topic: main, body: Buffer.from("never replicated") }, { queue });
    await a.admin.updateConsumerOffset(name, queue, sent.queueOffset + 1n);
    const report = await verify({ route: routeName(main) });
    assert.equal(report.clean, false);
    assert.deepEqual(problems(queueOf(report, main, queue.queueId)), {
      missing: 1,
      duplicated: 1,
      outOfOrder: 0,
      altered: 0,
      examples: { missing: [sent.queueOffset], duplicated: [victimOffset], outOfOrder: [], altered: [] },
    });
    assert.equal(queueOf(report, main, queue.queueId).checked, PER_QUEUE + 1);
    for (const q of report.queues.filter((x) => x.queueId !== queue.queueId))
      assert.deepEqual(problems(q), { missing: 0, duplicated: 0, outOfOrder: 0, altered: 0, examples: none });
    assert.deepEqual(
      { missing: report.totals.missing, duplicated: report.totals.duplicated },
      { missing: 1, duplicated: 1 },
    );
  });

  it("finds out-of-order and altered messages written by hand; loop-skipped, dead-lettered and another writer's are no problem", async () => {
    const producer = a.producer();
    for (let i = 0; i < 9; i++) {
      // 7 came from cluster b (its path says so): replicating it back would close a loop.
      const path = i === 7 ? { [Provenance.PATH]: "b" } : {};
      await producer.send(
        { topic: hand, body: Buffer.from(`h${i}`), tags: "t", properties: { idx: String(i), ...path } },
        { queue: handQueue },
      );
    }
    const source = await readTopic(a, hand, { expected: 9, quietMs: 200 });
    const messages = source.get(handQueue.queueId) ?? [];
    assert.equal(messages.length, 9);
    const targetTopic = `${hand}_copy`;
    await b.admin.createTopic({ topic: targetTopic, queueNums: 1 });
    const from = pulledFrom("a", handQueue, name);
    const mapped = messages.map((m) => mapMessage(m, from, targetTopic));
    const at = (i: number): Message => mapped[i] as Message;
    const changedProperty: Message = {
      ...at(4),
      properties: rewriteProperties((at(4).properties as EncodedProperties).text, (n) => n === "idx", [
        ["idx", "tampered"],
      ]),
    };
    const otherWriter: Message = {
      ...at(6),
      properties: rewriteProperties(
        (at(6).properties as EncodedProperties).text,
        (n) => n === Provenance.WRITER,
        [[Provenance.WRITER, "someone-else"]],
      ),
    };
    // Source 0, 2, 1 (1 is out of order), 3 with another body, 4 with another property, 5 and 6
    // missing (6 is there, but another connector wrote it), 8 in the dead-letter topic.
    const targetQueue = (
      await b.admin.getTopicRoute(targetTopic, { refresh: true })
    ).writeQueues()[0] as MessageQueue;
    for (const m of [
      at(0),
      at(2),
      at(1),
      { ...at(3), body: Buffer.from("tampered") },
      changedProperty,
      otherWriter,
    ])
      await b.producer().send(m, { queue: targetQueue });
    await b.admin.createTopic({ topic: `${hand}_dlq`, queueNums: 1 });
    await b.producer().send({ ...at(8), topic: `${hand}_dlq` });
    await a.admin.createSubscriptionGroup({ group: name });
    await a.admin.updateConsumerOffset(name, handQueue, 9n);
    const report = await verify({ route: routeName(hand) });
    const q = queueOf(report, hand, handQueue.queueId);
    assert.deepEqual(problems(q), {
      missing: 2,
      duplicated: 0,
      outOfOrder: 1,
      altered: 2,
      examples: { missing: [5n, 6n], duplicated: [], outOfOrder: [1n], altered: [3n, 4n] },
    });
    assert.deepEqual(
      { checked: q.checked, loopSkipped: q.loopSkipped, deadLettered: q.deadLettered, filtered: q.filtered },
      { checked: 9, loopSkipped: 1, deadLettered: 1, filtered: 0 },
    );
    assert.equal(report.totals.otherWriters, 1);
    // --from a time: the first offset stored at or after it, and only from there on.
    const time = (messages[2] as MessageExt).storeTimestamp;
    const first = BigInt(messages.findIndex((m) => m.storeTimestamp >= time));
    const later = await verify({ route: routeName(hand), from: { kind: "timestamp", timestampMs: time } });
    const lq = queueOf(later, hand, handQueue.queueId);
    assert.equal(lq.fromOffset, first);
    assert.equal(lq.checked, 9 - Number(first));
    assert.deepEqual(lq.examples.missing, [5n, 6n]);
  });

  it("on a live connector, never counts what it has not committed yet as missing", async () => {
    const topic = uniqueName("vlive");
    await a.admin.createTopic({ topic, queueNums: QUEUES });
    const queues = (await a.admin.getTopicRoute(topic, { refresh: true })).writeQueues();
    const config = testConfig(uniqueName("vlive"), clusters, [{ from: "a", to: "b", topic }]);
    const engine = await env.startEngine(config);
    let producing = true;
    let sent = 0;
    const producer = a.producer();
    const load = (async () => {
      for (let round = 0; producing && round < 2000; round++) {
        const queue = queues[round % queues.length] as MessageQueue;
        const batch = Array.from({ length: 20 }, (_, j) => ({
          topic,
          body: Buffer.from(`live-${round}-${j}`),
        }));
        await producer.sendBatch(batch, { queue });
        sent += batch.length;
      }
    })();
    // Committed, not only replicated: verify's live range ends at the committed offsets.
    const committed = () => engine.status().queues.reduce((n, q) => n + Number(q.committedOffset ?? 0n), 0);
    await waitForStatus(engine, () => committed() >= 400, 60_000);
    // While messages keep coming, each verify sees a tail the connector has not committed.
    for (let i = 0; i < 3; i++) {
      const live = await verifyRoutes(config, { logger: recordingLogger() });
      assert.equal(live.clean, true, JSON.stringify(live.totals));
      assert.ok(live.totals.checked > 0);
      assert.ok(live.totals.checked <= sent);
    }
    producing = false;
    await load;
    await waitForStatus(engine, () => replicatedTotal(engine) >= sent, 60_000);
    await engine.stop({ drain: true });
    const done = await verifyRoutes(config, { logger: recordingLogger() });
    assert.equal(done.clean, true, JSON.stringify(done.totals));
    assert.equal(done.totals.checked, sent);
  });

  it("CLI: exit 0 clean, 1 with problems, 2 on bad arguments; summary line and JSON", async () => {
    const path = join(dir, "verify.yaml");
    writeFileSync(
      path,
      `name: ${name}
clusters:
  a: { namesrv: "${clusters["a"]}" }
  b: { namesrv: "${clusters["b"]}" }
routes:
  - name: main
    from: { cluster: a, topic: ${main} }
    to: { cluster: b }
  - name: filtered
    from: { cluster: a, topic: ${filtered}, tags: keep }
    to: { cluster: b }
probes: { enabled: false }
`,
    );
    const clean = await runCli(["verify", "--config", path, "--route", "filtered"]);
    assert.equal(clean.code, 0, clean.stderr);
    assert.match(
      clean.stdout,
      /^verify: 40 checked, 0 missing, 0 duplicated, 0 out of order, 0 altered \(10 filtered, 0 loop-skipped, 0 dead-lettered\) on 2 source queues of 1 route\n$/,
    );
    const dirty = await runCli(["verify", "--config", path, "--route", "main"]);
    assert.equal(dirty.code, 1, dirty.stderr);
    assert.match(
      dirty.stdout,
      /main {2}a\/\S+ \S+#\d \[0, 301\): 301 checked, 1 missing \[300\], 1 duplicated \[\d+\]/,
    );
    assert.match(
      dirty.stdout,
      /verify: 2401 checked, 1 missing, 1 duplicated, 0 out of order, 0 altered .* on 8 source queues of 1 route\n$/,
    );
    const json = await runCli(["verify", "--config", path, "--json"]);
    assert.equal(json.code, 1);
    const parsed = JSON.parse(json.stdout) as {
      clean: boolean;
      totals: { checked: number };
      queues: { fromOffset: string }[];
    };
    assert.equal(parsed.clean, false);
    assert.equal(parsed.totals.checked, 2441);
    assert.equal(parsed.queues.length, 10);
    assert.equal(parsed.queues[0]?.fromOffset, "0");
    for (const bad of [["--from", "yesterday"], ["--until", "soon"], ["--bogus"], []]) {
      const r = await runCli(["verify", ...(bad.length === 0 ? [] : ["--config", path]), ...bad]);
      assert.equal(r.code, 2, `${bad.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /^rmq-connector: RMQ_USAGE: .*--\w+/);
    }
    const unknown = await runCli(["verify", "--config", path, "--route", "nope"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /RMQ_VERIFY_ROUTE: no route named "nope"/);
  });
});

/** A message to send that is `m` as stored: body, flag, compression and properties. */
function copyOf(m: MessageExt): Message {
  return {
    topic: m.topic,
    body: m.storedBody,
    flag: m.flag,
    bornTimestamp: m.bornTimestamp,
    compressionSysFlag: (m.sysFlag & 1) !== 0 ? m.sysFlag & 0x701 : 0,
    properties: rewriteProperties(m.propertiesText, (n) => n === "CLUSTER", []),
  };
}
