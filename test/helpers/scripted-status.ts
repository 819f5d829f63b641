/**
 * A scripted connector for the status page tests: `/api/status` answers that look like a real
 * connector's (several routes, one with a regex source and a `${topic}` target template, several
 * queues each, one queue failed, a route in error), computed from the poll number so a test knows
 * exactly what the page must show, and served by a small HTTP server with the page at `/`.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { statusPageHtml } from "../../src/observability/status-page.js";

/** The page's poll interval (src/observability/status-page.ts), ms. */
export const POLL_MS = 2000;
/** The time of the first answer (the page's fake clock is paused there), ms since the epoch. */
export const T0 = Date.UTC(2026, 11, 3, 9, 30, 0);
/** A route named as the config derives it for a regex source and a target topic template. */
export const PAY_ROUTE = "east:/^pay_.*/->west:east_${topic}";
/** A route whose name and topic are HTML: the page must show them as text. */
export const HOSTILE_ROUTE = '<img src=x onerror="window.__xss=2">';
export const HOSTILE_TOPIC = '<svg onload="window.__xss=3">';

/** A route of the scripted status. */
export interface ScriptedRoute {
  name: string;
  sourceCluster: string;
  targetCluster: string;
  state: string;
  sourceTopics: string[];
  lastError?: { message: string; atMs: number };
}

/** A queue of the scripted status, and how it behaves over the polls. */
export interface ScriptedQueue {
  route: string;
  sourceTopic: string;
  targetTopic: string;
  sourceBroker: string;
  queueId: number;
  targetBroker: string;
  /** Mean messages per second; the rate swings ±30 % around it, in a wave of `phase`. */
  meanRate: number;
  phase: number;
  /** From this poll on the queue is failed: nothing more replicated, lag grows. */
  failedAtPoll?: number;
  errorsByKind?: Record<string, number>;
  lastError?: { kind: string; message: string };
  /** A send failing now (the queue keeps running and retrying): its error, since 30 s ago. */
  sendFailure?: { kind: string; message: string };
}

/** Options of {@link scriptedStatus}. */
export interface ScriptedOptions {
  /** Add a hostile route and topic, an HTML error message and a lag beyond 2^53. */
  hostile?: boolean;
}

/** Routes in the order /api/status lists them (the engine's: config order). */
export function scriptedRoutes(options: ScriptedOptions = {}): ScriptedRoute[] {
  const routes: ScriptedRoute[] = [
    {
      name: "east-orders",
      sourceCluster: "east",
      targetCluster: "west",
      state: "running",
      sourceTopics: ["orders"],
    },
    {
      name: PAY_ROUTE,
      sourceCluster: "east",
      targetCluster: "west",
      state: "running",
      sourceTopics: ["pay_orders", "pay_refunds", "pay_settlements"],
    },
    {
      name: "west:inventory->east:inventory-dr",
      sourceCluster: "west",
      targetCluster: "east",
      state: "running",
      sourceTopics: ["inventory"],
    },
    {
      name: "west-pay",
      sourceCluster: "west",
      targetCluster: "east",
      state: "error",
      sourceTopics: [],
      lastError: {
        message: options.hostile
          ? '<img src=x onerror="window.__xss=1"> topic pay missing'
          : "RMQ_TOPIC_NOT_EXIST: topic pay does not exist on cluster west",
        atMs: T0 - 4000,
      },
    },
  ];
  if (options.hostile) {
    routes.push({
      name: HOSTILE_ROUTE,
      sourceCluster: "east",
      targetCluster: "west",
      state: "running",
      sourceTopics: [HOSTILE_TOPIC],
    });
  }
  return routes;
}

/** Queues as the engine has them (not in page order: the page sorts them). */
export function scriptedQueues(options: ScriptedOptions = {}): ScriptedQueue[] {
  const queues: ScriptedQueue[] = [];
  const orders = ["broker-a#1", "broker-b#0", "broker-a#0", "broker-b#1"];
  orders.forEach((q, i) => {
    const [broker, id] = q.split("#") as [string, string];
    queues.push({
      route: "east-orders",
      sourceTopic: "orders",
      targetTopic: "orders",
      sourceBroker: broker,
      queueId: Number(id),
      targetBroker: broker === "broker-a" ? "broker-w1" : "broker-w2",
      meanRate: [48, 61, 55, 39][i] ?? 50,
      phase: i,
      ...(q === "broker-a#1"
        ? {
            errorsByKind: { send: 2, pull: 1 },
            lastError: { kind: "send", message: "RMQ_BROKER_BUSY: broker busy" },
          }
        : {}),
    });
  });
  for (const [t, topic] of ["pay_orders", "pay_refunds", "pay_settlements"].entries()) {
    for (const queueId of [0, 1]) {
      const failed = topic === "pay_settlements" && queueId === 1;
      queues.push({
        route: PAY_ROUTE,
        sourceTopic: topic,
        targetTopic: `east_${topic}`,
        sourceBroker: "broker-a",
        queueId,
        targetBroker: "broker-w1",
        meanRate: [22, 6, 13][t] ?? 10,
        phase: 2 * t + queueId,
        ...(failed
          ? {
              failedAtPoll: 40,
              errorsByKind: { send: 4 },
              lastError: {
                kind: "send",
                message: "RMQ_NO_PERMISSION: the topic[east_pay_settlements] sending message is forbidden",
              },
            }
          : {}),
      });
    }
  }
  for (const queueId of [0, 1, 2]) {
    queues.push({
      route: "west:inventory->east:inventory-dr",
      sourceTopic: "inventory",
      targetTopic: "inventory-dr",
      sourceBroker: "broker-w1",
      queueId,
      targetBroker: "broker-a",
      meanRate: 9,
      phase: 5 + queueId,
      ...(queueId === 2
        ? {
            errorsByKind: { send: 4 },
            lastError: { kind: "send", message: "RMQ_CONNECTION: connection to 10.1.0.7:10911 lost" },
            sendFailure: { kind: "send", message: "RMQ_CONNECTION: connection to 10.1.0.7:10911 lost" },
          }
        : {}),
    });
  }
  if (options.hostile) {
    queues.push({
      route: HOSTILE_ROUTE,
      sourceTopic: HOSTILE_TOPIC,
      targetTopic: HOSTILE_TOPIC,
      sourceBroker: "broker-a",
      queueId: 0,
      targetBroker: "broker-w1",
      meanRate: 1,
      phase: 0,
    });
  }
  return queues;
}

/** The answer's clock at poll `poll` (1 = the first answer), ms. */
export function pollTime(poll: number): number {
  return T0 + (poll - 1) * POLL_MS;
}

/** Messages the queue replicated between poll - 1 and poll (or would have, but for its failure). */
function replicatedAt(q: ScriptedQueue, poll: number, evenIfFailed: boolean): number {
  if (poll <= 1) return 0;
  if (!evenIfFailed && q.failedAtPoll !== undefined && poll >= q.failedAtPoll) return 0;
  const rate = q.meanRate * (1 + 0.3 * Math.sin(poll / 6 + q.phase) + 0.08 * Math.sin(poll * 1.7 + q.phase));
  return Math.round((rate * POLL_MS) / 1000);
}

/** Messages the queue replicated up to poll `poll` (from a non-zero start, as after hours of running). */
export function replicatedUpTo(q: ScriptedQueue, poll: number, evenIfFailed = false): number {
  let total = Math.round(q.meanRate * 3600);
  for (let p = 2; p <= poll; p++) total += replicatedAt(q, p, evenIfFailed);
  return total;
}

/** The sum of {@link replicatedUpTo} over a route's queues. */
export function routeReplicated(route: string, poll: number, options: ScriptedOptions = {}): number {
  return scriptedQueues(options)
    .filter((q) => q.route === route)
    .reduce((sum, q) => sum + replicatedUpTo(q, poll), 0);
}

/** The /api/status answer at poll `poll` (1 = the first). */
export function scriptedStatus(poll: number, options: ScriptedOptions = {}): object {
  const now = pollTime(poll);
  const routes = scriptedRoutes(options);
  const queues = scriptedQueues(options).map((q) => {
    const failed = q.failedAtPoll !== undefined && poll >= q.failedAtPoll;
    const replicated = replicatedUpTo(q, poll);
    // Had it not failed, this many more would have been replicated: its lag.
    const missed = replicatedUpTo(q, poll, true) - replicated;
    const acked = 120_000n + BigInt(replicated);
    const inFlight = failed ? 0 : Math.max(1, Math.round(q.meanRate / 20));
    const lag =
      options.hostile && q.route === "east-orders" && q.sourceBroker === "broker-a" && q.queueId === 0
        ? "12345678901234567890"
        : String(missed + inFlight);
    const failedAtMs = q.failedAtPoll === undefined ? now : pollTime(q.failedAtPoll);
    return {
      route: q.route,
      sourceCluster: routes.find((r) => r.name === q.route)?.sourceCluster,
      targetCluster: routes.find((r) => r.name === q.route)?.targetCluster,
      sourceTopic: q.sourceTopic,
      sourceBroker: q.sourceBroker,
      queueId: q.queueId,
      targetTopic: q.targetTopic,
      targetBroker: q.targetBroker,
      targetQueueId: q.queueId,
      state: failed ? "failed" : "running",
      pullOffset: String(acked + BigInt(inFlight)),
      ackedOffset: String(acked),
      committedOffset: String(acked - BigInt(Math.round(q.meanRate * 3))),
      sourceMaxOffset: String(acked + BigInt(lag)),
      lagMessages: lag,
      lagMs: failed ? now - failedAtMs : 30 + ((q.phase * 17) % 40),
      replicatedMessages: replicated,
      replicatedBytes: replicated * 512,
      filteredMessages: 0,
      loopSkippedMessages: 0,
      deadLetteredMessages: 0,
      sendRetries: q.errorsByKind?.["send"] ?? 0,
      unknownOutcomes: 0,
      settledLandedMessages: 0,
      pulls: 10 * poll,
      sends: 10 * poll,
      inFlightMessages: inFlight,
      inFlightBytes: inFlight * 512,
      lastSyncAtMs: failed ? failedAtMs - POLL_MS : now - 150 - ((q.phase * 131) % 900),
      lastSourceStoreMs: now - 200,
      lastLatencyMs: 35,
      errorsByKind: failed || q.failedAtPoll === undefined ? (q.errorsByKind ?? {}) : {},
      ...(q.lastError && (failed || q.failedAtPoll === undefined)
        ? { lastError: { ...q.lastError, atMs: failed ? failedAtMs : now - 3000 } }
        : {}),
      pullFailure: null,
      sendFailure: q.sendFailure ? { ...q.sendFailure, atMs: now - 1000, sinceMs: now - 30_000 } : null,
      commits: poll,
      lastCommitAtMs: now - 500,
    };
  });
  const probe = (route: string, sourceCluster: string, targetCluster: string, latencyMs: number): object => ({
    route,
    sourceCluster,
    targetCluster,
    state: "running",
    sentTotal: poll,
    ackedTotal: poll,
    lastSentAtMs: now - 900,
    lastAckedAtMs: now - 800,
    lastLatencyMs: latencyMs,
    lastError: null,
  });
  return {
    name: "dr-east-west",
    startedAtMs: T0 - 3_725_000,
    now,
    ready: false,
    notReady: ["route west-pay is error: topic pay missing"],
    routes,
    probes: [probe("east-orders", "east", "west", 12), probe(PAY_ROUTE, "east", "west", 18)],
    queues,
  };
}

/** A server with the page at `/` and `/api/status` answered by `answer(n)` for its n-th call. */
export async function serveScripted(
  answer: (call: number) => { status: 200; body: object } | { status: number; body: string },
): Promise<{ url: string; calls(): number; close(): Promise<void> }> {
  let calls = 0;
  const server = createServer((req, res) => {
    if (req.url === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(statusPageHtml());
    } else if (req.url === "/api/status") {
      const a = answer(++calls);
      if (typeof a.body === "string") res.writeHead(a.status).end(a.body);
      else res.writeHead(a.status, { "content-type": "application/json" }).end(JSON.stringify(a.body));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls: () => calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
