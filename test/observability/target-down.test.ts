/**
 * What monitoring shows when the target broker stops (own clusters, since it stops a broker):
 * lag in messages and in time and the last-sync age grow, /readyz says 503 and why, and stays so
 * while the source keeps answering pulls (a successful pull says nothing of the target), and all
 * of it recovers once the broker is back and a send gets through. The heartbeat probes go through
 * the same outage: the last probe age grows while probes are still written at the source, and it
 * is small again after the restart (one outage serves both: a broker restart costs ~20 s on 5.x).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import type { MessageQueue } from "../../src/client/types.js";
import type { EngineStatus } from "../../src/connector/engine.js";
import type { ProbeStatus } from "../../src/connector/probes.js";
import { observedEngine, testConfig, waitForStatus } from "../helpers/replication.js";
import { useSandbox, uniqueName } from "../helpers/sandbox.js";
import { httpGet, scrape, series, total, type Exposition } from "./exposition.js";

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not reached in ${timeoutMs} ms (last error: ${String(last)})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Largest last-sync age (s) over the queues that synced, as of `atMs` (when `e` was scraped). */
function maxSyncAge(e: Exposition, atMs: number): number {
  return Math.max(
    ...series(e, "rmq_connector_last_sync_timestamp_seconds").map((s) => atMs / 1000 - s.value),
  );
}

const PROBE_INTERVAL_MS = 200;

describe("monitoring while the target broker is down", () => {
  const sandbox = useSandbox(2, { dedicated: true });

  it("shows lag and last-sync age growing and readiness failing with the reason, then recovering", async () => {
    const [ca, cb] = await sandbox.clusters();
    assert.ok(ca && cb);
    const a = new RocketMQClient({ namesrv: ca.namesrv });
    const topic = uniqueName("down");
    const config = testConfig(
      uniqueName("c"),
      { a: ca.namesrv, b: cb.namesrv },
      [{ from: "a", to: "b", topic }],
      { probeIntervalMs: PROBE_INTERVAL_MS },
    );
    const { engine, server } = await observedEngine(config);
    const route = config.routes[0]?.name ?? "";
    const base = server.url;
    const untilProbe = (ok: (p: ProbeStatus) => boolean, timeoutMs: number): Promise<void> =>
      waitForStatus(engine, (s) => s.probes[0] !== undefined && ok(s.probes[0]), timeoutMs);
    const t0 = Date.now();
    // Where the time goes, for whoever shortens this test next.
    const phase = (what: string): void => console.log(`# ${what} at ${Date.now() - t0} ms`);
    try {
      await a.admin.createTopic({ topic, queueNums: 2 });
      const queues = (await a.admin.getTopicRoute(topic, { refresh: true })).writeQueues();
      const producer = a.producer();
      const send = async (n: number, prefix: string): Promise<void> => {
        for (let i = 0; i < n; i++)
          await producer.send(
            { topic, body: Buffer.from(`${prefix}-${i}`) },
            { queue: queues[i % 2] as MessageQueue },
          );
      };
      await engine.start();
      await send(10, "before");
      await until(
        "first messages replicated",
        async () => {
          const e = await scrape(base);
          return total(e, "rmq_connector_replicated_messages_total") === 10 &&
            series(e, "rmq_connector_last_sync_timestamp_seconds").length === 2 &&
            total(e, "rmq_connector_lag_messages") === 0
            ? e
            : undefined;
        },
        60_000,
      );
      await until(
        "ready",
        async () => ((await httpGet(`${base}/readyz`)).status === 200 ? true : undefined),
        30_000,
      );

      await untilProbe((p) => p.ackedTotal >= 3, 30_000);

      await cb.stopBroker();
      phase("stop");
      const stoppedAt = Date.now();
      const M = 30;
      await send(M, "during");

      phase("sent during");
      const notReady = await until(
        "readiness fails",
        async () => {
          const r = await httpGet(`${base}/readyz`);
          return r.status === 503 ? r.body : undefined;
        },
        60_000,
      );
      assert.match(notReady, /^not ready\n/);
      assert.ok(notReady.includes(route), `the reason names the route: ${notReady}`);
      assert.match(notReady, /is failing \(send\): .+|route .+ is error: .+/, "and gives the last error");
      const api = JSON.parse((await httpGet(`${base}/api/status`)).body) as {
        ready: boolean;
        notReady: string[];
      };
      assert.equal(api.ready, false);
      assert.ok(api.notReady.length > 0);

      // The source keeps answering: every queue's pulls go on succeeding (long polls that find
      // nothing new), and still each queue stays not ready for its send failure, at every check.
      const pullsAt = new Map(engine.status().queues.map((q) => [q.queueId, q.pulls]));
      const pulledAgain = (s: EngineStatus): boolean =>
        s.queues.every((q) => q.pulls >= (pullsAt.get(q.queueId) ?? 0) + 2);
      let checks = 0;
      for (const deadline = Date.now() + 60_000; ;) {
        const r = await httpGet(`${base}/readyz`);
        checks++;
        assert.equal(r.status, 503, `not ready while the target is down (check ${checks}): ${r.body}`);
        const s = engine.status();
        for (const q of s.queues) {
          const line = `queue ${route} ${topic} ${q.sourceBroker}#${q.queueId} is failing (send): `;
          assert.ok(r.body.includes(line), `queue ${q.queueId}'s send failure is the reason: ${r.body}`);
          assert.equal(q.pullFailure, undefined, "its pulls succeed");
          assert.ok(q.sendFailure, "its send failure is under way");
        }
        if (pulledAgain(s)) break;
        assert.ok(Date.now() < deadline, `pulls did not go on: ${JSON.stringify([...pullsAt])}`);
        await new Promise((r) => setTimeout(r, 500));
      }

      // The probes: none acknowledged since the stop and the age grows, while they are still
      // written at the source (it is up) and wait there for the target.
      await untilProbe(
        (p) => (p.lastError?.atMs ?? 0) > stoppedAt && Date.now() - (p.lastAckedAtMs ?? 0) > 3000,
        30_000,
      );
      const probeDown = engine.status().probes[0];
      assert.ok(probeDown);
      assert.match(probeDown.lastError?.kind ?? "", /send/);
      await untilProbe((p) => p.sentTotal >= probeDown.sentTotal + 5, 30_000);
      const probeLater = engine.status().probes[0];
      assert.equal(
        probeLater?.ackedTotal,
        probeDown.ackedTotal,
        "no probe acknowledged while the target is down",
      );
      assert.equal(probeLater?.lastAckedAtMs, probeDown.lastAckedAtMs);

      phase("probes down");
      let firstAtMs = 0;
      const first = await until(
        "lag measured",
        async () => {
          firstAtMs = Date.now();
          const e = await scrape(base);
          return total(e, "rmq_connector_lag_messages") === M && total(e, "rmq_connector_lag_seconds") > 0
            ? e
            : undefined;
        },
        30_000,
      );
      await new Promise((r) => setTimeout(r, 2000));
      const secondAtMs = Date.now();
      const second = await scrape(base);
      assert.equal(
        total(second, "rmq_connector_lag_messages"),
        M,
        "lag in messages holds what the target misses",
      );
      const lag1 = Math.max(...series(first, "rmq_connector_lag_seconds").map((s) => s.value));
      const lag2 = Math.max(...series(second, "rmq_connector_lag_seconds").map((s) => s.value));
      assert.ok(lag2 >= lag1 + 1.5, `lag in time grows: ${lag1} s then ${lag2} s`);
      assert.ok(maxSyncAge(second, secondAtMs) >= maxSyncAge(first, firstAtMs) + 1.5, "last-sync age grows");
      assert.equal(total(second, "rmq_connector_replicated_messages_total"), 10);
      assert.ok(total(second, "rmq_connector_errors_total", { kind: "send" }) > 0, "send errors are counted");
      assert.ok(total(second, "rmq_connector_send_retries_total") > 0);
      assert.ok(total(second, "rmq_connector_in_flight_messages") > 0, "pulled messages wait in flight");

      await cb.startBroker();
      phase("start");
      const restartedAt = Date.now();
      let recoveredAtMs = 0;
      const recovered = await until(
        "recovered",
        async () => {
          recoveredAtMs = Date.now();
          const e = await scrape(base);
          return total(e, "rmq_connector_replicated_messages_total") >= 10 + M &&
            total(e, "rmq_connector_lag_messages") === 0 &&
            total(e, "rmq_connector_lag_seconds") === 0
            ? e
            : undefined;
        },
        120_000,
      );
      assert.ok(maxSyncAge(recovered, recoveredAtMs) < 30, "last sync is recent again");
      assert.equal(total(recovered, "rmq_connector_in_flight_messages"), 0);
      assert.equal(total(recovered, "rmq_connector_route_up", { route }), 1);
      phase("recovered");
      const ready = await until(
        "ready again",
        async () => {
          const r = await httpGet(`${base}/readyz`);
          return r.status === 200 ? r : undefined;
        },
        60_000,
      );
      assert.equal(ready.body, "ready\n");
      await untilProbe(
        (p) =>
          (p.lastAckedAtMs ?? 0) > restartedAt &&
          p.ackedTotal >= (probeLater?.sentTotal ?? 0) &&
          (p.lastLatencyMs ?? Infinity) < 3000,
        90_000,
      );
      const probeUp = engine.status().probes[0];
      phase("probes up");
      assert.ok(probeUp?.lastAckedAtMs !== undefined);
      assert.ok(Date.now() - probeUp.lastAckedAtMs < 3000, "the last probe age is small again");
      const after = JSON.parse((await httpGet(`${base}/api/status`)).body) as {
        queues: { sendFailure: unknown; pullFailure: unknown; lastError: { kind: string } | null }[];
      };
      for (const q of after.queues) {
        assert.equal(q.sendFailure, null, "a send got through: no send failure under way");
        assert.equal(q.pullFailure, null);
        assert.ok(q.lastError, "the last error is kept for people");
      }
    } finally {
      await server.close();
      await engine.stop({ drain: false });
      a.close();
    }
  });
});
