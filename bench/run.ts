/**
 * `npm run bench [-- --rss-1m]`: our client against the official Java client (rocketmq-client
 * of the broker's version), same machine, same broker, same run. Prints the machine, the
 * settings and a table of ours / Java / ratio. See docs/benchmarks.md.
 *
 * Work, identical on both sides: 1 KiB messages (BENCH_SIZE) to a topic with 8 queues;
 *  - send single: BENCH_SINGLE_MESSAGES messages, BENCH_CONCURRENCY senders, sender i owns
 *    queue i % 8 and keeps one request in flight (Java: one thread per sender, sync send);
 *  - send batch: BENCH_MESSAGES messages in batches of BENCH_BATCH (Java: send(Collection, mq));
 *  - pull: the BENCH_MESSAGES backlog of our batch phase, from offset 0 on all 8 queues, 32
 *    messages per pull (ours: one loop per queue; Java: DefaultLitePullConsumer assign + seek 0
 *    + poll, pullBatchSize 32);
 *  - --rss-1m: a fresh Node process pulls a 1 000 000-message backlog; its peak RSS must stay
 *    under 150 MiB.
 * Both warm up first (ours once in this process, Java in each JVM before its clock starts).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { RocketMQClient, type MessageQueue } from "../src/client/index.js";
import { ensureDistribution, javaCommand, startSandbox, type Sandbox } from "../src/sandbox/index.js";
import { compileJavaBench, runJavaBench, type JavaBench } from "./java.js";
import { describeMachine, formatMachine } from "./machine.js";
import { envInt, progress, stderrLogger } from "./harness.js";
import { runBench } from "./main.js";
import { pullPhase, sendPhase } from "./ours.js";
import { fmt, formatTable, msgPerSec, type PhaseResult } from "./stats.js";

const HELP = `Usage: npm run bench [-- --rss-1m] [-- --skip-java]

Our client vs the official Java client on a local RocketMQ broker (started by the sandbox).

Options:
  --rss-1m      also pull a 1 000 000-message backlog in a fresh process and check peak RSS < 150 MiB
                (twice: Node defaults, and --max-semi-space-size=4)
  --skip-java   only our client (no ratios)
  -h, --help    this help

Environment (defaults in brackets):
  BENCH_MESSAGES          messages of the batch-send and pull phases [200000]
  BENCH_SINGLE_MESSAGES   messages of the single-send phase [BENCH_MESSAGES / 10]
  BENCH_SIZE              body bytes [1024]
  BENCH_BATCH             messages per batch [32]
  BENCH_CONCURRENCY       concurrent senders (sender i owns queue i % 8) [8]
  BENCH_WARMUP            warm-up messages per phase (single: at most BENCH_SINGLE_MESSAGES) [min(20000, BENCH_MESSAGES / 10)]
  BENCH_DEADLINE_MS       time limit of each measured phase, ms [120000]
  BENCH_ROUNDS            rounds, alternating who goes first; the best round is shown [2]
  BENCH_RSS_MESSAGES      backlog of --rss-1m [1000000]
  BENCH_NAMESRV           use this running cluster instead of starting a sandbox
  BENCH_JAVA_OPTS         extra JVM flags for the Java client
  RMQ_VERSION             RocketMQ version of the sandbox and the Java client [5.5.0]
`;

const QUEUES = 8;
const RSS_TARGET_MIB = 150;
const RSS_SEMI_SPACE_FLAG = "--max-semi-space-size=4";

function describe(label: string, r: PhaseResult): string {
  const parts = [`${label}: ${fmt(r.messages)} msgs in ${fmt(r.elapsedMs)} ms = ${fmt(msgPerSec(r))} msg/s`];
  if (r.latencyP50Ms !== undefined)
    parts.push(`p50 ${fmt(r.latencyP50Ms, 2)} ms p99 ${fmt(r.latencyP99Ms, 2)} ms`);
  if (r.peakRssMiB !== undefined) parts.push(`peak RSS ${fmt(r.peakRssMiB, 1)} MiB`);
  if (r.timedOut) parts.push("DEADLINE REACHED");
  if (r.errors > 0) parts.push(`${r.errors} errors, first: ${r.firstError ?? "?"}`);
  return parts.join(", ");
}

interface RssCheck {
  messages: number;
  elapsedMs: number;
  maxRssMiB: number;
  timedOut: boolean;
  errors: number;
}

/** Runs bench/rss-worker.js in a fresh Node process: pull the whole topic, report peak RSS. */
async function runRssWorker(
  namesrv: string,
  topic: string,
  group: string,
  count: number,
  deadlineMs: number,
  nodeFlags: readonly string[] = [],
) {
  const worker = join(dirname(fileURLToPath(import.meta.url)), "rss-worker.js");
  const args = [worker, namesrv, topic, group, String(count), "32", String(deadlineMs)];
  const child = spawn(process.execPath, [...nodeFlags, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), deadlineMs + 60_000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (c) => resolve(c));
  }).finally(() => clearTimeout(timer));
  const line = out.trim().split("\n").pop();
  if (code !== 0 || !line) throw new Error(`rss-worker exited with code ${code}`);
  return JSON.parse(line) as RssCheck;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      "rss-1m": { type: "boolean", default: false },
      "skip-java": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const messages = envInt("BENCH_MESSAGES", 200_000);
  const single = envInt("BENCH_SINGLE_MESSAGES", Math.max(1, Math.floor(messages / 10)));
  const size = envInt("BENCH_SIZE", 1024);
  const batch = envInt("BENCH_BATCH", 32);
  const concurrency = envInt("BENCH_CONCURRENCY", 8);
  const warmup = envInt("BENCH_WARMUP", Math.max(1, Math.min(20_000, Math.floor(messages / 10))));
  const deadlineMs = envInt("BENCH_DEADLINE_MS", 120_000);
  const rssMessages = envInt("BENCH_RSS_MESSAGES", 1_000_000);
  const rounds = envInt("BENCH_ROUNDS", 2);
  const withJava = !values["skip-java"];

  const benchStarted = Date.now();
  const scratch = mkdtempSync(join(tmpdir(), "rmq-bench-"));
  let sandbox: Sandbox | undefined;
  let client: RocketMQClient | undefined;
  try {
    const distribution = await ensureDistribution({ logger: stderrLogger });
    let namesrv = process.env["BENCH_NAMESRV"];
    if (!namesrv) {
      progress("starting a local RocketMQ cluster (sandbox)");
      sandbox = await startSandbox({ clusters: 1, logger: stderrLogger });
      namesrv = sandbox.clusters[0]?.namesrv ?? "";
    }
    const machine = describeMachine(javaCommand(), distribution.version);
    if (withJava) progress("compiling bench/java/JavaClientBench.java");
    const java: JavaBench | undefined = withJava ? compileJavaBench(distribution, scratch) : undefined;

    client = new RocketMQClient({ namesrv, requestTimeoutMs: 10_000 });
    const admin = client.admin;
    const run = `bench-${Date.now().toString(36)}-${randomBytes(2).toString("hex")}`;
    const topic = (name: string): string => `${run}-${name}`;
    await admin.createTopic({ topic: topic("warm"), queueNums: QUEUES });
    const queuesOf = async (t: string): Promise<MessageQueue[]> => {
      const queues = (await admin.getTopicRoute(t, { refresh: true })).writeQueues();
      if (queues.length !== QUEUES)
        throw new Error(`topic ${t} has ${queues.length} queues, expected ${QUEUES}`);
      return queues;
    };
    const body = randomBytes(size);
    const producer = client.producer({ group: `${run}_producer` });
    const consumer = client.pullConsumer({ group: `${run}_ts_pull` });
    const common = { body, concurrency, deadlineMs };
    const javaCommon = {
      namesrv,
      size,
      concurrency,
      batch,
      pullBatch: 32,
      warmupTopic: topic("warm"),
      warmup,
      deadlineMs,
    };

    // Warm-up of our client: the same three code paths, unmeasured.
    progress(`warm-up (${warmup} messages per phase)`);
    const warmQueues = await queuesOf(topic("warm"));
    const singleWarmup = Math.min(warmup, single);
    await sendPhase(producer, { ...common, topic: topic("warm"), queues: warmQueues, count: singleWarmup });
    await sendPhase(producer, { ...common, topic: topic("warm"), queues: warmQueues, count: warmup, batch });
    await pullPhase(client.pullConsumer({ group: `${run}_ts_warm` }), client.admin, {
      queues: warmQueues,
      count: singleWarmup + warmup,
      maxMessages: 32,
      deadlineMs,
    });

    // Rounds alternate who goes first (round 1: ours, round 2: Java, ...), so neither side
    // always gets the broker colder or its page cache hotter; the table shows the best round.
    type PhaseKey = "single" | "batch" | "pull";
    const results: Record<PhaseKey, { ours: PhaseResult[]; java: PhaseResult[] }> = {
      single: { ours: [], java: [] },
      batch: { ours: [], java: [] },
      pull: { ours: [], java: [] },
    };
    const measure = async (
      round: number,
      key: PhaseKey,
      label: string,
      ours: () => Promise<PhaseResult>,
      javaRun: (() => Promise<PhaseResult>) | undefined,
    ): Promise<void> => {
      const sides: ["ours" | "java", () => Promise<PhaseResult>][] = [["ours", ours]];
      if (javaRun) sides.push(["java", javaRun]);
      if (round % 2 === 0) sides.reverse();
      for (const [side, fn] of sides) {
        const name = side === "ours" ? "ours" : "Java";
        progress(`round ${round}, ${label}: ${name}`);
        const r = await fn();
        progress(describe(`round ${round}, ${label} ${name}`, r));
        results[key][side].push(r);
      }
    };

    // Both sides pull the same backlog: what our first batch round wrote.
    const backlogTopic = topic("ts-batch-r1");
    let backlog = 0;
    for (let round = 1; round <= rounds; round++) {
      const t = (name: string): string => topic(`${name}-r${round}`);
      for (const name of ["ts-single", "java-single", "ts-batch", "java-batch"]) {
        await admin.createTopic({ topic: t(name), queueNums: QUEUES });
      }
      await measure(
        round,
        "single",
        `send single (${single})`,
        async () =>
          sendPhase(producer, {
            ...common,
            topic: t("ts-single"),
            queues: await queuesOf(t("ts-single")),
            count: single,
          }),
        java &&
          (() =>
            runJavaBench(java, {
              ...javaCommon,
              topic: t("java-single"),
              mode: "send-single",
              count: single,
              warmup: singleWarmup,
              group: "-",
            })),
      );
      await measure(
        round,
        "batch",
        `send batch x${batch} (${messages})`,
        async () =>
          sendPhase(producer, {
            ...common,
            topic: t("ts-batch"),
            queues: await queuesOf(t("ts-batch")),
            count: messages,
            batch,
          }),
        java &&
          (() =>
            runJavaBench(java, {
              ...javaCommon,
              topic: t("java-batch"),
              mode: "send-batch",
              count: messages,
              group: "-",
            })),
      );
      if (round === 1) backlog = results.batch.ours[0]?.messages ?? 0;
      await measure(
        round,
        "pull",
        `pull (${backlog})`,
        async () =>
          pullPhase(consumer, admin, {
            queues: await queuesOf(backlogTopic),
            count: backlog,
            maxMessages: 32,
            deadlineMs,
          }),
        java &&
          (() =>
            runJavaBench(java, {
              ...javaCommon,
              topic: backlogTopic,
              mode: "pull",
              count: backlog,
              group: `${run}_java_pull_r${round}`,
              // The warm topic holds our warm-up sends, and Java's.
              warmup: singleWarmup + warmup,
            })),
      );
    }

    // The 1M check runs twice in fresh processes: with Node's defaults, and with a smaller young
    // generation (V8 grows each semi-space to 16 MiB under this allocation rate), which is the
    // cheapest memory knob a deployment has (NODE_OPTIONS).
    const rssChecks: { flags: readonly string[]; result: RssCheck }[] = [];
    if (values["rss-1m"]) {
      const rssTopic = topic("rss");
      await client.admin.createTopic({ topic: rssTopic, queueNums: QUEUES });
      progress(`--rss-1m: filling ${rssMessages} messages (batch send)`);
      const fill = await sendPhase(producer, {
        ...common,
        topic: rssTopic,
        queues: await queuesOf(rssTopic),
        count: rssMessages,
        batch,
        deadlineMs: Math.max(deadlineMs, 600_000),
      });
      progress(describe("--rss-1m fill", fill));
      for (const flags of [[], [RSS_SEMI_SPACE_FLAG]]) {
        progress(`--rss-1m: pulling ${fill.messages} messages in a fresh process ${flags.join(" ")}`);
        const result = await runRssWorker(
          namesrv,
          rssTopic,
          `${run}_rss${rssChecks.length}`,
          fill.messages,
          Math.max(deadlineMs, 600_000),
          flags,
        );
        progress(
          `--rss-1m: ${fmt(result.messages)} msgs in ${fmt(result.elapsedMs)} ms, peak RSS ${fmt(result.maxRssMiB, 1)} MiB`,
        );
        rssChecks.push({ flags, result });
      }
    }

    // ---- report (stdout) ----
    const row = (
      label: string,
      ours: number | undefined,
      javaValue: number | undefined,
      decimals: number,
      better: "higher" | "lower",
      target = "",
    ): string[] => {
      const ratio =
        ours !== undefined && javaValue !== undefined && javaValue > 0 ? ours / javaValue : undefined;
      const ok =
        target === "" || ratio === undefined ? "" : better === "higher" ? (ratio >= 1 ? "yes" : "NO") : "";
      return [
        label,
        fmt(ours, decimals),
        fmt(javaValue, decimals),
        ratio === undefined ? "-" : ratio.toFixed(2),
        better === "higher" ? "higher" : "lower",
        target,
        ok,
      ];
    };
    const best = (list: readonly PhaseResult[]): PhaseResult | undefined =>
      list.reduce<PhaseResult | undefined>(
        (a, r) => (a === undefined || msgPerSec(r) > msgPerSec(a) ? r : a),
        undefined,
      );
    const bestOf = (key: PhaseKey): { ours: PhaseResult | undefined; java: PhaseResult | undefined } => ({
      ours: best(results[key].ours),
      java: best(results[key].java),
    });
    const s = bestOf("single");
    const b = bestOf("batch");
    const p = bestOf("pull");
    const tput = (r: PhaseResult | undefined): number | undefined => (r ? msgPerSec(r) : undefined);
    const rows = [
      row("send single, msg/s", tput(s.ours), tput(s.java), 0, "higher"),
      row(`send batch x${batch}, msg/s`, tput(b.ours), tput(b.java), 0, "higher", ">= 1.0"),
      row("pull, msg/s", tput(p.ours), tput(p.java), 0, "higher", ">= 1.0"),
      row("send single latency p50, ms", s.ours?.latencyP50Ms, s.java?.latencyP50Ms, 2, "lower"),
      row("send single latency p99, ms", s.ours?.latencyP99Ms, s.java?.latencyP99Ms, 2, "lower"),
      row(`send batch latency p50, ms`, b.ours?.latencyP50Ms, b.java?.latencyP50Ms, 2, "lower"),
      row(`send batch latency p99, ms`, b.ours?.latencyP99Ms, b.java?.latencyP99Ms, 2, "lower"),
      row("peak RSS, MiB (pull phase)", p.ours?.peakRssMiB, p.java?.peakRssMiB, 1, "lower"),
    ];
    for (const { flags, result } of rssChecks) {
      const how = flags.length === 0 ? "default flags" : flags.join(" ");
      const ok = result.maxRssMiB < RSS_TARGET_MIB && result.messages >= rssMessages ? "yes" : "NO";
      rows.push([
        `peak RSS pulling ${fmt(result.messages)}, MiB (${how})`,
        fmt(result.maxRssMiB, 1),
        "-",
        "-",
        "lower",
        `< ${RSS_TARGET_MIB}`,
        ok,
      ]);
      rows.push([
        `pull ${fmt(result.messages)}, msg/s (fresh process, ${how})`,
        fmt((result.messages * 1000) / result.elapsedMs),
        "-",
        "-",
        "higher",
        "",
        "",
      ]);
    }
    const out = [
      "",
      "RocketMQ client benchmark",
      formatMachine(machine),
      `Settings: ${size} B bodies, ${QUEUES} queues, ${concurrency} senders (one in flight each, sender i -> queue i), ` +
        `batch ${batch}, pull 32 per request on all ${QUEUES} queues; single ${fmt(single)} msgs, batch/pull ${fmt(messages)} msgs, ` +
        `warm-up ${fmt(warmup)}, phase deadline ${deadlineMs} ms, ${rounds} round(s)`,
      "Ours: this process (Node). Java: rocketmq-client " +
        `${distribution.version}, DefaultMQProducer / DefaultLitePullConsumer, one fresh JVM per phase; its RSS is the JVM's VmHWM.`,
      "",
      `Best of ${rounds} round(s) per side (latencies and RSS from the best round):`,
      formatTable(["figure", "ours", "java", "ours/java", "better", "target", "met"], rows),
      "",
      "Every round, msg/s (odd rounds: ours first; even rounds: Java first):",
      formatTable(
        ["phase", ...Array.from({ length: rounds }, (_, i) => [`r${i + 1} ours`, `r${i + 1} java`]).flat()],
        (["single", "batch", "pull"] as const).map((key) => [
          key,
          ...Array.from({ length: rounds }, (_, i) => [
            fmt(tput(results[key].ours[i])),
            fmt(tput(results[key].java[i])),
          ]).flat(),
        ]),
      ),
      "",
    ];
    const all = Object.values(results).flatMap((r) => [...r.ours, ...r.java]);
    const anyTimeout = all.some((r) => r.timedOut);
    const anyErrors = all.some((r) => r.errors > 0);
    if (anyTimeout)
      out.push("NOTE: a phase reached its deadline; its throughput is over the messages it did.");
    if (anyErrors) out.push("NOTE: some sends or pulls failed; see the progress lines on stderr.");
    out.push(`Total bench time: ${fmt((Date.now() - benchStarted) / 1000, 1)} s`, "");
    process.stdout.write(out.join("\n"));
    return 0;
  } finally {
    client?.close();
    await sandbox?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

runBench(main);
