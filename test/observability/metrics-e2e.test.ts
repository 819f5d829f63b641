/**
 * Metrics of a real engine replicating between two real clusters, read over HTTP as Prometheus
 * reads them: the counters say exactly what was replicated, lag (also of idle queues) returns to
 * 0 once caught up, and every documented metric is exposed.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import type { MessageQueue } from "../../src/client/types.js";
import { ReplicationEngine } from "../../src/connector/engine.js";
import type { HttpServerHandle } from "../../src/observability/http-server.js";
import { observedEngine, recordingLogger, testConfig } from "../helpers/replication.js";
import { useSandbox, uniqueName } from "../helpers/sandbox.js";
import { documentedMetrics, httpGet, scrape, series, total, type Exposition } from "./exposition.js";

/** Scrapes until `predicate` holds; throws after `timeoutMs` with the last exposition's lines of interest. */
async function scrapeUntil(
  base: string,
  predicate: (e: Exposition) => boolean,
  timeoutMs = 60_000,
): Promise<Exposition> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const e = await scrape(base);
    if (predicate(e)) return e;
    if (Date.now() > deadline) {
      const interesting = e.samples
        .filter((s) => /replicated_messages_total|lag_/.test(s.name))
        .map((s) => `${s.name}${JSON.stringify(s.labels)} ${s.value}`);
      throw new Error(
        `metrics did not reach the expected state in ${timeoutMs} ms:\n${interesting.join("\n")}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("metrics of a replicating engine", () => {
  const sandbox = useSandbox(2);
  let a: RocketMQClient;
  let clusters: Record<string, string>;
  const engines: ReplicationEngine[] = [];
  const servers: HttpServerHandle[] = [];

  before(async () => {
    const [ca, cb] = await sandbox.clusters();
    assert.ok(ca && cb);
    clusters = { a: ca.namesrv, b: cb.namesrv };
    a = new RocketMQClient({ namesrv: ca.namesrv });
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await Promise.all(engines.map((e) => e.stop({ drain: false })));
    a?.close();
  });

  it("counts N replicated messages, bytes and latencies; lag returns to 0, idle queues included", async () => {
    const topic = uniqueName("metrics");
    await a.admin.createTopic({ topic, queueNums: 4 });
    const queues = (await a.admin.getTopicRoute(topic, { refresh: true })).writeQueues();
    const producer = a.producer();
    // Queues 0-2 get traffic; queue 3 stays idle (its lag must still be measured).
    const N = 90;
    let bytes = 0;
    for (let i = 0; i < N; i++) {
      const body = Buffer.from(`message-${i}-${"x".repeat(i % 17)}`);
      bytes += body.length;
      await producer.send({ topic, body }, { queue: queues[i % 3] as MessageQueue });
    }

    const config = testConfig(uniqueName("c"), clusters, [{ from: "a", to: "b", topic }]);
    const { engine, server } = await observedEngine(config, recordingLogger(), (e) => {
      engines.push(e);
      return e;
    });
    servers.push(server);
    const route = config.routes[0]?.name ?? "";
    await engine.start();

    const caughtUp = (e: Exposition, expected: number): boolean =>
      total(e, "rmq_connector_replicated_messages_total", { route }) === expected &&
      series(e, "rmq_connector_lag_messages", { route }).length === 4 &&
      total(e, "rmq_connector_lag_messages", { route }) === 0 &&
      total(e, "rmq_connector_lag_seconds", { route }) === 0;
    let e = await scrapeUntil(server.url, (x) => caughtUp(x, N));

    const labels = { route, source_cluster: "a", target_cluster: "b", topic };
    assert.equal(total(e, "rmq_connector_replicated_bytes_total", labels), bytes);
    assert.equal(total(e, "rmq_connector_replication_latency_seconds_count", { route }), N);
    assert.equal(total(e, "rmq_connector_send_retries_total", labels), 0);
    assert.equal(total(e, "rmq_connector_in_flight_messages", labels), 0);
    assert.equal(total(e, "rmq_connector_in_flight_bytes", labels), 0);
    assert.equal(total(e, "rmq_connector_queue_running", labels), 4);
    assert.equal(total(e, "rmq_connector_route_up", { route }), 1);
    assert.equal(total(e, "rmq_connector_filtered_messages_total", labels), 0);
    for (const q of queues) {
      const qLabels = { ...labels, broker: q.brokerName, queue_id: String(q.queueId) };
      const expected = q.queueId === 3 ? 0 : N / 3;
      assert.equal(
        total(e, "rmq_connector_replicated_messages_total", qLabels),
        expected,
        `queue ${q.queueId}`,
      );
      // The idle queue's first long poll may still be held by the broker (it counts when it ends).
      if (q.queueId !== 3)
        assert.ok(total(e, "rmq_connector_pulls_total", qLabels) > 0, `queue ${q.queueId} pulled`);
      assert.equal(
        series(e, "rmq_connector_lag_messages", qLabels)[0]?.value,
        0,
        `queue ${q.queueId} lag measured`,
      );
      const sync = series(e, "rmq_connector_last_sync_timestamp_seconds", qLabels);
      if (q.queueId === 3) assert.equal(sync.length, 0, "no sync yet: absent, not 0");
      else {
        const syncS = sync[0]?.value ?? 0;
        assert.ok(Math.abs(Date.now() / 1000 - syncS) < 120, `last sync ${syncS}`);
        const storeS = total(e, "rmq_connector_last_replicated_source_store_timestamp_seconds", qLabels);
        assert.ok(storeS > 0 && storeS <= syncS + 5, `source store ${storeS} vs sync ${syncS}`);
      }
    }
    assert.ok(total(e, "rmq_connector_sends_total", labels) >= 3);
    e = await scrapeUntil(server.url, (x) => total(x, "rmq_connector_commits_total", labels) >= 3);
    assert.ok(
      series(e, "rmq_connector_last_commit_age_seconds", labels).every((s) => s.value >= 0 && s.value < 60),
    );
    assert.equal((await httpGet(`${server.url}/readyz`)).status, 200);

    // Every documented metric is exposed by a real engine. errors_total has series only once
    // something failed, and probe metrics only with probes (off in this engine's config).
    const optional = new Set([
      "rmq_connector_errors_total",
      "rmq_connector_probe_latency_seconds",
      "rmq_connector_last_probe_age_seconds",
    ]);
    for (const d of documentedMetrics()) {
      assert.equal(e.types.get(d.name), d.type, `${d.name} is exposed as a ${d.type}`);
      const name = d.type === "histogram" ? `${d.name}_count` : d.name;
      if (!optional.has(d.name)) assert.ok(series(e, name).length > 0, `${d.name} has samples`);
    }

    // More traffic, now on the idle queue too: the counters follow and lag returns to 0 again.
    const M = 20;
    for (let i = 0; i < M; i++)
      await producer.send({ topic, body: Buffer.from(`late-${i}`) }, { queue: queues[3] as MessageQueue });
    e = await scrapeUntil(server.url, (x) => caughtUp(x, N + M));
    assert.equal(total(e, "rmq_connector_replicated_messages_total", { ...labels, queue_id: "3" }), M);
    assert.equal(total(e, "rmq_connector_replication_latency_seconds_count", { route }), N + M);
    const status = engine.status();
    assert.equal(
      status.queues.reduce((n, q) => n + q.replicatedMessages, 0),
      N + M,
      "the metrics and the engine's status agree",
    );
  });
});
