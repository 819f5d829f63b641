/**
 * The chaos harness proved on today's at-least-once connector: a continuous producer over 8
 * source queues, the connector (a real `rmq-connector run` process) SIGKILLed at least 10 times
 * at random moments, some before it logged "starting" or "running", then a drain and a message-
 * by-message check (verifyRoutes, as `rmq-connector verify`): nothing missing, order kept per
 * source queue, duplicates counted (at-least-once may duplicate) and printed. The target topic has fewer queues than the source, so source
 * queues share target queues and the check must tell them apart by provenance. That verify finds
 * each kind of fault is test/e2e/verify.test.ts's to prove.
 * Replay a failure with RMQ_CHAOS_SEED=<the printed seed>.
 *
 * @rmq-test default-version-only: only the connector process is killed here, and how a 4.x broker
 * takes a connector killed mid-send is covered by the exactly-once kill test, which runs on both
 * versions; at-least-once adds nothing version-specific to it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  chaosSeed,
  ConnectorProcess,
  ContinuousProducer,
  drainAndCheck,
  formatVerify,
  killLoop,
  seededRandom,
  summarizeKills,
  useChaosEnv,
  verifyProblems,
} from "../helpers/chaos.js";
import { uniqueName } from "../helpers/sandbox.js";

const SOURCE_QUEUES = 8;
const TARGET_QUEUES = 4;
const RATE = 1000;
const KILLS = 10;
/** Produced at least, however fast the kills went: the proof is about tens of thousands. */
const MIN_MESSAGES = 30_000;

describe("chaos: at-least-once under connector SIGKILLs", () => {
  const env = useChaosEnv({ dirPrefix: "rmq-chaos-" });

  it(`loses nothing and keeps order per source queue across ${KILLS} SIGKILLs (duplicates counted)`, async () => {
    const { a, b, clusters, dir } = env();
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
      await producer.waitAcknowledged(MIN_MESSAGES, 120_000);
      const produced = await producer.stop();
      const { drain, report } = await drainAndCheck({
        source: a,
        connector,
        topics: [topic],
        drainTimeoutMs: 120_000,
      });
      const byPhase = summarizeKills(kills);
      console.log(
        `# at-least-once chaos: ${produced.acknowledged} produced (${produced.failedSends} failed sends), ` +
          `${connector.kills} SIGKILLs (${byPhase["before-starting"]} before "starting", ${byPhase["before-running"]} before "running", ` +
          `${byPhase.running} running), drained in ${drain.waitedMs} ms; ${formatVerify(report)}; ` +
          `${Math.round((performance.now() - started) / 1000)} s`,
      );
      const failure = `${formatVerify(report)}\n${verifyProblems(report)}\nconnector log:\n${connector.report()}`;
      assert.ok(drain.reached, `the committed position stayed ${drain.behind} behind the source\n${failure}`);
      assert.equal(connector.kills, KILLS);
      assert.ok(
        byPhase["before-starting"] + byPhase["before-running"] >= 2,
        `no kill met the start-up: ${JSON.stringify(kills)}`,
      );
      assert.ok(produced.acknowledged >= MIN_MESSAGES, `only ${produced.acknowledged} messages produced`);
      assert.ok(
        report.totals.checked >= produced.acknowledged,
        "the source holds fewer messages than it acknowledged",
      );
      assert.equal(report.totals.missing, 0, `messages lost\n${failure}`);
      assert.equal(report.totals.outOfOrder, 0, `order per source queue broken\n${failure}`);
      assert.equal(report.totals.altered, 0, `messages altered\n${failure}`);
    } finally {
      await producer.stop();
      await connector.stop(5000);
    }
  });
});
