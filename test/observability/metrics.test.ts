/**
 * Metrics and HTTP endpoint against a scripted engine status (no cluster): the exposition matches
 * docs/metrics.md both ways, counters carry the engine's totals without accumulating across
 * scrapes, readiness names what is wrong, /api/status keeps offsets exact.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import type { EngineStatus, QueueStatus } from "../../src/connector/engine.js";
import {
  readinessProblems,
  startHttpServer,
  type HttpServerHandle,
} from "../../src/observability/http-server.js";
import { Histogram, Registry } from "prom-client";
import { ConnectorMetrics, LATENCY_BUCKETS_SECONDS } from "../../src/observability/metrics.js";
import { PerMessageHistogram } from "../../src/observability/per-message-histogram.js";
import { recordingLogger } from "../helpers/replication.js";
import {
  documentedMetrics,
  httpGet,
  isProcessDefault,
  labelNames,
  parseExposition,
  series,
  total,
} from "./exposition.js";

const NOW = Date.now();

function queue(overrides: Partial<QueueStatus> = {}): QueueStatus {
  return {
    route: "east:orders->west",
    sourceCluster: "east",
    targetCluster: "west",
    sourceTopic: "orders",
    sourceBroker: "broker-a",
    queueId: 0,
    targetTopic: "orders",
    targetBroker: "broker-b",
    targetQueueId: 0,
    state: "running",
    pullOffset: 120n,
    ackedOffset: 100n,
    replicatedMessages: 95,
    replicatedBytes: 9500,
    filteredMessages: 3,
    loopSkippedMessages: 2,
    deadLetteredMessages: 1,
    sendRetries: 4,
    unknownOutcomes: 2,
    settledLandedMessages: 64,
    pulls: 17,
    sends: 12,
    inFlightMessages: 20,
    inFlightBytes: 7120,
    lastSyncAtMs: NOW - 1000,
    lastSourceStoreMs: NOW - 1500,
    oldestPendingStoreMs: NOW - 1200,
    lastLatencyMs: 500,
    lastError: { kind: "send", message: "busy", atMs: NOW - 120_000 },
    pullFailure: undefined,
    sendFailure: undefined,
    errorsByKind: { send: 4, pull: 1 },
    committedOffset: 90n,
    // Above 2^53: offsets must stay exact in /api/status.
    sourceMaxOffset: 9_007_199_254_740_993n,
    lagMessages: 25n,
    lagMs: 1200,
    commits: 7,
    lastCommitAtMs: NOW - 2000,
    ...overrides,
  };
}

/** A status with every optional value present, and probes (read when the engine reports them). */
function fullStatus(
  queues: QueueStatus[] = [queue(), queue({ queueId: 1, replicatedMessages: 5 })],
): EngineStatus {
  const status = {
    name: "east-to-west",
    startedAtMs: NOW - 60_000,
    routes: [
      {
        name: "east:orders->west",
        sourceCluster: "east",
        targetCluster: "west",
        state: "running" as const,
        sourceTopics: ["orders"],
        lastError: undefined,
      },
    ],
    queues,
    probes: [
      {
        route: "east:orders->west",
        sourceCluster: "east",
        targetCluster: "west",
        tag: "east-to-west",
        intervalMs: 1000,
        state: "running" as const,
        sentTotal: 10,
        ackedTotal: 9,
        lastSentAtMs: NOW - 500,
        lastAckedAtMs: NOW - 400,
        lastLatencyMs: 35,
        lastError: undefined,
      },
    ],
  };
  return status;
}

describe("metrics exposition", () => {
  it("exposes exactly the metrics docs/metrics.md lists, with their types and labels", async () => {
    const metrics = new ConnectorMetrics({ version: "9.9.9" });
    metrics.bind({ status: () => fullStatus() });
    metrics.events.onReplicated?.(
      {
        route: "east:orders->west",
        sourceCluster: "east",
        targetCluster: "west",
        sourceTopic: "orders",
        sourceBroker: "broker-a",
        queueId: 0,
        targetTopic: "orders",
      },
      [3, 40],
      20,
    );
    const e = parseExposition(await metrics.text());
    const documented = documentedMetrics();
    assert.ok(documented.length >= 20, `docs/metrics.md lists ${documented.length} metrics`);
    const exposed = [...e.types.keys()].filter((n) => !isProcessDefault(n));
    assert.deepEqual(
      exposed.filter((n) => !documented.some((d) => d.name === n)),
      [],
      "exposed but not documented in docs/metrics.md",
    );
    for (const d of documented) {
      assert.equal(e.types.get(d.name), d.type, `${d.name}: documented as ${d.type}`);
      const sampleName = d.type === "histogram" ? `${d.name}_count` : d.name;
      const samples = series(e, sampleName);
      assert.ok(samples.length > 0, `${d.name} is documented but has no sample`);
      for (const s of samples) {
        assert.deepEqual(Object.keys(s.labels).sort(), labelNames(d.labels).sort(), `labels of ${d.name}`);
      }
    }
    assert.ok(e.types.has("rmq_connector_process_cpu_user_seconds_total"), "process metrics, prefixed");
    assert.ok(e.types.has("rmq_connector_nodejs_eventloop_lag_seconds"), "Node.js metrics, prefixed");
  });

  it("copies the engine's totals and positions, never accumulating across scrapes", async () => {
    let queues = [
      queue(),
      queue({ queueId: 1, replicatedMessages: 5, lagMessages: undefined, lastSyncAtMs: undefined }),
    ];
    const metrics = new ConnectorMetrics({ processMetrics: false, version: "1.2.3" });
    metrics.bind({ status: () => fullStatus(queues) });
    for (let scrape = 0; scrape < 3; scrape++) {
      const e = parseExposition(await metrics.text());
      assert.equal(total(e, "rmq_connector_replicated_messages_total"), 100);
      assert.equal(total(e, "rmq_connector_replicated_messages_total", { queue_id: "0" }), 95);
      assert.equal(total(e, "rmq_connector_errors_total", { queue_id: "0", kind: "send" }), 4);
      assert.equal(total(e, "rmq_connector_errors_total", { queue_id: "0", kind: "pull" }), 1);
      assert.equal(total(e, "rmq_connector_lag_seconds", { queue_id: "0" }), 1.2);
      assert.equal(series(e, "rmq_connector_lag_messages").length, 1, "absent before the first lag refresh");
      assert.equal(series(e, "rmq_connector_last_sync_timestamp_seconds").length, 1);
      assert.equal(total(e, "rmq_connector_last_sync_timestamp_seconds"), (NOW - 1000) / 1000);
      const age = total(e, "rmq_connector_last_commit_age_seconds", { queue_id: "0" });
      assert.ok(age >= 2 && age < 60, `last commit age ${age}`);
      assert.deepEqual(series(e, "rmq_connector_info")[0]?.labels, {
        name: "east-to-west",
        version: "1.2.3",
      });
      assert.equal(total(e, "rmq_connector_probe_latency_seconds"), 0.035);
      assert.ok(total(e, "rmq_connector_last_probe_age_seconds") >= 0.4);
    }
    // A queue the engine no longer owns disappears; a failed one shows as not running.
    queues = [queue({ state: "failed" })];
    const e = parseExposition(await metrics.text());
    assert.equal(series(e, "rmq_connector_replicated_messages_total").length, 1);
    assert.equal(total(e, "rmq_connector_queue_running"), 0);
  });

  it("observes each replicated message's latency in seconds in the route's histogram", async () => {
    const metrics = new ConnectorMetrics({ processMetrics: false });
    metrics.bind({ status: () => fullStatus() });
    const labels = {
      route: "r",
      sourceCluster: "a",
      targetCluster: "b",
      sourceTopic: "t",
      sourceBroker: "x",
      queueId: 0,
      targetTopic: "t",
    };
    metrics.events.onReplicated?.(labels, [0.5, 2, 40, 90_000], 10);
    // Clock skew between the source broker and us can make a latency negative: counted as 0.
    metrics.events.onReplicated?.({ ...labels, queueId: 1 }, [-5], 1);
    const e = parseExposition(await metrics.text());
    const route = { route: "r", source_cluster: "a", target_cluster: "b" };
    assert.equal(total(e, "rmq_connector_replication_latency_seconds_count", route), 5);
    assert.equal(total(e, "rmq_connector_replication_latency_seconds_sum", route), 90.0425);
    const bucket = (le: string): number =>
      total(e, "rmq_connector_replication_latency_seconds_bucket", { ...route, le });
    assert.equal(bucket("0.001"), 2);
    assert.equal(bucket("0.0025"), 3);
    assert.equal(bucket("0.05"), 4);
    assert.equal(bucket("60"), 4);
    assert.equal(bucket("+Inf"), 5);
    assert.equal(LATENCY_BUCKETS_SECONDS[0], 0.001);
    assert.equal(LATENCY_BUCKETS_SECONDS[LATENCY_BUCKETS_SECONDS.length - 1], 60);
  });
});

describe("readiness", () => {
  const failure = (kind: string, message: string, atMs: number): QueueStatus["sendFailure"] => ({
    kind,
    message,
    atMs,
    sinceMs: atMs - 1000,
  });

  it("is ready when routes and queues run and no direction is failing now; past errors do not count", () => {
    assert.deepEqual(readinessProblems(fullStatus()), []);
    // A send error overcome long ago, a recent pull error already cleared by a later pull (an idle
    // queue's NO_NEW_MSG, so nothing synced since), a notice: history, shown but not failing.
    const overcome = queue({ lastError: { kind: "send", message: "x", atMs: NOW - 5000 } });
    const idleRecovered = queue({
      lastError: { kind: "pull", message: "timed out", atMs: NOW - 10 },
      lastSyncAtMs: undefined,
    });
    const notice = queue({ lastError: { kind: "offset_moved", message: "moved", atMs: NOW - 10 } });
    assert.deepEqual(readinessProblems(fullStatus([overcome, idleRecovered, notice])), []);
  });

  it("names the route or queue at fault, and each failing direction with its current error", () => {
    const status = fullStatus([
      queue({
        lastError: { kind: "send", message: "connect ECONNREFUSED", atMs: NOW - 100 },
        sendFailure: failure("send", "connect ECONNREFUSED", NOW - 100),
        // Synced after the failure began (an earlier batch) and pulls succeed: still failing.
        lastSyncAtMs: NOW - 50,
      }),
      queue({
        queueId: 1,
        state: "failed",
        lastError: { kind: "rejected", message: "refused at 3", atMs: NOW - 1 },
      }),
      queue({
        queueId: 2,
        lastError: { kind: "send", message: "busy", atMs: NOW - 10 },
        pullFailure: failure("pull", "PULL_MESSAGE (code 11, opaque 7) to b:1 timed out", NOW - 20),
        sendFailure: failure("send", "busy", NOW - 10),
      }),
    ]);
    const route = status.routes[0];
    assert.ok(route);
    route.state = "error";
    route.lastError = { message: "source topic orders does not exist", atMs: NOW - 50 };
    assert.deepEqual(readinessProblems(status), [
      "route east:orders->west is error: source topic orders does not exist",
      "queue east:orders->west orders broker-a#0 is failing (send): connect ECONNREFUSED",
      "queue east:orders->west orders broker-a#1 is failed (rejected): refused at 3",
      "queue east:orders->west orders broker-a#2 is failing (pull): PULL_MESSAGE (code 11, opaque 7) to b:1 timed out",
      "queue east:orders->west orders broker-a#2 is failing (send): busy",
    ]);
    route.state = "resolving";
    route.lastError = undefined;
    assert.match(
      readinessProblems(status)[0] ?? "",
      /route east:orders->west is resolving: not resolved yet/,
    );
    // However old, a failure under way counts: no window lets a target that is still down pass.
    assert.equal(
      readinessProblems(fullStatus([queue({ sendFailure: failure("send", "x", NOW - 3_600_000) })])).length,
      1,
    );
  });
});

describe("HTTP endpoint with a token", () => {
  const TOKEN = "status-token-c0ffee-42";
  const engine = { status: () => fullStatus() };
  const metrics = new ConnectorMetrics({ processMetrics: false });
  metrics.bind(engine);
  const servers: HttpServerHandle[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));
  const get = async (
    url: string,
    authorization?: string,
  ): Promise<{ status: number; body: string; auth: string }> => {
    const res = await fetch(url, {
      signal: AbortSignal.timeout(10_000),
      ...(authorization === undefined ? {} : { headers: { authorization } }),
    });
    return { status: res.status, body: await res.text(), auth: res.headers.get("www-authenticate") ?? "" };
  };
  const basic = (password: string): string => `Basic ${Buffer.from(`anyone:${password}`).toString("base64")}`;

  it("asks /api/status and the page for it (Bearer, or Basic's password for browsers); probes and /metrics stay open", async () => {
    const server = await startHttpServer({
      listen: "127.0.0.1:0",
      engine,
      metrics,
      logger: recordingLogger(),
      token: TOKEN,
    });
    servers.push(server);
    for (const path of ["/api/status", "/", "/index.html", "/nowhere"]) {
      for (const auth of [undefined, "Bearer wrong", `Bearer ${TOKEN}x`, basic("wrong"), `Token ${TOKEN}`]) {
        const r = await get(`${server.url}${path}`, auth);
        assert.equal(r.status, 401, `${path} with ${auth ?? "nothing"}`);
        assert.match(r.auth, /^Bearer realm="rmq-connector", Basic realm="rmq-connector"/);
        assert.ok(!r.body.includes(TOKEN));
      }
    }
    for (const auth of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`, basic(TOKEN)]) {
      const r = await get(`${server.url}/api/status`, auth);
      assert.equal(r.status, 200, auth);
      assert.equal((JSON.parse(r.body) as { ready: boolean }).ready, true);
      assert.equal((await get(`${server.url}/`, auth)).status, 200);
    }
    assert.equal((await get(`${server.url}/healthz`)).status, 200);
    assert.equal((await get(`${server.url}/readyz`)).status, 200);
    assert.equal((await get(`${server.url}/metrics`)).status, 200);
  });

  it("answers /readyz without the token, its reasons only with it; takes a Bearer token after any blanks", async () => {
    const denied = "cluster b denied sending to topic orders: User:alice has no permission";
    const failing = {
      status: () =>
        fullStatus([
          queue({ sendFailure: { kind: "denied", message: denied, atMs: NOW, sinceMs: NOW - 1000 } }),
        ]),
    };
    const server = await startHttpServer({
      listen: "127.0.0.1:0",
      engine: failing,
      metrics,
      logger: recordingLogger(),
      token: TOKEN,
    });
    servers.push(server);
    assert.deepEqual(await get(`${server.url}/readyz`), { status: 503, body: "not ready\n", auth: "" });
    const full = await get(`${server.url}/readyz`, `Bearer ${TOKEN}`);
    assert.equal(full.status, 503);
    assert.ok(full.body.includes(denied), full.body);
    assert.equal((await get(`${server.url}/api/status`, `Bearer   ${TOKEN}`)).status, 200);
  });

  it("with protectMetrics, /metrics asks for the token too", async () => {
    const server = await startHttpServer({
      listen: "127.0.0.1:0",
      engine,
      metrics,
      logger: recordingLogger(),
      token: TOKEN,
      protectMetrics: true,
    });
    servers.push(server);
    assert.equal((await get(`${server.url}/metrics`)).status, 401);
    const scraped = await get(`${server.url}/metrics`, `Bearer ${TOKEN}`);
    assert.equal(scraped.status, 200);
    assert.match(scraped.body, /rmq_connector_/);
    assert.equal((await get(`${server.url}/readyz`)).status, 200);
  });
});

describe("HTTP endpoint", () => {
  let status = fullStatus();
  const engine = { status: () => status };
  const metrics = new ConnectorMetrics({ processMetrics: false });
  metrics.bind(engine);
  let server: HttpServerHandle | undefined;
  after(() => server?.close());

  it("serves metrics, health, readiness, status JSON and the status page on an ephemeral port", async () => {
    server = await startHttpServer({ listen: "127.0.0.1:0", engine, metrics, logger: recordingLogger() });
    assert.equal(server.address.host, "127.0.0.1");
    assert.ok(server.address.port > 0);
    const base = server.url;

    const m = await httpGet(`${base}/metrics`);
    assert.equal(m.status, 200);
    assert.match(m.contentType, /^text\/plain; version=0\.0\.4/);
    assert.equal(total(parseExposition(m.body), "rmq_connector_replicated_messages_total"), 100);

    assert.deepEqual(await httpGet(`${base}/healthz`), {
      status: 200,
      contentType: "text/plain; charset=utf-8",
      body: "ok\n",
    });
    assert.equal((await httpGet(`${base}/readyz`)).status, 200);

    const page = await httpGet(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.contentType, /^text\/html/);
    assert.match(page.body, /<html/i);

    const api = await httpGet(`${base}/api/status?x=1`);
    assert.equal(api.status, 200);
    assert.match(api.contentType, /^application\/json/);
    const json = JSON.parse(api.body) as {
      now: number;
      ready: boolean;
      notReady: string[];
      name: string;
      routes: { name: string; state: string; lastError: unknown }[];
      queues: Record<string, unknown>[];
    };
    assert.ok(Math.abs(json.now - Date.now()) < 10_000);
    assert.equal(json.ready, true);
    assert.deepEqual(json.notReady, []);
    assert.equal(json.name, "east-to-west");
    assert.equal(json.routes[0]?.lastError, null, "absent values are null, so every key is present");
    const q0 = json.queues[0];
    assert.equal(q0?.["sourceMaxOffset"], "9007199254740993", "bigints as exact decimal strings");
    assert.equal(q0?.["lagMessages"], "25");
    assert.equal(q0?.["ackedOffset"], "100");
    assert.equal(q0?.["replicatedMessages"], 95);
    assert.deepEqual(q0?.["errorsByKind"], { send: 4, pull: 1 });

    assert.equal((await httpGet(`${base}/nothing-here`)).status, 404);
    assert.equal((await httpGet(`${base}/metrics`, "POST")).status, 405);
    const head = await httpGet(`${base}/healthz`, "HEAD");
    assert.equal(head.status, 200);
    assert.equal(head.body, "");

    status = fullStatus([
      queue({ state: "failed", lastError: { kind: "rejected", message: "refused", atMs: Date.now() } }),
    ]);
    const ready = await httpGet(`${base}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(
      ready.body,
      /^not ready\nqueue east:orders->west orders broker-a#0 is failed \(rejected\): refused\n$/,
    );
    const apiDown = JSON.parse((await httpGet(`${base}/api/status`)).body) as {
      ready: boolean;
      notReady: string[];
    };
    assert.equal(apiDown.ready, false);
    assert.equal(apiDown.notReady.length, 1);

    await server.close();
    await assert.rejects(httpGet(`${base}/healthz`), "closed");
  });

  it("fails to start, naming the address, when the port is taken", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    try {
      const port = (blocker.address() as { port: number }).port;
      await assert.rejects(
        startHttpServer({ listen: `127.0.0.1:${port}`, engine, metrics, logger: recordingLogger() }),
        (err: Error & { code?: string }) =>
          err.code === "RMQ_METRICS_LISTEN" &&
          err.message.includes(`127.0.0.1:${port}`) &&
          /EADDRINUSE/.test(err.message),
      );
    } finally {
      blocker.close();
    }
  });
});

describe("PerMessageHistogram", () => {
  it("exposes what prom-client's Histogram exposes for the same observations", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const options = { name: "h_seconds", help: 'help with "quotes"', labelNames: ["route", "x"] as const };
    const fast = new PerMessageHistogram({ ...options, buckets: LATENCY_BUCKETS_SECONDS, registers: [ours] });
    const reference = new Histogram({
      ...options,
      labelNames: [...options.labelNames],
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers: [theirs],
    });
    const series = [
      { route: "r1", x: "a" },
      { route: 'r"2\\', x: "line\nbreak" },
    ];
    const values = [0, 0.001, 0.0010001, 0.003, 0.5, 1, 59.9, 60, 61, 1e9];
    for (const [i, labels] of series.entries()) {
      for (const v of values.slice(i)) {
        fast.series(labels).observe(v);
        reference.observe(labels, v);
      }
    }
    assert.equal(await ours.metrics(), await theirs.metrics());
    // A series kept by its caller still counts after a reset (ConnectorMetrics keeps one per route).
    const kept = fast.series({ route: "r1", x: "a" });
    ours.resetMetrics();
    theirs.resetMetrics();
    assert.equal(await ours.metrics(), await theirs.metrics());
    kept.observe(0.2);
    reference.observe({ route: "r1", x: "a" }, 0.2);
    assert.equal(await ours.metrics(), await theirs.metrics());
  });
});
