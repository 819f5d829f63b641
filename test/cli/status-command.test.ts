/**
 * `rmq-connector status`: the tables it prints for a known /api/status, and the real command
 * (node dist/src/cli/main.js) against a scripted HTTP server: tables, --json, and one clear line
 * with exit 1 when the connector is unreachable or answers something else.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { formatStatus, groupDigits, humanDuration, parseApiStatus } from "../../src/cli/commands/status.js";
import { runCli as cli } from "../helpers/cli.js";

const NOW = 1_760_000_000_000;

/** What /api/status serves (http-server.ts statusJson): bigints as strings, absent values null. */
function apiStatus(): Record<string, unknown> {
  const queue = (queueId: number, extra: object = {}): object => ({
    state: "running",
    pullOffset: "1500",
    ackedOffset: "1500",
    replicatedMessages: 1500,
    replicatedBytes: 150000,
    filteredMessages: 0,
    loopSkippedMessages: 0,
    deadLetteredMessages: 0,
    sendRetries: 0,
    unknownOutcomes: 0,
    settledLandedMessages: 0,
    pulls: 10,
    sends: 10,
    inFlightMessages: 4,
    inFlightBytes: 400,
    lastSyncAtMs: NOW - 1500,
    lastSourceStoreMs: NOW - 1600,
    oldestPendingStoreMs: null,
    lastLatencyMs: 100,
    lastError: null,
    pullFailure: null,
    sendFailure: null,
    errorsByKind: {},
    route: "east-orders",
    sourceCluster: "east",
    targetCluster: "west",
    sourceTopic: "orders",
    sourceBroker: "broker-a",
    queueId,
    targetTopic: "orders",
    targetBroker: "broker-b",
    targetQueueId: queueId,
    committedOffset: "1490",
    sourceMaxOffset: "1510",
    lagMessages: "10",
    lagMs: 2500,
    commits: 3,
    lastCommitAtMs: NOW - 200,
    ...extra,
  });
  return {
    now: NOW,
    ready: false,
    notReady: ["route west-pay is error: topic pay not found"],
    name: "demo-connector",
    startedAtMs: NOW - 3_725_000,
    routes: [
      {
        name: "east-orders",
        sourceCluster: "east",
        targetCluster: "west",
        state: "running",
        sourceTopics: ["orders"],
        lastError: null,
      },
      {
        name: "west-pay",
        sourceCluster: "west",
        targetCluster: "east",
        state: "error",
        sourceTopics: [],
        lastError: { message: "topic pay not found\n  at broker stack", atMs: NOW - 4000 },
      },
    ],
    queues: [
      queue(1, {
        state: "backoff",
        lagMessages: "12345678901234567890",
        lastSyncAtMs: null,
        committedOffset: null,
        errorsByKind: { send: 2, pull: 1 },
        lastError: { kind: "send", message: "RMQ_BROKER_BUSY: broker busy", atMs: NOW - 3000 },
        // Not running: its state says more than the failure under way.
        sendFailure: {
          kind: "send",
          message: "RMQ_BROKER_BUSY: broker busy",
          atMs: NOW - 3000,
          sinceMs: NOW - 9000,
        },
      }),
      queue(0, {
        sendFailure: { kind: "send", message: "RMQ_CONNECTION: lost", atMs: NOW - 1000, sinceMs: NOW - 5000 },
      }),
    ],
  };
}

describe("status formatting", () => {
  it("groups digits of numbers and of decimal strings beyond 2^53", () => {
    assert.equal(groupDigits(0), "0");
    assert.equal(groupDigits(1234), "1,234");
    assert.equal(groupDigits("12345678901234567890"), "12,345,678,901,234,567,890");
    assert.equal(groupDigits("-1000"), "-1,000");
    assert.equal(groupDigits("?"), "?");
  });

  it("prints durations for people", () => {
    assert.equal(humanDuration(850), "850 ms");
    assert.equal(humanDuration(4200), "4.2 s");
    assert.equal(humanDuration(12_000), "12 s");
    assert.equal(humanDuration(185_000), "3m05s");
    assert.equal(humanDuration(3_725_000), "1h02m");
    assert.equal(humanDuration(-5), "0 ms");
  });

  it("prints the header, routes, queues sorted, and the last errors newest first", () => {
    const text = formatStatus(parseApiStatus(apiStatus()), "http://127.0.0.1:9464/api/status");
    const lines = text.split("\n");
    assert.equal(
      lines[0],
      "connector demo-connector  up 1h02m  NOT READY  (http://127.0.0.1:9464/api/status)",
    );
    assert.equal(lines[1], "  not ready: route west-pay is error: topic pay not found");
    assert.equal(lines[2], "");
    assert.match(lines[3] ?? "", /^ROUTE\s+STATE\s+CLUSTERS\s+QUEUES\s+REPLICATED\s+IN FLIGHT\s+LAG MSGS/);
    const east = (lines[4] ?? "").split(/\s{2,}/);
    assert.deepEqual(east, [
      "east-orders",
      "running",
      "east -> west",
      "2",
      "3,000",
      "8",
      "12,345,678,901,234,567,900",
      "2.5 s",
      "1.5 s ago",
    ]);
    const pay = (lines[5] ?? "").split(/\s{2,}/);
    assert.deepEqual(pay, [
      "west-pay",
      "error",
      "west -> east",
      "0",
      "0",
      "0",
      "-",
      "0 ms",
      "never",
      "topic pay not found | at broker stack",
    ]);
    assert.equal(lines[6], "");
    assert.match(lines[7] ?? "", /^ROUTE\s+TOPIC\s+QUEUE\s+TARGET\s+STATE\s+ACKED\s+COMMITTED/);
    // Sorted by queue id although the API listed queue 1 first.
    assert.deepEqual((lines[8] ?? "").split(/\s{2,}/), [
      "east-orders",
      "orders",
      "broker-a#0",
      "west orders broker-b#0",
      "failing (send)",
      "1,500",
      "1,490",
      "10",
      "2.5 s",
      "1.5 s ago",
      "1,500",
      "0",
    ]);
    assert.deepEqual((lines[9] ?? "").split(/\s{2,}/), [
      "east-orders",
      "orders",
      "broker-a#1",
      "west orders broker-b#1",
      "backoff",
      "1,500",
      "-",
      "12,345,678,901,234,567,890",
      "2.5 s",
      "never",
      "1,500",
      "3",
    ]);
    // Numbers are right-aligned: the ACKED column ends at the same place in every row.
    const ackedEnd = (line: string): number => line.indexOf("ACKED") + "ACKED".length;
    const header = lines[7] ?? "";
    assert.equal((lines[8] ?? "").indexOf("1,500") + "1,500".length, ackedEnd(header));
    assert.deepEqual(lines.slice(10), [
      "",
      "LAST ERRORS",
      "     3.0 s ago  east-orders orders broker-a#1 (send): RMQ_BROKER_BUSY: broker busy",
      "     4.0 s ago  route west-pay: topic pay not found | at broker stack",
      "",
    ]);
  });

  it("refuses a body that is not a connector status, and says none when there is nothing", () => {
    assert.throws(() => parseApiStatus({ status: "UP" }), /not a connector status/);
    assert.throws(() => parseApiStatus([]), /not a connector status/);
    const empty = formatStatus(
      parseApiStatus({ name: "x", startedAtMs: 0, now: 1000, routes: [], queues: [] }),
    );
    assert.equal(empty, "connector x  up 1.0 s\n\nno routes\n\nno queues\n");
  });
});

describe("rmq-connector status (process, scripted HTTP server)", () => {
  let server: Server;
  let base: string;
  let answer: { status: number; body: string } = { status: 200, body: "" };

  before(async () => {
    server = createServer((req, res) => {
      if (req.url !== "/api/status") {
        res.writeHead(404).end("not found\n");
        return;
      }
      res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("prints the tables, and --json the body as it came", async () => {
    answer = { status: 200, body: JSON.stringify(apiStatus()) };
    const run = await cli(["status", "--url", base]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "");
    assert.equal(run.stdout, formatStatus(parseApiStatus(apiStatus()), `${base}/api/status`));
    const json = await cli(["status", "--url", `${base}/`, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), apiStatus());
  });

  it("exits 1 with one line when the connector answers an error or something else", async () => {
    answer = { status: 500, body: "boom" };
    let run = await cli(["status", "--url", base]);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, "");
    assert.match(
      run.stderr,
      /^rmq-connector status: http:\/\/127\.0\.0\.1:\d+\/api\/status answered HTTP 500 /,
    );
    assert.equal(run.stderr.split("\n").length, 2, run.stderr);

    answer = { status: 200, body: '{"status":"UP"}' };
    run = await cli(["status", "--url", base]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^rmq-connector status: .*: the answer is not a connector status/);
    assert.equal(run.stderr.split("\n").length, 2, run.stderr);
  });

  it("exits 1 with one line when nothing listens", async () => {
    // A port that was free a moment ago: bind, read it, close.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const run = await cli(["status", "--url", `http://127.0.0.1:${port}`]);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, "");
    assert.equal(
      run.stderr,
      `rmq-connector status: cannot reach the connector at http://127.0.0.1:${port}/api/status (connect ECONNREFUSED 127.0.0.1:${port}); is the connector running, and is this its metrics.listen address?\n`,
    );
  });

  it("exits 2 on bad arguments", async () => {
    const run = await cli(["status", "--url", "not a url"]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^rmq-connector: RMQ_USAGE: --url: "not a url" is not a URL/);
    assert.equal((await cli(["status", "--timeout", "5"])).code, 2);
  });
});
