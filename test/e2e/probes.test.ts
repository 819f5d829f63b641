/**
 * Heartbeat probes between two real RocketMQ clusters: they move while no user message flows,
 * never reach a user topic, and do not loop in A <-> B. How they show a target broker that is down
 * (the last probe age grows) and its recovery is in test/observability/target-down.test.ts, on the
 * same outage as the lag and readiness it checks.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import { ReplicationEngine } from "../../src/connector/engine.js";
import { Provenance, parsePosition, wouldLoop } from "../../src/connector/message-mapping.js";
import { PROBE_TOPIC, ProbeProperty, type ProbeStatus } from "../../src/connector/probes.js";
import type { MessageExt } from "../../src/protocol/message.js";
import { uniqueName } from "../helpers/sandbox.js";
import {
  readTopic,
  recordingLogger,
  replicatedTotal,
  testConfig,
  waitForStatus,
  useReplicationClusters,
} from "../helpers/replication.js";

const INTERVAL_MS = 200;

/** Every message of the probe topic on a cluster (from all tests: callers filter by tag). */
async function probeMessages(client: RocketMQClient): Promise<MessageExt[]> {
  return [...(await readTopic(client, PROBE_TOPIC, { quietMs: 500, timeoutMs: 10_000 })).values()].flat();
}

function probeOf(engine: ReplicationEngine, route: string): ProbeStatus {
  const p = engine.status().probes.find((x) => x.route === route);
  assert.ok(p, `no probe status for route ${route}`);
  return p;
}

describe("heartbeat probes", () => {
  const env = useReplicationClusters();
  const { startEngine } = env;
  let a: RocketMQClient;
  let b: RocketMQClient;
  let clusters: Record<string, string>;
  before(() => ({ a, b, clusters } = env.clients()));

  it("moves every interval with no user traffic, and never reaches the user topic", async () => {
    const topic = uniqueName("probe-idle");
    await a.admin.createTopic({ topic, queueNums: 2 });
    const engine = await startEngine(
      testConfig(uniqueName("c"), clusters, [{ from: "a", to: "b", topic }], {
        probeIntervalMs: INTERVAL_MS,
      }),
    );
    const route = engine.config.routes[0]?.name ?? "";
    await waitForStatus(engine, (s) => (s.probes[0]?.ackedTotal ?? 0) >= 3);
    const first = probeOf(engine, route);
    await waitForStatus(engine, (s) => {
      const p = s.probes[0];
      return (
        p !== undefined &&
        p.ackedTotal >= first.ackedTotal + 5 &&
        p.sentTotal >= first.sentTotal + 5 &&
        (p.lastAckedAtMs ?? 0) > (first.lastAckedAtMs ?? 0)
      );
    });
    const p = probeOf(engine, route);
    assert.equal(p.sourceCluster, "a");
    assert.equal(p.targetCluster, "b");
    assert.equal(p.state, "running");
    assert.equal(p.intervalMs, INTERVAL_MS);
    assert.ok(p.lastSentAtMs !== undefined && p.lastAckedAtMs !== undefined);
    assert.ok(Date.now() - p.lastAckedAtMs < 3000, "the last probe is recent");
    assert.ok(
      p.lastLatencyMs !== undefined && p.lastLatencyMs >= 0 && p.lastLatencyMs < 3000,
      `probe latency ${p.lastLatencyMs} ms`,
    );
    assert.equal(p.lastError, undefined);
    // Probe pipelines are not user queues and do not count as replicated user messages.
    const status = engine.status();
    assert.equal(status.queues.length, 2);
    assert.ok(status.queues.every((q) => q.sourceTopic === topic && q.targetTopic === topic));
    assert.equal(replicatedTotal(engine), 0);

    await engine.stop();
    const final = probeOf(engine, route);
    const user = [...(await readTopic(b, topic, { quietMs: 500, timeoutMs: 5000 })).values()].flat();
    assert.equal(user.length, 0, "no probe in the user target topic");
    const arrived = (await probeMessages(b)).filter((m) => m.tags === p.tag);
    assert.equal(arrived.length, final.ackedTotal, "each acknowledged probe is on the target once");
    for (const m of arrived) {
      assert.equal(m.properties[Provenance.PATH], "a");
      assert.equal(parsePosition(m.properties[Provenance.SOURCE] ?? "")?.topic, PROBE_TOPIC);
      assert.equal(decodeURIComponent(m.properties[ProbeProperty.ROUTE] ?? ""), route);
      assert.equal((JSON.parse(m.body?.toString() ?? "{}") as { route?: string }).route, route);
    }
    // Probe progress is committed to the connector's group like any queue's.
    const probeQueue = (await a.admin.getTopicRoute(PROBE_TOPIC, { refresh: true })).writeQueues()[0];
    assert.ok(probeQueue);
    assert.ok(((await a.admin.queryConsumerOffset(engine.group, probeQueue)) ?? 0n) > 0n);
  });

  it("stop() waits for a probe write in flight, so every stored probe is counted", async () => {
    const topic = uniqueName("probe-stop");
    await a.admin.createTopic({ topic, queueNums: 1 });
    const engine = env.track(
      new ReplicationEngine(
        testConfig(uniqueName("c"), clusters, [{ from: "a", to: "b", topic }], {
          probeIntervalMs: INTERVAL_MS,
        }),
        recordingLogger(),
      ),
    );
    // The probe writer is the source cluster's producer. Hold each of its sends for longer than
    // an interval after the broker stored the probe, so stop() always meets a write in flight.
    const source = engine.client("a");
    const producer = source.producer.bind(source);
    let inFlight = 0;
    source.producer = (options) => {
      const p = producer(options);
      const send = p.send.bind(p);
      p.send = async (message, sendOptions) => {
        inFlight++;
        try {
          const result = await send(message, sendOptions);
          await new Promise((r) => setTimeout(r, 2 * INTERVAL_MS));
          return result;
        } finally {
          inFlight--;
        }
      };
      return p;
    };
    await engine.start();
    await waitForStatus(engine, (s) => (s.probes[0]?.sentTotal ?? 0) >= 2 && inFlight > 0);
    await engine.stop();
    assert.equal(inFlight, 0, "no probe write is left in flight after stop()");
    const p = probeOf(engine, engine.config.routes[0]?.name ?? "");
    const stored = (await probeMessages(a)).filter((m) => m.tags === p.tag);
    assert.equal(stored.length, p.sentTotal, "every probe stored in the source is counted as sent");
    const arrived = (await probeMessages(b)).filter((m) => m.tags === p.tag);
    assert.equal(arrived.length, p.ackedTotal, "every acknowledged probe is on the target once");
  });

  it("A <-> B: each side holds the other side's probes once, no ping-pong", async () => {
    const topic = uniqueName("probe-bidi");
    await a.admin.createTopic({ topic, queueNums: 1 });
    await b.admin.createTopic({ topic, queueNums: 1 });
    const engine = await startEngine(
      testConfig(
        uniqueName("c"),
        clusters,
        [
          { from: "a", to: "b", topic },
          { from: "b", to: "a", topic },
        ],
        { probeIntervalMs: INTERVAL_MS },
      ),
    );
    const [ab, ba] = engine.config.routes.map((r) => r.name) as [string, string];
    await waitForStatus(engine, (s) => s.probes.length === 2 && s.probes.every((p) => p.ackedTotal >= 5));
    // Give a loop, if there were one, time to show itself.
    await new Promise((r) => setTimeout(r, 1500));
    await engine.stop();
    const pab = probeOf(engine, ab);
    const pba = probeOf(engine, ba);
    assert.notEqual(pab.tag, pba.tag, "each route has its own probe tag");
    const onA = await probeMessages(a);
    const onB = await probeMessages(b);
    for (const [side, messages, own, other, here, there] of [
      ["a", onA, pab, pba, "a", "b"],
      ["b", onB, pba, pab, "b", "a"],
    ] as const) {
      const written = messages.filter((m) => m.tags === own.tag);
      const relayed = messages.filter((m) => m.tags === other.tag);
      assert.equal(written.length, own.sentTotal, `${side}: the probes written here, and only those`);
      assert.ok(
        written.every((m) => m.properties[Provenance.PATH] === undefined),
        `${side}: nothing came back with this side's own probe tag`,
      );
      assert.equal(relayed.length, other.ackedTotal, `${side}: the other side's probes, each once`);
      for (const m of relayed) {
        assert.equal(
          m.properties[Provenance.PATH],
          there,
          `${side}: a relayed probe came straight from ${there}`,
        );
        // Were a route going back ever to read it, the loop rule would skip it.
        assert.ok(wouldLoop(m, here, there));
      }
    }
    const looped = [...onA, ...onB].filter((m) => (m.properties[Provenance.PATH] ?? "").includes(","));
    assert.equal(looped.length, 0, "no probe has been stored in both clusters twice over");
    assert.equal(replicatedTotal(engine), 0);
    assert.equal(
      engine.status().queues.reduce((n, q) => n + q.loopSkippedMessages, 0),
      0,
      "probes never pass through user queues",
    );
  });
});
