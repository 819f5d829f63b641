/**
 * `rmq-connector demo`: the README's main command. Starts two local RocketMQ clusters, writes an
 * example config for them, runs the connector from that file (the same path as `run`), produces
 * a steady trickle of sample messages into the source, and prints a live line per route
 * (replicated, rate, lag, latency, errors) until Ctrl-C, then cleans everything up.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { RocketMQClient } from "../../client/rocketmq-client.js";
import { clientOptions } from "../../config/client-options.js";
import type { MessageQueue } from "../../client/types.js";
import { ReplicationEngine, type EngineStatus } from "../../connector/engine.js";
import { startSandbox } from "../../sandbox/index.js";
import type { Command } from "../command.js";
import { parseDuration } from "../durations.js";
import { loadConfig } from "../../config/index.js";
import { ConnectorMetrics } from "../../observability/metrics.js";
import { startHttpServer } from "../../observability/http-server.js";
import { createLogger } from "../runtime.js";

const HELP = `Usage: rmq-connector demo [--rate N] [--duration D] [--version V]

Starts two local RocketMQ clusters ("east" and "west"), writes a connector config that
replicates east -> west, runs the connector, produces sample messages into east and prints a
line per route every 2 seconds until Ctrl-C; then stops and removes everything.

Options:
  --rate N        messages per second produced into the source (default 20)
  --duration D    stop by itself after D (e.g. 30s, 5m); default: run until Ctrl-C
  --version V     RocketMQ version (default env RMQ_VERSION or the sandbox default)
  --keep-config   print the config file path and keep it after exit
  -h, --help      show this help
`;

/** The demo's config: one plain route with a tag filter and one regex route with renaming. */
export function demoConfigYaml(east: string, west: string): string {
  return `# Written by "rmq-connector demo": two local clusters, east replicated into west.
name: demo-east-to-west
clusters:
  east: { namesrv: "${east}" }
  west: { namesrv: "${west}" }
routes:
  - from: { cluster: east, topic: orders, tags: "TagA || TagB" }
    to:   { cluster: west, topic: orders_dr }
    start: latest
  - from: { cluster: east, topic: "/^pay_.*/" }
    to:   { cluster: west, topic: "east_\${topic}" }
    start: earliest
delivery: at-least-once
`;
}

export const demoCommand: Command = {
  summary: "two local clusters, the connector between them, sample traffic and live figures",
  async run(args) {
    const { values } = parseArgs({
      args: [...args],
      options: {
        rate: { type: "string" },
        duration: { type: "string" },
        version: { type: "string" },
        "keep-config": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const rate = Number(values.rate ?? 20);
    if (!Number.isFinite(rate) || rate <= 0 || rate > 10_000)
      throw new Error(`--rate must be between 1 and 10000, got "${values.rate}"`);
    const durationMs =
      values.duration === undefined ? undefined : parseDuration(values.duration, "--duration");
    const say = (line: string): void => void process.stdout.write(`${line}\n`);
    const logger = createLogger("warn", process.stderr);

    const abort = new AbortController();
    let stopAfter: () => void = () => undefined;
    const stopRequested = new Promise<void>((resolve) => {
      const onSignal = (): void => {
        abort.abort();
        resolve();
      };
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      stopAfter = onSignal;
    });

    say("demo: starting two RocketMQ clusters (east, west); the first run downloads RocketMQ with Maven...");
    let sandbox;
    try {
      sandbox = await startSandbox({
        clusters: 2,
        namePrefix: "demo",
        handleSignals: false,
        signal: abort.signal,
        ...(values.version === undefined ? {} : { version: values.version }),
      });
    } catch (err) {
      if (abort.signal.aborted) return 0;
      throw err;
    }
    const [east, west] = sandbox.info();
    if (!east || !west) throw new Error("the sandbox did not start two clusters");
    const dir = mkdtempSync(join(tmpdir(), "rmq-demo-"));
    const configPath = join(dir, "connector.yaml");
    let engine: ReplicationEngine | undefined;
    let http: Awaited<ReturnType<typeof startHttpServer>> | undefined;
    const source = new RocketMQClient(clientOptions({ namesrv: east.namesrv }));
    const keepAlive = setInterval(() => undefined, 1 << 30);
    try {
      say(`demo: east namesrv ${east.namesrv}, west namesrv ${west.namesrv}`);
      for (const topic of DEMO_TOPICS) await source.admin.createTopic({ topic, queueNums: 4 });
      writeFileSync(configPath, demoConfigYaml(east.namesrv, west.namesrv));
      say(`demo: config written to ${configPath}:`);
      say(demoConfigYaml(east.namesrv, west.namesrv).replace(/^/gm, "  | ").trimEnd());
      const config = await loadConfig(configPath);
      const metrics = new ConnectorMetrics({ name: config.name });
      engine = new ReplicationEngine(config, logger, metrics.events);
      metrics.bind(engine);
      const serve = (listen: string): ReturnType<typeof startHttpServer> =>
        startHttpServer({
          listen,
          engine: engine as ReplicationEngine,
          metrics,
          logger,
        });
      // The usual port may be taken (another connector, an earlier demo): then any free one.
      http = await serve(config.metrics.listen).catch(() => serve("127.0.0.1:0"));
      await engine.start();
      say(
        `demo: status page http://${http.address.host}:${http.address.port}/  (Prometheus metrics at /metrics, JSON at /api/status)`,
      );
      say(`demo: replicating; producing ${rate} msg/s into east. Ctrl-C to stop.`);
      // --duration counts from here: starting the JVMs can take long on a busy machine.
      if (durationMs !== undefined) setTimeout(stopAfter, durationMs).unref();
      const producing = produceTrickle(source, DEMO_TOPICS, rate, abort.signal);
      const printer = printStatus(engine, say, abort.signal);
      await stopRequested;
      await Promise.all([producing, printer]);
      say("demo: stopping (draining in-flight messages)...");
      await engine.stop({ drain: true, drainTimeoutMs: 10_000 });
      printRoutes(engine.status(), undefined, say);
    } finally {
      clearInterval(keepAlive);
      source.close();
      await engine?.stop({ drain: false });
      await http?.close();
      await sandbox.stop();
      if (values["keep-config"]) say(`demo: config kept at ${configPath}`);
      else rmSync(dir, { recursive: true, force: true });
      say("demo: stopped; clusters removed.");
    }
    return 0;
  },
};

/** The source topics the demo creates (4 queues each) and its routes read. */
export const DEMO_TOPICS = ["orders", "pay_cards", "pay_refunds"] as const;

/**
 * Sends `rate` messages per second into `topics` until aborted: every other message to the
 * first topic (the tag-filtered route), the rest alternately to the others, with tags TagA,
 * TagB, TagC in turn. Each topic has its own queue counter, so every queue of every topic gets
 * messages (a shared counter sent a topic that gets every 4th message to one queue only).
 */
export async function produceTrickle(
  client: RocketMQClient,
  topics: readonly string[],
  rate: number,
  signal: AbortSignal,
): Promise<void> {
  const producer = client.producer();
  const [main, ...others] = topics;
  const sequence = main === undefined ? [] : others.length === 0 ? [main] : others.flatMap((t) => [main, t]);
  const tags = ["TagA", "TagB", "TagC"];
  const queues = new Map<string, MessageQueue[]>();
  const sentTo = new Map<string, number>();
  let n = 0;
  const started = Date.now();
  while (!signal.aborted && sequence.length > 0) {
    const topic = sequence[n % sequence.length] as string;
    try {
      let qs = queues.get(topic);
      if (!qs) {
        qs = (await client.admin.getTopicRoute(topic)).writeQueues();
        queues.set(topic, qs);
      }
      const k = sentTo.get(topic) ?? 0;
      sentTo.set(topic, k + 1);
      await producer.send(
        {
          topic,
          body: Buffer.from(JSON.stringify({ n, topic, at: new Date().toISOString() })),
          tags: tags[n % tags.length],
          keys: `demo-${n}`,
          properties: { source: "demo" },
        },
        { queue: qs[k % qs.length] as MessageQueue },
      );
    } catch {
      // The demo keeps going; the connector's own status shows trouble.
    }
    n++;
    const due = started + (n * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

async function printStatus(
  engine: ReplicationEngine,
  say: (line: string) => void,
  signal: AbortSignal,
): Promise<void> {
  let previous: EngineStatus | undefined;
  let previousAt = Date.now();
  while (!signal.aborted) {
    await new Promise((r) => setTimeout(r, 2000));
    if (signal.aborted) return;
    const status = engine.status();
    const now = Date.now();
    printRoutes(
      status,
      previous === undefined ? undefined : { status: previous, seconds: (now - previousAt) / 1000 },
      say,
    );
    previous = status;
    previousAt = now;
  }
}

function printRoutes(
  status: EngineStatus,
  before: { status: EngineStatus; seconds: number } | undefined,
  say: (line: string) => void,
): void {
  for (const route of status.routes) {
    const queues = status.queues.filter((q) => q.route === route.name);
    const replicated = queues.reduce((n, q) => n + q.replicatedMessages, 0);
    const earlier = before?.status.queues
      .filter((q) => q.route === route.name)
      .reduce((n, q) => n + q.replicatedMessages, 0);
    const rate =
      earlier === undefined || !before ? "" : ` (${((replicated - earlier) / before.seconds).toFixed(1)}/s)`;
    const lag = queues.reduce((n, q) => n + Number(q.lagMessages ?? 0n), 0);
    const latencies = queues.map((q) => q.lastLatencyMs).filter((x): x is number => x !== undefined);
    const latency = latencies.length === 0 ? "-" : `${Math.max(...latencies)} ms`;
    const errors = queues.reduce((n, q) => n + Object.values(q.errorsByKind).reduce((a, b) => a + b, 0), 0);
    const problem = route.lastError ? `  ERROR ${route.lastError.message}` : "";
    say(
      `${new Date().toISOString().slice(11, 19)}  ${route.name}  [${route.state}]  replicated ${replicated}${rate}  lag ${lag} msgs  latency ${latency}  queues ${queues.length}  errors ${errors}${problem}`,
    );
  }
}
