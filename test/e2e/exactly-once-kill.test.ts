/**
 * Exactly-once replication proved from outside (issue 10 §4, the compact versions): the connector
 * is a real `rmq-connector run` process with `delivery: exactly-once`, a continuous producer
 * writes 8 source queues, and the faults are the crashes a deployment meets: the connector
 * SIGKILLed at random moments (at boot, in start-up, in recovery and running), the target broker
 * SIGKILLed and restarted, the source broker the same. Every test ends with a drain and
 * `verifyRoutes` over every source message: 0 missing, 0 duplicated, 0 out of order, 0 altered.
 * At-least-once fails these tests (it re-sends what it sent after its last commit, and a batch
 * whose answer was lost).
 * The clusters are the file's own: brokers are killed. Replay with RMQ_CHAOS_SEED=<printed seed>.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import type { VerifyReport } from "../../src/connector/verify.js";
import {
  between,
  chaosSeed,
  ConnectorProcess,
  ContinuousProducer,
  crashBroker,
  drainAndCheck,
  formatVerify,
  killLoop,
  seededRandom,
  summarizeKills,
  verifyProblems,
  type KillRecord,
} from "../helpers/chaos.js";
import type { ConnectorConfigOptions } from "../helpers/connector-process.js";
import { proxyCluster, type FaultProxy } from "../helpers/fault-proxy.js";
import { uniqueName, useSandbox, type TestCluster } from "../helpers/sandbox.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const SOURCE_QUEUES = 8;
const KILLS = 10;
/** Per topic of the kill test (two topics, so 30 000 at least in all), however fast the kills go. */
const MIN_PER_TOPIC = 15_000;
/** Per broker-crash test. */
const MIN_CRASH_MESSAGES = 20_000;
const CONFIG: ConnectorConfigOptions = { delivery: "exactly-once", commitIntervalMs: 500 };

/** Waits (bounded) until the producer acknowledged `count` messages. */
async function produced(producer: ContinuousProducer, count: number, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (producer.totals.acknowledged < count && performance.now() < until) await sleep(200);
}

function assertExactlyOnce(report: VerifyReport, acknowledged: number, failure: string): void {
  const t = report.totals;
  const detail = `${formatVerify(report)}\n${verifyProblems(report)}\n${failure}`;
  assert.equal(t.missing, 0, `messages lost\n${detail}`);
  assert.equal(t.duplicated, 0, `messages stored twice\n${detail}`);
  assert.equal(t.outOfOrder, 0, `order per source queue broken\n${detail}`);
  assert.equal(t.altered, 0, `messages altered\n${detail}`);
  assert.equal(t.unknownSource, 0, `copies of unknown source messages\n${detail}`);
  assert.ok(t.checked >= acknowledged, `checked ${t.checked} of ${acknowledged} acknowledged\n${detail}`);
  assert.ok(report.clean);
}

function formatRecovery(ms: readonly number[]): string {
  return `spawn -> "running" per start: [${ms.join(", ")}] ms`;
}

describe("exactly-once under SIGKILLs of the connector and of brokers", () => {
  const sandbox = useSandbox(2, { dedicated: true });
  const seed = chaosSeed();
  const random = seededRandom(seed);
  let ca: TestCluster;
  let cb: TestCluster;
  let a: RocketMQClient;
  let b: RocketMQClient;
  let clusters: Record<string, string>;
  let dir: string;
  before(async () => {
    console.log(`# exactly-once kill seed ${seed} (replay: RMQ_CHAOS_SEED=${seed})`);
    [ca, cb] = (await sandbox.clusters()) as [TestCluster, TestCluster];
    a = new RocketMQClient({ namesrv: ca.namesrv });
    b = new RocketMQClient({ namesrv: cb.namesrv });
    clusters = { a: ca.namesrv, b: cb.namesrv };
    dir = mkdtempSync(join(tmpdir(), "rmq-eo-kill-"));
  });
  after(() => {
    a.close();
    b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`replicates exactly once across ${KILLS} connector SIGKILLs, 8 -> 8 and 8 -> 4 queues`, async () => {
    const started = performance.now();
    // One process, two routes: the same kills meet a topic with as many target queues as source
    // queues and one where two source queues share each target queue.
    const same = uniqueName("eok8");
    const fewer = uniqueName("eok4");
    for (const [topic, targetQueues] of [
      [same, SOURCE_QUEUES],
      [fewer, SOURCE_QUEUES / 2],
    ] as const) {
      await a.admin.createTopic({ topic, queueNums: SOURCE_QUEUES });
      await b.admin.createTopic({ topic, queueNums: targetQueues });
    }
    const name = uniqueName("eokill");
    const connector = new ConnectorProcess({
      dir,
      name,
      clusters,
      route: [same, fewer].map((topic) => ({ fromCluster: "a", toCluster: "b", topic, start: "earliest" })),
      config: CONFIG,
    });
    const producers = [
      await ContinuousProducer.start({ client: a, topic: same, ratePerSecond: 700 }),
      await ContinuousProducer.start({ client: a, topic: fewer, ratePerSecond: 700 }),
    ];
    try {
      await connector.start();
      const kills: KillRecord[] = await killLoop({
        process: connector,
        times: KILLS,
        minUpMs: 1500,
        maxUpMs: 4000,
        random,
        onKill: (k, i) => console.log(`# kill ${i + 1}: ${k.planned}, met ${k.observed} after ${k.upMs} ms`),
      });
      await connector.waitRunning();
      // Bounded: at 700 msg/s a topic takes about 22 s from the start, outages aside.
      for (const p of producers) await produced(p, MIN_PER_TOPIC, 120_000);
      const totals = await Promise.all(producers.map((p) => p.stop()));
      const acknowledged = totals.reduce((n, t) => n + t.acknowledged, 0);
      const { drain, report } = await drainAndCheck({
        source: a,
        connector,
        topics: [same, fewer],
        drainTimeoutMs: 120_000,
      });
      const byPhase = summarizeKills(kills);
      const planned = kills.reduce<Record<string, number>>(
        (m, k) => ({ ...m, [k.planned]: (m[k.planned] ?? 0) + 1 }),
        {},
      );
      console.log(
        `# exactly-once kills: ${acknowledged} produced (${totals.map((t) => t.acknowledged).join(" + ")}), ` +
          `${connector.kills} SIGKILLs (planned ${JSON.stringify(planned)}; met ${byPhase["before-starting"]} before "starting", ` +
          `${byPhase["before-running"]} before "running", ${byPhase.running} running), drained in ${drain.waitedMs} ms; ` +
          `${formatVerify(report)}; ${Math.round((performance.now() - started) / 1000)} s`,
      );
      console.log(`# ${formatRecovery(connector.recoveryMs)}`);
      const failure = `seed ${seed}; connector log:\n${connector.report()}`;
      assert.ok(drain.reached, `the committed position stayed ${drain.behind} behind the source\n${failure}`);
      assert.equal(connector.kills, KILLS);
      assert.ok(byPhase["before-starting"] >= 1, `no kill met the boot: ${JSON.stringify(kills)}`);
      assert.ok(byPhase["before-running"] >= 1, `no kill met the start-up: ${JSON.stringify(kills)}`);
      for (const t of totals)
        assert.ok(t.acknowledged >= MIN_PER_TOPIC, `only ${t.acknowledged} messages produced`);
      assertExactlyOnce(report, acknowledged, failure);
      assert.equal(report.queues.length, 2 * SOURCE_QUEUES);
    } finally {
      await Promise.all(producers.map((p) => p.stop()));
      await connector.stop(5000);
    }
  });

  for (const side of ["target", "source"] as const) {
    // Each crash is made to leave something at-least-once would repeat: before the target broker
    // is SIGKILLed, a proxy drops its answers for a while (batches stored, outcomes unknown: "the
    // answers were lost, then the broker died"); while the source broker is down, the connector
    // is SIGKILLed and started again (it must recover from the target, not re-send from its
    // committed offsets). Without these the plain crash left at-least-once with 0 duplicates.
    it(`replicates exactly once across a SIGKILL and restart of the ${side} broker mid-stream`, async () => {
      const started = performance.now();
      const topic = uniqueName(`eo${side}`);
      await a.admin.createTopic({ topic, queueNums: SOURCE_QUEUES });
      await b.admin.createTopic({ topic, queueNums: SOURCE_QUEUES });
      const name = uniqueName("eocrash");
      const proxied = side === "target" ? await proxyCluster(cb) : undefined;
      const connector = new ConnectorProcess({
        dir,
        name,
        clusters,
        route: { fromCluster: "a", toCluster: "b", topic, start: "earliest" },
        config:
          proxied === undefined
            ? CONFIG
            : { ...CONFIG, clusterOptions: { b: { addressMap: proxied.addressMap } } },
      });
      const producer = await ContinuousProducer.start({ client: a, topic, ratePerSecond: 1000 });
      try {
        await connector.start();
        await sleep(between(random, 3000, 6000));
        const at = producer.totals.acknowledged;
        let restartMs: number;
        if (proxied !== undefined) {
          const proxy = [...proxied.proxies.values()][0] as FaultProxy;
          proxy.dropResponses(true);
          await sleep(between(random, 1000, 2000));
          ({ restartMs } = await crashBroker(
            {
              stopBroker: (o) => cb.stopBroker(o).finally(() => proxy.dropResponses(false)),
              startBroker: () => cb.startBroker(),
            },
            between(random, 500, 3000),
          ));
        } else {
          await ca.stopBroker({ graceMs: 0 });
          await connector.kill();
          connector.spawn();
          await sleep(between(random, 500, 3000));
          const restart = performance.now();
          await ca.startBroker();
          restartMs = Math.round(performance.now() - restart);
          await connector.waitRunning();
        }
        console.log(
          `# ${side} broker SIGKILLed at ${at} produced, serving again ${restartMs} ms after its start`,
        );
        await produced(producer, MIN_CRASH_MESSAGES, 120_000);
        const totals = await producer.stop();
        const { drain, report } = await drainAndCheck({
          source: a,
          connector,
          topics: [topic],
          drainTimeoutMs: 120_000,
        });
        console.log(
          `# exactly-once ${side} broker crash: ${totals.acknowledged} produced (${totals.failedSends} failed sends), ` +
            `${connector.problemCount} connector warnings, ${connector.starts} connector start(s), ` +
            `unknown send outcomes settled ${JSON.stringify(connector.settledOutcomes())}, drained in ${drain.waitedMs} ms; ` +
            `${formatVerify(report)}; ${Math.round((performance.now() - started) / 1000)} s`,
        );
        const failure = `seed ${seed}; connector log:\n${connector.report()}`;
        assert.ok(
          drain.reached,
          `the committed position stayed ${drain.behind} behind the source\n${failure}`,
        );
        // A crash the connector never noticed proves nothing.
        assert.ok(
          connector.problemCount > 0,
          `the connector logged no warning through the crash\n${failure}`,
        );
        assert.equal(connector.current?.alive, true, `the connector ended\n${failure}`);
        assert.ok(totals.acknowledged >= MIN_CRASH_MESSAGES, `only ${totals.acknowledged} messages produced`);
        assertExactlyOnce(report, totals.acknowledged, failure);
      } finally {
        await producer.stop();
        await connector.stop(5000);
        await proxied?.close();
      }
    });
  }
});
