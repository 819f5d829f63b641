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
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import type { MessageQueue } from "../../src/client/types.js";
import { ReplicationEngine } from "../../src/connector/engine.js";
import { startHttpServer, type HttpServerHandle } from "../../src/observability/http-server.js";
import { ConnectorMetrics } from "../../src/observability/metrics.js";
import { statusPageHtml } from "../../src/observability/status-page.js";
import { recordingLogger, replicatedTotal, testConfig, waitForStatus } from "../helpers/replication.js";
import { runCli as cli } from "../helpers/cli.js";
import { toPalettePng } from "../helpers/png.js";
import { uniqueName, useSandbox } from "../helpers/sandbox.js";
import {
  HOSTILE_ROUTE,
  HOSTILE_TOPIC,
  PAY_ROUTE,
  POLL_MS,
  routeReplicated,
  scriptedQueues,
  scriptedRoutes,
  scriptedStatus,
  serveScripted,
  T0,
  type ScriptedOptions,
} from "../helpers/scripted-status.js";

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
/**
 * The screenshot in docs/monitoring.md, rewritten by the layout test when RMQ_UPDATE_SCREENSHOTS=1
 * (from dist/test/observability/ to the repository's docs/images/).
 */
const DOCS_SCREENSHOT = fileURLToPath(new URL("../../../docs/images/status-page.png", import.meta.url));
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
    colorScheme: "light",
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
// A scripted /api/status (test/helpers/scripted-status.ts): the page alone, fast and exact. The
// page runs on Playwright's fake clock, paused; each step advances it by one poll interval, and
// the n-th answer's `now` is pollTime(n), so rates and ages on the page are known to the digit.

/** Opens the scripted page on a paused fake clock and waits for its first successful poll. */
async function openScripted(page: Page, url: string): Promise<number> {
  await page.clock.install({ time: T0 - 1000 });
  await page.clock.pauseAt(T0);
  await page.goto(url, { waitUntil: "load" });
  return pollsAfter(page, 0);
}

/** Advances the page's clock to its next poll and waits until that poll is rendered. */
async function step(page: Page, polls: number): Promise<number> {
  await page.clock.runFor(POLL_MS);
  return pollsAfter(page, polls);
}

/** What the queues table shows, in document order: route header rows and queue rows. */
async function queueTableRows(page: Page): Promise<string[][]> {
  return page.evaluate(`[...document.querySelectorAll("#queues tbody tr")].map((tr) =>
    tr.classList.contains("group-head")
      ? ["route", tr.parentElement.dataset.queueGroup, tr.querySelector('[data-field="name"]').textContent]
      : ["queue", tr.parentElement.dataset.queueGroup, tr.dataset.queueRoute, tr.dataset.queue])`);
}

interface Layout {
  lineHeight: number;
  pageWidth: number;
  viewportWidth: number;
  /** Height of each queue row, px. */
  rowHeights: number[];
  /** Lines each route name takes in the queues table's header rows, and in the route cards. */
  tableNameLines: Record<string, number>;
  cardNameLines: Record<string, number>;
}

async function layout(page: Page): Promise<Layout> {
  return page.evaluate(`(() => {
    const lineHeight = parseFloat(getComputedStyle(document.body).lineHeight);
    const lines = (sel) => Object.fromEntries([...document.querySelectorAll(sel)].map((e) =>
      [e.textContent, Math.round(e.getBoundingClientRect().height / lineHeight)]));
    return {
      lineHeight,
      pageWidth: document.documentElement.scrollWidth,
      viewportWidth: window.innerWidth,
      rowHeights: [...document.querySelectorAll("#queues tr[data-queue]")].map((r) => r.getBoundingClientRect().height),
      tableNameLines: lines('#queues [data-field="name"]'),
      cardNameLines: lines('#routes [data-field="name"]'),
    };
  })()`);
}

/** The table's rows as they must be: each route once, in the routes' order, then its queues. */
function expectedRows(options: ScriptedOptions): string[][] {
  const rows: string[][] = [];
  for (const r of scriptedRoutes(options)) {
    rows.push(["route", r.name, r.name]);
    const queues = scriptedQueues(options)
      .filter((q) => q.route === r.name)
      .sort((a, b) =>
        a.sourceTopic !== b.sourceTopic
          ? a.sourceTopic < b.sourceTopic
            ? -1
            : 1
          : a.sourceBroker !== b.sourceBroker
            ? a.sourceBroker < b.sourceBroker
              ? -1
              : 1
            : a.queueId - b.queueId,
      );
    for (const q of queues) {
      rows.push(["queue", r.name, r.name, `${r.name}|${q.sourceTopic}|${q.sourceBroker}#${q.queueId}`]);
    }
  }
  return rows;
}

const count = (text: string, part: string): number => text.split(part).length - 1;
const int = (n: number | bigint): string => n.toLocaleString("en-US");

describe("status page (scripted /api/status, headless Chromium)", () => {
  it("is one self-contained document: no external URL, inline script and style", () => {
    const html = statusPageHtml();
    assert.match(html, /^<!doctype html>/);
    assert.doesNotMatch(html, /(src|href)\s*=\s*["']?(https?:)?\/\//i);
    assert.doesNotMatch(html, /<script[^>]+src=/i);
    assert.doesNotMatch(html, /<link\b/i);
  });

  it("renders routes, queues grouped by route, errors and a TPS chart; numbers move at each poll; names are text", async (t) => {
    if (!requireChromium(t)) return;
    const options: ScriptedOptions = { hostile: true };
    let failing = false;
    const server = await serveScripted((n) =>
      failing ? { status: 503, body: "down" } : { status: 200, body: scriptedStatus(n, options) },
    );
    const browser = await openBrowser();
    try {
      const { page } = browser;
      const external: string[] = [];
      page.on("request", (r) => {
        if (!r.url().startsWith(server.url)) external.push(r.url());
      });
      let polls = await openScripted(page, server.url);
      const route = '[data-route="east-orders"]';
      assert.equal(await textOf(page, `${route} [data-field="state"]`), "running");
      assert.equal(await textOf(page, '[data-route="west-pay"] [data-field="state"]'), "error");
      const first = await textOf(page, `${route} [data-field="replicated"]`);
      assert.equal(first, int(routeReplicated("east-orders", 1, options)));
      polls = await step(page, polls);
      polls = await step(page, polls);
      const later = await textOf(page, `${route} [data-field="replicated"]`);
      assert.equal(later, int(routeReplicated("east-orders", 3, options)));
      assert.notEqual(later, first, "replicated should move between polls");
      // msg/s: what the route replicated between the last two answers, over the 2 s between them.
      const tps = Number((await textOf(page, `${route} [data-field="tps"]`)).replace(/,/g, ""));
      const expectedTps =
        (routeReplicated("east-orders", 3) - routeReplicated("east-orders", 2)) / (POLL_MS / 1000);
      assert.equal(tps, Math.round(expectedTps), `tps ${tps}, expected ${expectedTps}`);
      const points = await page.locator(`${route} svg[data-field="sparkline"]`).getAttribute("data-points");
      assert.equal(Number(points), 2, `sparkline points ${points}`);

      // The queues table: each route once, in a header row, followed by its queues and no other.
      assert.deepEqual(await queueTableRows(page), expectedRows(options));
      const table = await page.evaluate<string>(`document.getElementById("queues").innerText`);
      for (const r of scriptedRoutes(options)) {
        assert.equal(count(table, r.name), 1, `route ${r.name} in the queues table`);
      }
      assert.equal(await page.locator("tr[data-queue]").count(), scriptedQueues(options).length);
      assert.equal(await page.locator('#queues tr[data-queue] [data-field="route"]').count(), 0);
      // The header row: clusters, queue count, failed queues, and the route's totals.
      const pay = `#queues [data-queue-group="${PAY_ROUTE}"] tr.group-head`;
      assert.equal(await textOf(page, `${pay} [data-field="state"]`), "running");
      assert.equal(await textOf(page, `${pay} [data-field="queues"]`), "east \u2192 west \u00b7 6 queues");
      assert.equal(await page.locator(`${pay} [data-field="failed"]`).count(), 0);
      // A queue retrying a send that fails now shows it, and its route counts it, apart from failed.
      const inventory = "west:inventory->east:inventory-dr";
      assert.equal(
        await textOf(page, `[data-queue="${inventory}|inventory|broker-w1#2"] [data-field="state"]`),
        "failing (send)",
      );
      assert.equal(
        await textOf(page, `[data-queue="${inventory}|inventory|broker-w1#1"] [data-field="state"]`),
        "running",
      );
      assert.equal(
        await textOf(page, `#queues [data-queue-group="${inventory}"] tr.group-head [data-field="failing"]`),
        " \u00b7 1 failing",
      );
      assert.equal(
        await textOf(page, `[data-route="${inventory}"] [data-field="failing"]`),
        " \u00b7 1 failing",
      );
      assert.equal(await page.locator(`${pay} [data-field="failing"]`).count(), 0);
      assert.equal(
        await textOf(page, `${pay} [data-field="replicated"]`),
        int(routeReplicated(PAY_ROUTE, 3)),
      );
      const orders = '#queues [data-queue-group="east-orders"] tr.group-head';
      assert.equal(await textOf(page, `${orders} [data-field="errors"]`), "3");
      assert.equal(await textOf(page, `${orders} [data-field="replicated"]`), later);
      assert.equal(
        await textOf(page, '#queues [data-queue-group="west-pay"] [data-field="queues"]'),
        "west \u2192 east \u00b7 no queues",
      );
      // bigints beyond 2^53 arrive as strings and are shown exactly, in the queue and its route's sum.
      assert.equal(
        await textOf(page, '[data-queue="east-orders|orders|broker-a#0"] [data-field="lag"]'),
        "12,345,678,901,234,567,890",
      );
      const { queues } = scriptedStatus(3, options) as { queues: { route: string; lagMessages: string }[] };
      const ordersLag = queues
        .filter((q) => q.route === "east-orders")
        .reduce((n, q) => n + BigInt(q.lagMessages), 0n);
      assert.ok(ordersLag > 12345678901234567890n);
      assert.equal(await textOf(page, `${orders} [data-field="lag"]`), int(ordersLag));
      assert.equal(
        await textOf(page, '[data-queue="east-orders|orders|broker-a#1"] [data-field="errors"]'),
        "3",
      );
      assert.equal(
        await textOf(page, `[data-queue="${PAY_ROUTE}|pay_orders|broker-a#0"] [data-field="target"]`),
        "east_pay_orders broker-w1#0",
      );

      // Names and error messages are text, never HTML: no element they would have made exists.
      assert.match(
        await textOf(page, '[data-route="west-pay"] [data-field="last-error"]'),
        /<img src=x onerror=.*topic pay missing/,
      );
      assert.equal(await textOf(page, `[data-route='${HOSTILE_ROUTE}'] [data-field="name"]`), HOSTILE_ROUTE);
      assert.equal(
        await textOf(page, `#queues [data-queue-group='${HOSTILE_ROUTE}'] [data-field="name"]`),
        HOSTILE_ROUTE,
      );
      assert.equal(
        await textOf(
          page,
          `#queues [data-queue-group='${HOSTILE_ROUTE}'] tr[data-queue] [data-field="topic"]`,
        ),
        HOSTILE_TOPIC,
      );
      assert.equal(await page.evaluate("document.querySelectorAll('img, svg:not(.spark)').length"), 0);
      assert.equal(await page.evaluate("window.__xss"), undefined);

      assert.match(await textOf(page, "#errors"), /RMQ_BROKER_BUSY: broker busy/);
      assert.equal(await textOf(page, "#ready"), "not ready");
      assert.equal(await textOf(page, `${route} [data-field="probe-latency"]`), "12 ms");
      assert.equal(await textOf(page, `${route} [data-field="probe-age"]`), "800 ms ago");
      assert.equal(await textOf(page, '[data-route="west-pay"] [data-field="probe"]'), "");
      assert.match((await page.locator("#ready").getAttribute("title")) ?? "", /west-pay is error/);
      assert.deepEqual(external, [], "the page must not reach outside its origin");

      // The connector goes away: the page says so and keeps the last numbers.
      failing = true;
      await page.clock.runFor(POLL_MS);
      await page.waitForSelector('#connection[data-state="error"]', { timeout: 10_000 });
      assert.match(await textOf(page, "#connection"), /cannot reach the connector \(HTTP 503\)/);
      assert.equal(await textOf(page, `${route} [data-field="state"]`), "running");
      assert.equal(await textOf(page, `${route} [data-field="replicated"]`), later);
      failing = false;
      await step(page, polls);
      assert.equal(await textOf(page, "#connection").then((s) => s.startsWith("live")), true);
    } finally {
      await browser.close();
      await server.close();
    }
  });

  it("reads at a glance at 1400 px and still at 800 px: route names whole, one line per queue (writes the docs screenshot)", async (t) => {
    if (!requireChromium(t)) return;
    const server = await serveScripted((n) => ({ status: 200, body: scriptedStatus(n) }));
    const browser = await openBrowser();
    try {
      const { page } = browser;
      let polls = await openScripted(page, server.url);
      // Three minutes of answers, so the charts have a history and the failed queue has failed.
      while (polls < 90) polls = await step(page, polls);
      assert.equal(
        await textOf(page, `#queues [data-queue-group="${PAY_ROUTE}"] [data-field="failed"]`),
        " \u00b7 1 failed",
      );
      assert.equal(
        await textOf(page, `[data-queue="${PAY_ROUTE}|pay_settlements|broker-a#1"] [data-field="state"]`),
        "failed",
      );
      assert.equal(
        await textOf(page, `[data-route="${PAY_ROUTE}"] [data-field="failed"]`),
        " \u00b7 1 failed",
      );

      const wide = await layout(page);
      assert.equal(wide.viewportWidth, 1400);
      assert.ok(wide.pageWidth <= wide.viewportWidth, `page ${wide.pageWidth} px wide in a 1400 px window`);
      // Every route name whole on one line in the table, on two at most on its card (four cards
      // a row), and every queue on one line.
      for (const r of scriptedRoutes()) {
        assert.equal(wide.tableNameLines[r.name], 1, `${r.name} in the queues table`);
        assert.ok(
          (wide.cardNameLines[r.name] ?? 99) <= 2,
          `${r.name}: ${wide.cardNameLines[r.name]} lines on its card`,
        );
      }
      const oneLine = 12 + 1.5 * wide.lineHeight;
      assert.ok(Math.max(...wide.rowHeights) < oneLine, `queue rows ${wide.rowHeights.join(", ")} px high`);
      const shot = toPalettePng(await page.screenshot({ fullPage: true }));
      assert.ok(shot.length < 200_000, `screenshot of ${shot.length} bytes`);
      writeFileSync(join(tmpdir(), "status-page-scripted.png"), shot);
      if (process.env["RMQ_UPDATE_SCREENSHOTS"] === "1") writeFileSync(DOCS_SCREENSHOT, shot);

      // A narrow window: the table scrolls inside its panel (the page does not) rather than
      // squeezing names into slivers; queues stay on one line, route names wrap between parts.
      await page.setViewportSize({ width: 800, height: 900 });
      const narrow = await layout(page);
      assert.ok(
        narrow.pageWidth <= narrow.viewportWidth,
        `page ${narrow.pageWidth} px wide in an 800 px window`,
      );
      for (const r of scriptedRoutes()) {
        assert.ok(
          (narrow.tableNameLines[r.name] ?? 99) <= 2,
          `${r.name}: ${narrow.tableNameLines[r.name]} lines`,
        );
        assert.ok(
          (narrow.cardNameLines[r.name] ?? 99) <= 2,
          `${r.name}: ${narrow.cardNameLines[r.name]} lines`,
        );
      }
      assert.ok(
        Math.max(...narrow.rowHeights) < oneLine,
        `queue rows ${narrow.rowHeights.join(", ")} px high`,
      );
      await page.screenshot({ path: join(tmpdir(), "status-page-scripted-800.png"), fullPage: true });
    } finally {
      await browser.close();
      await server.close();
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
