/**
 * The chaos harness proved on today's at-least-once connector: a continuous producer over 8
 * source queues, the connector (a real `rmq-connector run` process) SIGKILLed at least 10 times
 * at random moments, some before it logged "starting" or "running", then a drain and a message-
 * by-message check: nothing missing, order kept per source queue, duplicates counted (at-least-
 * once may duplicate) and printed. The target topic has fewer queues than the source, so source
 * queues share target queues and the check must tell them apart by provenance.
 * Replay a failure with RMQ_CHAOS_SEED=<the printed seed>.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import type { MessageQueue } from "../../src/client/types.js";
import { formatPosition, Provenance } from "../../src/connector/message-mapping.js";
import { EncodedProperties } from "../../src/protocol/properties.js";
import {
  chaosSeed,
  ConnectorProcess,
  ContinuousProducer,
  drainAndCheck,
  killLoop,
  seededRandom,
  summarizeKills,
} from "../helpers/chaos.js";
import { checkReplication, formatCheck } from "../helpers/replication-check.js";
import { uniqueName, useSandbox } from "../helpers/sandbox.js";

const SOURCE_QUEUES = 8;
const TARGET_QUEUES = 4;
const RATE = 1000;
const KILLS = 10;
/** Produced at least, however fast the kills went: the proof is about tens of thousands. */
const MIN_MESSAGES = 30_000;

describe("chaos: at-least-once under connector SIGKILLs", () => {
  const sandbox = useSandbox(2);
  let a: RocketMQClient;
  let b: RocketMQClient;
  let clusters: Record<string, string>;
  let dir: string;
  before(async () => {
    const [ca, cb] = await sandbox.clusters();
    assert.ok(ca && cb);
    a = new RocketMQClient({ namesrv: ca.namesrv });
    b = new RocketMQClient({ namesrv: cb.namesrv });
    clusters = { a: ca.namesrv, b: cb.namesrv };
    dir = mkdtempSync(join(tmpdir(), "rmq-chaos-"));
  });
  after(() => {
    a.close();
    b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the check finds a missing, a duplicated, an out-of-order and an altered message", async () => {
    // The check is what every chaos run rests on: it must see each kind of fault, so a target
    // is written by hand with each one in it.
    const topic = uniqueName("chaos-check");
    await a.admin.createTopic({ topic, queueNums: 1 });
    await b.admin.createTopic({ topic, queueNums: 1 });
    const [sq] = (await a.admin.getTopicRoute(topic, { refresh: true })).writeQueues() as [MessageQueue];
    const [tq] = (await b.admin.getTopicRoute(topic, { refresh: true })).writeQueues() as [MessageQueue];
    for (let i = 0; i < 6; i++) await a.producer().send({ topic, body: Buffer.from(`m${i}`) }, { queue: sq });
    const copy = (offset: number, body = `m${offset}`): Promise<unknown> => {
      const source = formatPosition({
        cluster: "a",
        topic,
        brokerName: sq.brokerName,
        queueId: 0,
        queueOffset: BigInt(offset),
      });
      const properties = new EncodedProperties(`${Provenance.SOURCE}\u0001${source}\u0002`, undefined);
      return b.producer().send({ topic, body: Buffer.from(body), properties }, { queue: tq });
    };
    // 0, 2, 1 (out of order), 2 again (duplicate), 4 altered, 5; offset 3 missing.
    for (const [offset, body] of [[0], [2], [1], [2], [4, "changed"], [5]] as [number, string?][]) {
      await copy(offset, body);
    }
    const check = await checkReplication({ source: a, target: b, sourceCluster: "a", topic });
    assert.deepEqual(check.totals, { checked: 6, missing: 1, duplicated: 1, outOfOrder: 1, altered: 1 });
    assert.deepEqual(check.queues[0]?.firstMissing, [3n]);
    assert.equal(check.clean, false);
  });

  it(`loses nothing and keeps order per source queue across ${KILLS} SIGKILLs (duplicates counted)`, async () => {
    const seed = chaosSeed();
    console.log(`# chaos seed ${seed} (replay: RMQ_CHAOS_SEED=${seed})`);
    const random = seededRandom(seed);
    const topic = uniqueName("chaos-alo");
    const name = uniqueName("chaos");
    await a.admin.createTopic({ topic, queueNums: SOURCE_QUEUES });
    await b.admin.createTopic({ topic, queueNums: TARGET_QUEUES });
    const connector = new ConnectorProcess({
      dir,
      name,
      clusters,
      route: { fromCluster: "a", toCluster: "b", topic, start: "earliest" },
      config: { delivery: "at-least-once", commitIntervalMs: 500 },
    });
    const started = performance.now();
    const producer = await ContinuousProducer.start({ client: a, topic, ratePerSecond: RATE });
    try {
      await connector.start();
      const kills = await killLoop({
        process: connector,
        times: KILLS,
        minUpMs: 1500,
        maxUpMs: 4000,
        random,
        onKill: (k, i) => console.log(`# kill ${i + 1}: ${k.planned}, met ${k.observed} after ${k.upMs} ms`),
      });
      await connector.waitRunning();
      // Bounded: at RATE this takes MIN_MESSAGES / RATE s from the start at most, outages aside.
      const until = performance.now() + 120_000;
      while (producer.totals.acknowledged < MIN_MESSAGES && performance.now() < until) {
        await new Promise((r) => setTimeout(r, 200));
      }
      const produced = await producer.stop();
      const { drain, check } = await drainAndCheck({
        source: a,
        target: b,
        sourceCluster: "a",
        topic,
        group: name,
        drainTimeoutMs: 120_000,
      });
      const byPhase = summarizeKills(kills);
      console.log(
        `# at-least-once chaos: ${produced.acknowledged} produced (${produced.failedSends} failed sends), ` +
          `${connector.kills} SIGKILLs (${byPhase["before-starting"]} before "starting", ${byPhase["before-running"]} before "running", ` +
          `${byPhase.running} running), drained in ${drain.waitedMs} ms; ${formatCheck(check)}; ` +
          `${Math.round((performance.now() - started) / 1000)} s`,
      );
      const failure = `${formatCheck(check)}\n${JSON.stringify(check.queues, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))}\nconnector log:\n${connector.report()}`;
      assert.ok(drain.reached, `the committed position stayed ${drain.behind} behind the source\n${failure}`);
      assert.equal(connector.kills, KILLS);
      assert.ok(
        byPhase["before-starting"] + byPhase["before-running"] >= 2,
        `no kill met the start-up: ${JSON.stringify(kills)}`,
      );
      assert.ok(produced.acknowledged >= MIN_MESSAGES, `only ${produced.acknowledged} messages produced`);
      assert.ok(
        check.totals.checked >= produced.acknowledged,
        "the source holds fewer messages than it acknowledged",
      );
      assert.equal(check.totals.missing, 0, `messages lost\n${failure}`);
      assert.equal(check.totals.outOfOrder, 0, `order per source queue broken\n${failure}`);
      assert.equal(check.totals.altered, 0, `messages altered\n${failure}`);
    } finally {
      await producer.stop();
      await connector.stop(5000);
    }
  });
});
