/**
 * `npm run bench:metrics-cost`: what monitoring costs the replication path (issue #4, section 5).
 *
 * Two local clusters; after a warm-up round, rounds alternate metrics off / on (6 by default). Each round
 * fills a fresh 8-queue topic on A with BENCH_BACKLOG 1 KiB messages (not timed), then runs the
 * replication engine in this process until all of them are acknowledged by B, and records the
 * catch-up rate and this process's CPU time per message. "On" is what `run` does: the metrics
 * registry bound to the engine, its latency histogram fed on every acknowledgement, and a
 * Prometheus scrape of /metrics' content every second. Target: throughput with metrics on within
 * 5 % of off. The connector runs in the bench process (nothing else runs there during a round),
 * so its CPU is process.cpuUsage() over the round.
 */
import { randomBytes } from "node:crypto";
import { RocketMQClient, type MessageQueue } from "../src/client/index.js";
import { silentLogger } from "../src/client/logger.js";
import { ReplicationEngine } from "../src/connector/engine.js";
import { ConnectorMetrics } from "../src/observability/metrics.js";
import { javaCommand, startSandbox } from "../src/sandbox/index.js";
import { testConfig } from "../test/helpers/replication.js";
import { describeMachine, formatMachine, TWO_CLUSTERS } from "./machine.js";
import { envInt, progress } from "./harness.js";
import { runBench } from "./main.js";
import { sendPhase } from "./ours.js";
import { fmt, formatTable, median } from "./stats.js";

interface Round {
  metrics: boolean;
  msgPerSec: number;
  cpuMicrosPerMsg: number;
  scrapes: number;
}

async function main(): Promise<void> {
  const backlog = envInt("BENCH_BACKLOG", 100_000);
  const rounds = envInt("BENCH_ROUNDS", 6);
  const deadlineMs = envInt("BENCH_DEADLINE_MS", 180_000);
  progress("starting two clusters");
  const sandbox = await startSandbox({ clusters: 2, namePrefix: "mc" });
  const [a, b] = sandbox.info();
  if (!a || !b) throw new Error("the sandbox did not start two clusters");
  const clientA = new RocketMQClient({ namesrv: a.namesrv, requestTimeoutMs: 10_000 });
  const results: Round[] = [];
  try {
    const body = randomBytes(1024);
    // Round 0 warms the JIT and the brokers and is not counted; then off, on, off, on, ...
    for (let r = 0; r <= rounds; r++) {
      const metricsOn = r % 2 === 0;
      const topic = `metrics_cost_${Date.now().toString(36)}_${r}`;
      await clientA.admin.createTopic({ topic, queueNums: 8 });
      const queues: MessageQueue[] = (
        await clientA.admin.getTopicRoute(topic, { refresh: true })
      ).writeQueues();
      const fill = await sendPhase(clientA.producer(), {
        topic,
        queues,
        count: backlog,
        body,
        batch: 32,
        concurrency: 8,
        deadlineMs,
      });
      if (fill.messages < backlog) throw new Error(`filled ${fill.messages} of ${backlog}`);
      const config = testConfig(
        `metrics-cost-${r}-${Date.now().toString(36)}`,
        { a: a.namesrv, b: b.namesrv },
        [{ from: "a", to: "b", topic }],
      );
      // Defaults of a real config, not the test's fast timings.
      const settings = {
        ...config,
        commit: { intervalMs: 1000 },
        pull: { batchSize: 32, suspendTimeoutMs: 15_000 },
      };
      const metrics = metricsOn ? new ConnectorMetrics({ name: settings.name }) : undefined;
      const engine = new ReplicationEngine(settings, silentLogger, metrics?.events ?? {});
      metrics?.bind(engine);
      let scrapes = 0;
      const scraper = metrics
        ? setInterval(() => {
            void metrics.registry.metrics().then(() => scrapes++);
          }, 1000)
        : undefined;
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      await engine.start();
      const deadline = started + deadlineMs;
      const replicated = (): number => engine.status().queues.reduce((n, q) => n + q.replicatedMessages, 0);
      while (replicated() < backlog && performance.now() < deadline)
        await new Promise((res) => setTimeout(res, 20));
      const elapsedMs = performance.now() - started;
      const cpu = process.cpuUsage(cpuBefore);
      const done = replicated();
      if (scraper) clearInterval(scraper);
      await engine.stop({ drain: false });
      const round: Round = {
        metrics: metricsOn,
        msgPerSec: (done * 1000) / elapsedMs,
        cpuMicrosPerMsg: (cpu.user + cpu.system) / Math.max(1, done),
        scrapes,
      };
      if (r > 0) results.push(round);
      progress(
        `${r === 0 ? "warm-up" : `round ${r}`} metrics ${metricsOn ? "on " : "off"}: ${fmt(done)} msgs in ${fmt(elapsedMs)} ms = ` +
          `${fmt(round.msgPerSec)} msg/s, ${round.cpuMicrosPerMsg.toFixed(1)} µs CPU per message, ${scrapes} scrapes`,
      );
    }
  } finally {
    clientA.close();
    await sandbox.stop();
  }
  const on = results.filter((r) => r.metrics);
  const off = results.filter((r) => !r.metrics);
  const rateRatio = median(on.map((r) => r.msgPerSec)) / median(off.map((r) => r.msgPerSec));
  const cpuRatio = median(on.map((r) => r.cpuMicrosPerMsg)) / median(off.map((r) => r.cpuMicrosPerMsg));
  process.stdout.write(
    `\nMetrics cost on the replication path\n${formatMachine(describeMachine(javaCommand(), "5.5.0"), TWO_CLUSTERS)}\n` +
      `Settings: ${fmt(backlog)} x 1 KiB backlog per round, 8 queues, engine in this process, a warm-up round, then rounds alternating off/on, scrape every 1 s when on\n\n` +
      formatTable(
        ["round", "metrics", "catch-up msg/s", "CPU µs/msg", "scrapes"],
        results.map((r, i) => [
          String(i + 1),
          r.metrics ? "on" : "off",
          fmt(r.msgPerSec),
          r.cpuMicrosPerMsg.toFixed(1),
          String(r.scrapes),
        ]),
      ) +
      `\n\nthroughput on/off (median of rounds): ${rateRatio.toFixed(3)}  (target >= 0.95: ${rateRatio >= 0.95 ? "met" : "NOT met"})\n` +
      `CPU per message on/off (median): ${cpuRatio.toFixed(3)}\n`,
  );
}

runBench(main);
