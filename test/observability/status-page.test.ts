/**
 * The status page in a real headless Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core): first against a scripted /api/status (rendering, escaping, TPS charts, an
 * unreachable connector), then against a real engine replicating between two real clusters, whose
 * numbers must move on the page while messages flow.
 *
 * Without Chromium the browser tests skip with how to install it; with CI=true they fail instead,
 * because CI (.ci/run) installs it and must not pass by skipping.
 */
import { after, before, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import type { MessageQueue } from "../../src/client/types.js";
import { ReplicationEngine } from "../../src/connector/engine.js";
import { startHttpServer, type HttpServerHandle } from "../../src/observability/http-server.js";
import { ConnectorMetrics } from "../../src/observability/metrics.js";
import { statusPageHtml } from "../../src/observability/status-page.js";
import { recordingLogger, replicatedTotal, testConfig, waitForStatus } from "../helpers/replication.js";
import { runCli as cli } from "../helpers/cli.js";
import { uniqueName, useSandbox } from "../helpers/sandbox.js";

const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
/** The flags this machine kind needs: no sandbox as root, and no background calls to Google. */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const INSTALL_HINT = `Chromium not found at ${CHROMIUM}: install it with "apt-get install -y chromium" (Debian), or set CHROMIUM_PATH`;

/** Skips the test when Chromium is missing, except in CI, where that is a failure. */
function requireChromium(t: TestContext): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env["CI"] === "true") assert.fail(`${INSTALL_HINT} (CI=true: the status page test must run)`);
  t.skip(INSTALL_HINT);
  return false;
}

/** A headless Chromium with a fresh, empty profile; `close()` removes the profile. */
async function openBrowser(): Promise<{ context: BrowserContext; page: Page; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), "rmq-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  return {
    context,
    page,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
      assert.deepEqual(pageErrors, [], "the page threw");
    },
  };
}

/** Text of the first element matching `selector`, once it is present. */
async function textOf(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).first().textContent({ timeout: 10_000 })) ?? "";
}

/** Resolves when `body[data-polls]` exceeds `n` (the page finished one more successful poll). */
async function pollsAfter(page: Page, n: number, timeoutMs = 10_000): Promise<number> {
  // Expressions as strings: this project compiles without the DOM library.
  await page.waitForFunction(`Number(document.body.dataset.polls) > ${n}`, undefined, { timeout: timeoutMs });
  return Number(await page.evaluate("document.body.dataset.polls"));
}

// ---------------------------------------------------------------------------------------------
// A scripted /api/status: the page alone, fast and deterministic.

function fakeStatus(replicated: number, now: number): object {
  const queue = (queueId: number, extra: object = {}): object => ({
    state: "running",
    pullOffset: String(1000 + replicated),
    ackedOffset: String(1000 + replicated),
    replicatedMessages: replicated,
    replicatedBytes: replicated * 100,
    filteredMessages: 0,
    loopSkippedMessages: 0,
    deadLetteredMessages: 0,
    sendRetries: 0,
    pulls: 10,
    sends: 10,
    inFlightMessages: 0,
    inFlightBytes: 0,
    lastSyncAtMs: now - 1500,
    lastSourceStoreMs: now - 1600,
    lastLatencyMs: 100,
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
    committedOffset: String(990 + replicated),
    sourceMaxOffset: String(1000 + replicated + 5),
    lagMessages: "12345678901234567890",
    lagMs: 2500,
    commits: 3,
    lastCommitAtMs: now - 200,
    ...extra,
  });
  return {
    name: "demo-connector",
    startedAtMs: now - 3_725_000,
    now,
    ready: false,
    notReady: ["route west-pay is error: topic pay missing"],
    routes: [
      {
        name: "east-orders",
        sourceCluster: "east",
        targetCluster: "west",
        state: "running",
        sourceTopics: ["orders"],
      },
      {
        name: "west-pay",
        sourceCluster: "west",
        targetCluster: "east",
        state: "error",
        sourceTopics: [],
        lastError: { message: '<img src=x onerror="window.__xss=1"> topic pay missing', atMs: now - 4000 },
      },
    ],
    probes: [
      {
        route: "east-orders",
        sourceCluster: "east",
        targetCluster: "west",
        state: "running",
        sentTotal: 10,
        ackedTotal: 10,
        lastSentAtMs: now - 900,
        lastAckedAtMs: now - 800,
        lastLatencyMs: 12,
        lastError: null,
      },
    ],
    queues: [
      queue(0),
      queue(1, {
        state: "backoff",
        errorsByKind: { send: 2, pull: 1 },
        lastError: { kind: "send", message: "RMQ_BROKER_BUSY: broker busy", atMs: now - 3000 },
      }),
    ],
  };
}

describe("status page (scripted /api/status, headless Chromium)", () => {
  let server: Server;
  let base: string;
  let replicated = 0;
  let failing = false;

  before(async () => {
    server = createServer((req, res) => {
      if (req.url === "/") {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(statusPageHtml());
      } else if (req.url === "/api/status") {
        if (failing) {
          res.writeHead(503).end("down");
          return;
        }
        replicated += 250;
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify(fakeStatus(replicated, Date.now())));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("is one self-contained document: no external URL, inline script and style", () => {
    const html = statusPageHtml();
    assert.match(html, /^<!doctype html>/);
    assert.doesNotMatch(html, /(src|href)\s*=\s*["']?(https?:)?\/\//i);
    assert.doesNotMatch(html, /<script[^>]+src=/i);
    assert.doesNotMatch(html, /<link\b/i);
  });

  it("renders routes, queues, errors and a TPS chart, and numbers move at each poll", async (t) => {
    if (!requireChromium(t)) return;
    const browser = await openBrowser();
    try {
      const { page } = browser;
      const external: string[] = [];
      page.on("request", (r) => {
        if (!r.url().startsWith(base)) external.push(r.url());
      });
      await page.goto(base, { waitUntil: "load" });
      let polls = await pollsAfter(page, 0);
      const route = '[data-route="east-orders"]';
      assert.equal(await textOf(page, `${route} [data-field="state"]`), "running");
      assert.equal(await textOf(page, '[data-route="west-pay"] [data-field="state"]'), "error");
      const first = await textOf(page, `${route} [data-field="replicated"]`);
      polls = await pollsAfter(page, polls);
      await pollsAfter(page, polls);
      const later = await textOf(page, `${route} [data-field="replicated"]`);
      assert.notEqual(later, first, "replicated should move between polls");
      // Two queues of 250 more messages per poll over ~2 s: about 250 msg/s.
      const tps = Number((await textOf(page, `${route} [data-field="tps"]`)).replace(/,/g, ""));
      assert.ok(tps > 100 && tps < 600, `tps ${tps}`);
      const points = await page.locator(`${route} svg[data-field="sparkline"]`).getAttribute("data-points");
      assert.ok(Number(points) >= 2, `sparkline points ${points}`);
      // bigints beyond 2^53 arrive as strings and are shown exactly.
      assert.equal(
        await textOf(page, '[data-queue="east-orders|broker-a#0"] [data-field="lag"]'),
        "12,345,678,901,234,567,890",
      );
      assert.equal(await textOf(page, '[data-queue="east-orders|broker-a#1"] [data-field="errors"]'), "3");
      assert.equal(await page.locator("tr[data-queue]").count(), 2);
      // Error messages are text, never HTML.
      assert.match(
        await textOf(page, '[data-route="west-pay"] [data-field="last-error"]'),
        /<img src=x onerror=.*topic pay missing/,
      );
      assert.equal(await page.evaluate("window.__xss"), undefined);
      assert.match(await textOf(page, "#errors"), /RMQ_BROKER_BUSY: broker busy/);
      assert.equal(await textOf(page, "#ready"), "not ready");
      assert.equal(await textOf(page, `${route} [data-field="probe-latency"]`), "12 ms");
      assert.equal(await textOf(page, `${route} [data-field="probe-age"]`), "800 ms ago");
      assert.equal(await textOf(page, '[data-route="west-pay"] [data-field="probe"]'), "");
      assert.match((await page.locator("#ready").getAttribute("title")) ?? "", /west-pay is error/);
      assert.deepEqual(external, [], "the page must not reach outside its origin");
      await page.screenshot({ path: join(tmpdir(), "status-page-scripted.png"), fullPage: true });

      // The connector goes away: the page says so and keeps the last numbers.
      failing = true;
      await page.waitForSelector('#connection[data-state="error"]', { timeout: 10_000 });
      assert.match(await textOf(page, "#connection"), /cannot reach the connector \(HTTP 503\)/);
      assert.equal(await textOf(page, `${route} [data-field="state"]`), "running");
      failing = false;
      await page.waitForSelector('#connection[data-state="ok"]', { timeout: 10_000 });
    } finally {
      failing = false;
      await browser.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The real thing: an engine replicating between two real clusters, its HTTP endpoint, the page.

describe("status page and status command against a running connector (real clusters)", () => {
  const sandbox = useSandbox(2);
  const QUEUES = 4;
  let a: RocketMQClient | undefined;
  let engine: ReplicationEngine | undefined;
  let http: HttpServerHandle | undefined;
  let topic: string;
  let route: string;
  let queues: MessageQueue[];

  before(async () => {
    const [ca, cb] = await sandbox.clusters();
    assert.ok(ca && cb);
    a = new RocketMQClient({ namesrv: ca.namesrv });
    topic = uniqueName("status-page");
    await a.admin.createTopic({ topic, queueNums: QUEUES });
    queues = (await a.admin.getTopicRoute(topic, { refresh: true })).writeQueues();
    const config = testConfig(uniqueName("status-page-connector"), { a: ca.namesrv, b: cb.namesrv }, [
      { from: "a", to: "b", topic },
    ]);
    const routeName = config.routes[0]?.name;
    assert.ok(routeName !== undefined);
    route = routeName;
    const logger = recordingLogger();
    const metrics = new ConnectorMetrics({ processMetrics: false });
    engine = new ReplicationEngine(config, logger, metrics.events);
    metrics.bind(engine);
    http = await startHttpServer({ listen: "127.0.0.1:0", engine, metrics, logger });
    await engine.start();
    await waitForStatus(
      engine,
      (st) => st.queues.length === QUEUES && st.routes.every((r) => r.state === "running"),
    );
  });
  after(async () => {
    await http?.close();
    await engine?.stop({ drain: false });
    a?.close();
  });

  it("the page shows the route, and its replicated count moves while messages flow", async (t) => {
    if (!requireChromium(t)) return;
    assert.ok(http && engine && a);
    const browser = await openBrowser();
    const producer = a.producer();
    let produced = 0;
    let batches = 0;
    let producing = true;
    // Messages keep flowing in the background, round robin over the queues, until told to stop.
    const flow = (async () => {
      while (producing) {
        const queue = queues[batches++ % queues.length] as MessageQueue;
        const batch = Array.from({ length: 20 }, (_, i) => ({
          topic,
          body: Buffer.from(`status-page-${produced + i}`),
        }));
        await producer.sendBatch(batch, { queue });
        produced += batch.length;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      const { page } = browser;
      await page.goto(http.url, { waitUntil: "load" });
      const card = `[data-route="${route}"]`;
      await page.waitForSelector(card, { timeout: 10_000 });
      assert.equal(await textOf(page, `${card} [data-field="state"]`), "running");
      assert.equal(await textOf(page, `${card} [data-field="name"]`), route);
      assert.equal(await page.locator(`tr[data-queue-route="${route}"]`).count(), QUEUES);
      // The number on the page moves at least twice while messages flow.
      const count = async (): Promise<number> =>
        Number((await textOf(page, `${card} [data-field="replicated"]`)).replace(/,/g, ""));
      const seen = [await count()];
      const deadline = Date.now() + 30_000;
      while (seen.length < 3 && Date.now() < deadline) {
        await pollsAfter(page, Number(await page.evaluate("document.body.dataset.polls")));
        const n = await count();
        if (n !== seen[seen.length - 1]) seen.push(n);
      }
      assert.equal(seen.length, 3, `replicated on the page: ${seen.join(" -> ")}`);
      assert.ok((seen[2] ?? 0) > (seen[1] ?? 0) && (seen[1] ?? 0) > (seen[0] ?? 0), seen.join(" -> "));
      const tps = Number((await textOf(page, `${card} [data-field="tps"]`)).replace(/,/g, ""));
      assert.ok(tps > 0, `msg/s on the page: ${tps}`);
      assert.notEqual(await textOf(page, `${card} [data-field="last-sync"]`), "never");
      // A few more polls, so the screenshot (for people checking the layout) shows a chart.
      await pollsAfter(page, Number(await page.evaluate("document.body.dataset.polls")) + 2);
      await page.screenshot({ path: join(tmpdir(), "status-page.png"), fullPage: true });

      // Once the flow stops, the page converges on exactly what was produced.
      producing = false;
      await flow;
      await waitForStatus(engine, () => replicatedTotal(engine as ReplicationEngine) === produced);
      await page.waitForFunction(
        `document.querySelector(${JSON.stringify(`${card} [data-field="replicated"]`)}).textContent.replace(/,/g, "") === "${produced}"`,
        undefined,
        { timeout: 10_000 },
      );
    } finally {
      producing = false;
      await flow.catch(() => undefined);
      await browser.close();
    }
  });

  it("rmq-connector status --url prints the same route and queues", async () => {
    assert.ok(http && engine);
    const total = replicatedTotal(engine);
    const run = await cli(["status", "--url", http.url]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "");
    const lines = run.stdout.split("\n");
    assert.match(
      lines[0] ?? "",
      /^connector status-page-connector-\S+ {2}up \d[^ ]*( m?s)? {2}ready {2}\(http:/,
    );
    const routeRow = lines.find((l) => l.startsWith(`${route}  `));
    assert.ok(routeRow, run.stdout);
    const cells = routeRow.split(/\s{2,}/);
    assert.deepEqual(cells.slice(0, 5), [
      route,
      "running",
      "a -> b",
      String(QUEUES),
      total.toLocaleString("en-US"),
    ]);
    const queueRows = lines.filter((l) => l.startsWith(`${route}  ${topic}  `));
    assert.equal(queueRows.length, QUEUES, run.stdout);
  });
});
