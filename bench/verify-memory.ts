/**
 * Memory of `verify` over a large range: replicates BENCH_MESSAGES (default 200 000) over 8
 * queues with the engine, then runs verifyRoutes in a child process of its own (so its peak RSS
 * is verify's alone) and prints its peak RSS and heap, its time and the report's totals.
 *
 *   npm run build && node dist/bench/verify-memory.js
 *   BENCH_MESSAGES=1_000_000 node dist/bench/verify-memory.js
 *
 * BENCH_NAMESRV_A/_B name running clusters instead of a fresh sandbox.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { RocketMQClient } from "../src/client/rocketmq-client.js";
import { parseConfig } from "../src/config/index.js";
import type { EngineConfig } from "../src/connector/engine-config.js";
import { ReplicationEngine } from "../src/connector/engine.js";
import { verifyRoutes } from "../src/connector/verify.js";
import { benchClusters, envInt, progress, sleep, stderrLogger, sumMaxOffsets } from "./harness.js";
import { formatMachine, TWO_CLUSTERS } from "./machine.js";

/** The connector config a user would write, parsed as `run` parses it (its defaults included). */
function engineConfig(name: string, namesrvA: string, namesrvB: string, topic: string): EngineConfig {
  const yaml = `name: ${name}
clusters:
  a: { namesrv: "${namesrvA}" }
  b: { namesrv: "${namesrvB}" }
routes:
  - name: bench
    from: { cluster: a, topic: ${topic} }
    to: { cluster: b }
    start: earliest
probes: { enabled: false }
`;
  return parseConfig(yaml, "bench-verify.yaml");
}

/** The child: verify only, then its own figures as one JSON line. */
async function child(): Promise<void> {
  const [name, namesrvA, namesrvB, topic] = process.argv.slice(3) as [string, string, string, string];
  let peakHeap = 0;
  const sampler = setInterval(() => (peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)), 50);
  const started = performance.now();
  const report = await verifyRoutes(engineConfig(name, namesrvA, namesrvB, topic), {
    logger: stderrLogger,
    until: "max",
  });
  clearInterval(sampler);
  process.stdout.write(
    `${JSON.stringify({
      ms: performance.now() - started,
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
      peakHeapMiB: peakHeap / 1024 ** 2,
      totals: report.totals,
      clean: report.clean,
    })}\n`,
  );
}

async function main(): Promise<void> {
  const messages = envInt("BENCH_MESSAGES", 200_000);
  const clusters = await benchClusters();
  const a = new RocketMQClient({ namesrv: clusters.namesrvA });
  const b = new RocketMQClient({ namesrv: clusters.namesrvB });
  try {
    const topic = `bench_verify_${Date.now()}`;
    const name = `bench_verifier_${Date.now()}`;
    await a.admin.createTopic({ topic, queueNums: 8 });
    const queues = (await a.admin.getTopicRoute(topic, { refresh: true })).writeQueues();
    progress(`producing ${messages} messages of 100 bytes over ${queues.length} queues`);
    const producer = a.producer();
    const perQueue = Math.ceil(messages / queues.length);
    await Promise.all(
      queues.map(async (queue) => {
        for (let i = 0; i < perQueue; i += 64) {
          const n = Math.min(64, perQueue - i);
          const batch = Array.from({ length: n }, (_, j) => ({
            topic,
            body: Buffer.alloc(100, (i + j) % 251),
            tags: `T${(i + j) % 3}`,
            keys: `k${i + j}`,
          }));
          await producer.sendBatch(batch, { queue });
        }
      }),
    );
    const total = Number(await sumMaxOffsets(a, queues));
    progress(`replicating ${total} messages`);
    const engine = new ReplicationEngine(
      engineConfig(name, clusters.namesrvA, clusters.namesrvB, topic),
      stderrLogger,
    );
    await engine.start();
    const deadline = Date.now() + 15 * 60_000;
    while (engine.status().queues.reduce((n, q) => n + q.replicatedMessages, 0) < total) {
      if (Date.now() > deadline) throw new Error("replication did not finish in 15 minutes");
      await sleep(500);
    }
    await engine.stop({ drain: true });
    progress("verifying in a child process");
    const self = fileURLToPath(import.meta.url);
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, [self, "child", name, clusters.namesrvA, clusters.namesrvB, topic], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      let text = "";
      p.stdout.setEncoding("utf8").on("data", (s: string) => (text += s));
      p.on("error", reject);
      p.on("close", (code) =>
        code === 0 ? resolve(text) : reject(new Error(`verify child exited ${code}`)),
      );
    });
    const r = JSON.parse(out) as {
      ms: number;
      maxRssMiB: number;
      peakHeapMiB: number;
      totals: { checked: number; targetMessages: number };
      clean: boolean;
    };
    process.stdout.write(
      `${formatMachine(clusters.machine, TWO_CLUSTERS)}\n` +
        `verify of ${r.totals.checked} source messages against ${r.totals.targetMessages} target messages (8 queues): ` +
        `${(r.ms / 1000).toFixed(1)} s, ${Math.round(r.totals.checked / (r.ms / 1000))} msg/s, ` +
        `peak RSS ${r.maxRssMiB.toFixed(1)} MiB, peak heap ${r.peakHeapMiB.toFixed(1)} MiB, clean: ${r.clean}\n`,
    );
  } finally {
    a.close();
    b.close();
    await clusters.sandbox?.stop();
  }
}

if (process.argv[2] === "child") await child();
else await main();
