/**
 * `npm run bench:catchup-ab`: is a change faster? The connector's catch-up, variant A against
 * variant B, in one run on the same brokers, in ABBA order. This machine's speed drifts by up
 * to 2x between runs of `bench:replication`, which hides 10-20 % changes; within one run, with
 * the variants interleaved, it does not.
 *
 * Variant A is this build with its defaults. Variant B differs by any of: BENCH_AB_CONFIG (YAML
 * appended to its config), BENCH_AB_FLAGS (node flags), BENCH_AB_MAIN (another build's
 * dist/src/cli/main.js, e.g. of a git worktree of the commit before a change).
 *
 * One backlog is filled into A once; every run copies all of it to a fresh target topic on B,
 * with a fresh connector name (its own consumer group, from earliest). One unmeasured run of each
 * variant first warms both brokers and the page cache. Each run records the rate (from the
 * connector's "starting" line to the last message stored in B) and the connector's CPU per message
 * over the same span.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { RocketMQClient, type MessageQueue } from "../src/client/index.js";
import type { Sandbox } from "../src/sandbox/index.js";
import { ConnectorProcess, connectorMain, procMemory, writeConnectorConfig } from "./connector-process.js";
import { processCpuSeconds } from "./cpu.js";
import {
  envFlags,
  benchClusters,
  envInt,
  perMessageMicros,
  progress,
  sumMaxOffsets,
  waitForTarget,
} from "./harness.js";
import { formatMachine, TWO_CLUSTERS } from "./machine.js";
import { runBench } from "./main.js";
import { sendPhase } from "./ours.js";
import { fmt, formatTable, median } from "./stats.js";

const HELP = `Usage: BENCH_AB_CONFIG=... | BENCH_AB_FLAGS=... | BENCH_AB_MAIN=... npm run bench:catchup-ab

The connector's catch-up with variant A (this build, defaults) and variant B, alternating in one
run on the same two local clusters. See docs/benchmarks.md ("Comparing two variants").

Environment (defaults in brackets):
  BENCH_AB_CONFIG     variant B: YAML appended to the connector's config, e.g. "limits: { inFlightMessagesPerQueue: 128 }"
  BENCH_AB_FLAGS      variant B: node flags, space-separated, e.g. "--max-semi-space-size=16"
  BENCH_AB_MAIN       variant B: another build's dist/src/cli/main.js
  BENCH_AB_ROUNDS     ABBA rounds; each runs both variants once [3]
  BENCH_BACKLOG       messages copied by every run [100000]
  BENCH_SIZE          body bytes [1024]
  BENCH_DEADLINE_MS   time limit of one run, ms [120000]
  BENCH_NAMESRV_A/_B  use these running clusters instead of starting a sandbox
`;

const QUEUES = 8;

interface Variant {
  name: "A" | "B";
  yaml: string;
  flags: string[];
  main: string;
}

interface Run {
  variant: "A" | "B";
  msgPerSec: number;
  cpuMicrosPerMsg: number;
  peakRssMiB: number | undefined;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { help: { type: "boolean", short: "h" } }, strict: true });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const backlog = envInt("BENCH_BACKLOG", 100_000);
  const size = envInt("BENCH_SIZE", 1024);
  const rounds = envInt("BENCH_AB_ROUNDS", 3);
  const deadlineMs = envInt("BENCH_DEADLINE_MS", 120_000);
  const a: Variant = { name: "A", yaml: "", flags: [], main: connectorMain() };
  const b: Variant = {
    name: "B",
    yaml: process.env["BENCH_AB_CONFIG"] ?? "",
    flags: envFlags("BENCH_AB_FLAGS"),
    main: process.env["BENCH_AB_MAIN"] || connectorMain(),
  };
  const describeVariant = (v: Variant): string =>
    [
      v.main === connectorMain() ? "this build" : v.main,
      v.flags.length > 0 ? `node ${v.flags.join(" ")}` : "",
      v.yaml !== "" ? `config + ${JSON.stringify(v.yaml)}` : "",
    ]
      .filter((p) => p !== "")
      .join(", ");
  if (b.yaml === "" && b.flags.length === 0 && b.main === a.main)
    progress("variant B is the same as A (no BENCH_AB_*): this run measures the noise");

  const scratch = mkdtempSync(join(tmpdir(), "rmq-bench-ab-"));
  let sandbox: Sandbox | undefined;
  let clientA: RocketMQClient | undefined;
  let clientB: RocketMQClient | undefined;
  const runs: Run[] = [];
  try {
    const clusters = await benchClusters();
    sandbox = clusters.sandbox;
    const { namesrvA, namesrvB, machine } = clusters;
    clientA = new RocketMQClient({ namesrv: namesrvA, requestTimeoutMs: 10_000 });
    clientB = new RocketMQClient({ namesrv: namesrvB, requestTimeoutMs: 10_000 });
    const run = `ab-${Date.now().toString(36)}-${randomBytes(2).toString("hex")}`;
    const source = `${run}-source`;
    await clientA.admin.createTopic({ topic: source, queueNums: QUEUES });
    const sourceQueues = (await clientA.admin.getTopicRoute(source, { refresh: true })).writeQueues();
    progress(`filling the backlog: ${fmt(backlog)} messages into A`);
    const fill = await sendPhase(clientA.producer({ group: `${run}_producer` }), {
      topic: source,
      queues: sourceQueues,
      count: backlog,
      body: randomBytes(size),
      batch: 32,
      concurrency: 8,
      deadlineMs: Math.max(deadlineMs, 300_000),
    });
    if (fill.messages < backlog) throw new Error(`the backlog fill sent ${fill.messages} of ${backlog}`);

    const order: Variant[] = [a, b];
    for (let r = 0; r < rounds; r++) order.push(...(r % 2 === 0 ? [a, b] : [b, a]));
    for (const [i, variant] of order.entries()) {
      const warmUp = i < 2;
      const target = `${run}-t${i}`;
      await clientB.admin.createTopic({ topic: target, queueNums: QUEUES });
      const targetQueues: MessageQueue[] = (
        await clientB.admin.getTopicRoute(target, { refresh: true })
      ).writeQueues();
      const baseline = await sumMaxOffsets(clientB, targetQueues);
      const config = join(scratch, `run-${i}.yaml`);
      writeConnectorConfig(
        config,
        `${run}-c${i}`,
        { a: namesrvA, b: namesrvB },
        { fromCluster: "a", toCluster: "b", topic: source, targetTopic: target, start: "earliest" },
        variant.yaml,
      );
      const proc = new ConnectorProcess(config, variant.flags, variant.main);
      let alive = true;
      void proc.exited.then(() => (alive = false));
      const reached = await waitForTarget(clientB, targetQueues, baseline, backlog, deadlineMs, () => alive);
      // From its "starting" line, as the rate: not what loading Node and the code cost.
      const cpuSeconds =
        (processCpuSeconds(proc.pid) ?? Number.NaN) - (proc.cpuAtStartingSeconds ?? Number.NaN);
      const peakRssMiB = procMemory(proc.pid)?.hwmMiB;
      await proc.stop();
      if (reached.timedOut) {
        for (const line of proc.tail) progress(`  connector: ${line}`);
        throw new Error(`run ${i} (${variant.name}) copied ${reached.stored} of ${backlog} in time`);
      }
      const result: Run = {
        variant: variant.name,
        msgPerSec: (backlog * 1000) / (reached.doneAt - (proc.startingAt ?? proc.spawnedAt)),
        cpuMicrosPerMsg: perMessageMicros(cpuSeconds, backlog),
        peakRssMiB,
      };
      if (!warmUp) runs.push(result);
      progress(
        `${warmUp ? "warm-up" : `run ${i - 1}`} ${variant.name}: ${fmt(result.msgPerSec)} msg/s, ` +
          `${fmt(result.cpuMicrosPerMsg, 1)} µs CPU per message, peak RSS ${fmt(peakRssMiB, 1)} MiB`,
      );
    }

    const of = (name: "A" | "B", pick: (r: Run) => number | undefined): number =>
      median(runs.filter((r) => r.variant === name).map((r) => pick(r) ?? Number.NaN));
    const rows = [
      ["catch-up, msg/s (median)", (r: Run) => r.msgPerSec, 0],
      ["connector CPU per message, µs (median)", (r: Run) => r.cpuMicrosPerMsg, 1],
      ["connector peak RSS, MiB (median)", (r: Run) => r.peakRssMiB, 1],
    ] as const;
    process.stdout.write(
      `\nCatch-up A/B\n${formatMachine(machine, TWO_CLUSTERS)}\n` +
        `Settings: ${fmt(backlog)} x ${fmt(size)} B per run, ${QUEUES} queues, one warm-up run of each variant, then ${rounds} ABBA rounds\n` +
        `A: ${describeVariant(a)}\nB: ${describeVariant(b)}\n\n` +
        formatTable(
          ["run", "variant", "catch-up msg/s", "CPU µs/msg", "peak RSS MiB"],
          runs.map((r, i) => [
            String(i + 1),
            r.variant,
            fmt(r.msgPerSec),
            fmt(r.cpuMicrosPerMsg, 1),
            fmt(r.peakRssMiB, 1),
          ]),
        ) +
        "\n\n" +
        formatTable(
          ["figure", "A", "B", "B / A"],
          rows.map(([label, pick, decimals]) => [
            label,
            fmt(of("A", pick), decimals),
            fmt(of("B", pick), decimals),
            (of("B", pick) / of("A", pick)).toFixed(3),
          ]),
        ) +
        "\n",
    );
    return 0;
  } finally {
    clientA?.close();
    clientB?.close();
    await sandbox?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

runBench(main);
