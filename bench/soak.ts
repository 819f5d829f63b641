/**
 * `npm run soak -- --minutes N [--faults connector,target-broker,source-broker,proxy]
 *   [--delivery at-least-once|exactly-once] [--seed S] [--rate R]`
 *
 * The long run of issue 10's proofs: its own two-cluster sandbox (A -> B), then fault rounds in
 * a loop until N minutes have passed. Each round has a fresh source topic (8 queues), a target
 * topic created beforehand with 8 or, every other round, 4 queues (source queues sharing target
 * queues), a fresh connector name, a continuous producer, one kind of fault (taken in turn from
 * --faults), then a drain and `verifyRoutes` on the connector's config (what `rmq-connector
 * verify` runs). The proxy round puts a fault proxy in front of each broker (the clusters'
 * `addressMap`) with an 800 ms send timeout: target connections cut, responses delayed 5 s (past
 * the timeout, after the broker stored the batch) and dropped; source connections cut and
 * stalled. It prints the
 * totals of each round and of the run, and exits 1 on any message missing, out of order or
 * altered, on a drain that did not finish, and, with exactly-once, on any duplicate.
 * A failing round is replayed with --seed (every random moment comes from it).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { RocketMQClient } from "../src/client/index.js";
import { ConfigError, loadConfig } from "../src/config/index.js";
import { javaCommand, startSandbox, type LocalCluster } from "../src/sandbox/index.js";
import {
  between,
  chaosSeed,
  ConnectorProcess,
  ContinuousProducer,
  crashBroker,
  drainAndCheck,
  formatVerify,
  killLoop,
  seededRandom,
  summarizeKills,
  verifyProblems,
} from "../test/helpers/chaos.js";
import { writeConnectorConfig, type ConnectorConfigOptions } from "../test/helpers/connector-process.js";
import { proxyCluster, type ChaosReport, type ProxiedCluster } from "../test/helpers/fault-proxy.js";
import type { VerifyCounts } from "../src/connector/verify.js";
import { uniqueName } from "../test/helpers/sandbox.js";
import { progress, sleep, stderrLogger } from "./harness.js";
import { describeMachine, formatMachine, TWO_CLUSTERS } from "./machine.js";
import { runBench } from "./main.js";

const FAULTS = ["connector", "target-broker", "source-broker", "proxy"] as const;
type Fault = (typeof FAULTS)[number];
const DELIVERIES = ["at-least-once", "exactly-once"] as const;
type Delivery = (typeof DELIVERIES)[number];

const HELP = `Usage: npm run soak -- --minutes N [options]

Fault rounds against the connector until N minutes have passed; exit 1 on any message missing,
out of order or altered (and, with exactly-once, duplicated).

  --minutes N          run time; a round started before it ends is finished (required)
  --faults LIST        comma list of ${FAULTS.join(", ")} (default: all), one kind per round, in turn
  --delivery MODE      ${DELIVERIES.join(" | ")} (default at-least-once)
  --seed S             seed of every random moment (default: env RMQ_CHAOS_SEED, else random)
  --rate R             messages per second of the producer, over 8 queues (default 1000)
  --kills K            connector SIGKILLs per connector round (default 10)
`;

const SOURCE_QUEUES = 8;

/** What the soak adds up over rounds: verify's counts that matter here. */
type CheckTotals = Pick<VerifyCounts, "checked" | "missing" | "duplicated" | "outOfOrder" | "altered">;

interface RoundResult {
  fault: Fault;
  produced: number;
  kills: number;
  brokerCrashes: number;
  /** Faults the proxies applied (proxy rounds). */
  proxyFaults: number;
  /** Unknown send outcomes settled from the target, and how many had landed (exactly-once). */
  settled: number;
  landed: number;
  /** ms from spawn to "running", per life that got there. */
  recoveryMs: number[];
  /** Warning and error lines the connector logged: a broker fault it never saw proves nothing. */
  warnings: number;
  drained: boolean;
  totals: CheckTotals;
  seconds: number;
}

function options(): {
  minutes: number;
  faults: Fault[];
  delivery: Delivery;
  seed: number;
  rate: number;
  kills: number;
} {
  const { values } = parseArgs({
    options: {
      minutes: { type: "string" },
      faults: { type: "string", default: FAULTS.join(",") },
      delivery: { type: "string", default: "at-least-once" },
      seed: { type: "string" },
      rate: { type: "string", default: "1000" },
      kills: { type: "string", default: "10" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const positive = (flag: string, raw: string | undefined): number => {
    const n = Number(raw);
    if (raw === undefined || !Number.isFinite(n) || n <= 0)
      throw new Error(`--${flag} needs a positive number, got ${raw ?? "nothing"}\n\n${HELP}`);
    return n;
  };
  const faults = values.faults.split(",").map((f) => f.trim());
  for (const f of faults) {
    if (!(FAULTS as readonly string[]).includes(f))
      throw new Error(`--faults: unknown fault "${f}"; known: ${FAULTS.join(", ")}`);
  }
  if (!(DELIVERIES as readonly string[]).includes(values.delivery)) {
    throw new Error(`--delivery must be one of ${DELIVERIES.join(", ")}, got "${values.delivery}"`);
  }
  if (values.seed !== undefined) process.env["RMQ_CHAOS_SEED"] = values.seed;
  return {
    minutes: positive("minutes", values.minutes),
    faults: faults as Fault[],
    delivery: values.delivery as Delivery,
    seed: chaosSeed(),
    rate: positive("rate", values.rate),
    kills: Math.round(positive("kills", values.kills)),
  };
}

/**
 * Loads a config with the run's settings (placeholder addresses) before any JVM starts: a
 * setting the validator refuses is reported in its own words.
 */
async function validateUpFront(dir: string, config: ConnectorConfigOptions): Promise<string | undefined> {
  const path = join(dir, "validate.yaml");
  writeConnectorConfig(
    path,
    "soak-validate",
    { a: "127.0.0.1:9876", b: "127.0.0.1:9877" },
    { fromCluster: "a", toCluster: "b", topic: "t", start: "earliest" },
    config,
  );
  try {
    await loadConfig(path);
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
}

async function main(): Promise<number> {
  const o = options();
  const dir = mkdtempSync(join(tmpdir(), "rmq-soak-"));
  const connectorConfig: ConnectorConfigOptions = { delivery: o.delivery, commitIntervalMs: 500 };
  try {
    const refused = await validateUpFront(dir, connectorConfig);
    if (refused !== undefined) {
      process.stderr.write(
        `soak: the connector refuses this config (delivery: ${o.delivery}):\n${refused}\n`,
      );
      return 2;
    }
    progress(
      `seed ${o.seed} (replay: --seed ${o.seed}); ${o.minutes} min, faults ${o.faults.join(",")}, ${o.delivery}, ${o.rate} msg/s`,
    );
    const sandbox = await startSandbox({ clusters: 2, namePrefix: "soak", logger: stderrLogger });
    process.stdout.write(
      `${formatMachine(describeMachine(javaCommand(), sandbox.distribution.version), TWO_CLUSTERS)}\n`,
    );
    const [ca, cb] = sandbox.clusters as [LocalCluster, LocalCluster];
    const a = new RocketMQClient({ namesrv: ca.namesrv });
    const b = new RocketMQClient({ namesrv: cb.namesrv });
    const random = seededRandom(o.seed);
    const results: RoundResult[] = [];
    const deadline = performance.now() + o.minutes * 60_000;
    try {
      for (let round = 0; round === 0 || performance.now() < deadline; round++) {
        const fault = o.faults[round % o.faults.length] as Fault;
        const result = await runRound({
          round,
          fault,
          a,
          b,
          clusters: { a: ca, b: cb },
          dir,
          random,
          rate: o.rate,
          kills: o.kills,
          config: connectorConfig,
        });
        results.push(result);
        process.stdout.write(`round ${round + 1} ${fault}: ${formatRound(result)}\n`);
      }
    } finally {
      a.close();
      b.close();
      await sandbox.stop();
    }
    const sum = (pick: (r: RoundResult) => number): number => results.reduce((n, r) => n + pick(r), 0);
    const totals: CheckTotals = {
      checked: sum((r) => r.totals.checked),
      missing: sum((r) => r.totals.missing),
      duplicated: sum((r) => r.totals.duplicated),
      outOfOrder: sum((r) => r.totals.outOfOrder),
      altered: sum((r) => r.totals.altered),
    };
    const undrained = results.filter((r) => !r.drained).length;
    process.stdout.write(
      `soak ${o.delivery}, seed ${o.seed}: ${results.length} rounds, ${sum((r) => r.produced)} produced, ` +
        `${sum((r) => r.kills)} connector SIGKILLs, ${sum((r) => r.brokerCrashes)} broker SIGKILLs, ` +
        `${sum((r) => r.proxyFaults)} proxy faults, ${sum((r) => r.settled)} unknown outcomes settled ` +
        `(${sum((r) => r.landed)} had landed), recovery ${formatRecovery(results.flatMap((r) => r.recoveryMs))}, ` +
        `${undrained} undrained rounds; ${formatTotals(totals)}; ${Math.round(sum((r) => r.seconds))} s\n`,
    );
    const bad =
      totals.missing +
      totals.outOfOrder +
      totals.altered +
      undrained +
      (o.delivery === "exactly-once" ? totals.duplicated : 0);
    return bad > 0 ? 1 : 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function formatTotals(t: CheckTotals): string {
  return `${t.checked} checked, ${t.missing} missing, ${t.duplicated} duplicated, ${t.outOfOrder} out of order, ${t.altered} altered`;
}

/** Spawn -> "running" times: count, median and max, ms. */
function formatRecovery(ms: readonly number[]): string {
  if (ms.length === 0) return "none";
  const sorted = [...ms].sort((x, y) => x - y);
  return `${sorted.length} starts, median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted.at(-1)} ms`;
}

function formatRound(r: RoundResult): string {
  return (
    `${r.produced} produced, ${r.kills} connector SIGKILLs, ${r.brokerCrashes} broker SIGKILLs, ${r.proxyFaults} proxy faults, ` +
    `${r.settled} unknown outcomes settled (${r.landed} landed), ${r.warnings} connector warnings, ` +
    `recovery ${formatRecovery(r.recoveryMs)}, ${r.drained ? "drained" : "NOT drained"}; ${formatTotals(r.totals)}; ${Math.round(r.seconds)} s`
  );
}

/** Sums what the proxies' chaos schedules did. */
function countFaults(reports: readonly ChaosReport[]): number {
  return reports.reduce((n, r) => n + r.cut + r.refuse + r.stall + r.delay + r.drop, 0);
}

async function runRound(p: {
  round: number;
  fault: Fault;
  a: RocketMQClient;
  b: RocketMQClient;
  clusters: { a: LocalCluster; b: LocalCluster };
  dir: string;
  random: () => number;
  rate: number;
  kills: number;
  config: ConnectorConfigOptions;
}): Promise<RoundResult> {
  const started = performance.now();
  const topic = uniqueName(`soak${p.round + 1}`);
  const name = uniqueName("soak");
  await p.a.admin.createTopic({ topic, queueNums: SOURCE_QUEUES });
  await p.b.admin.createTopic({ topic, queueNums: p.round % 2 === 0 ? SOURCE_QUEUES : SOURCE_QUEUES / 2 });
  let proxies: { source: ProxiedCluster; target: ProxiedCluster } | undefined;
  let config = p.config;
  if (p.fault === "proxy") {
    proxies = { source: await proxyCluster(p.clusters.a), target: await proxyCluster(p.clusters.b) };
    config = {
      ...p.config,
      clusterOptions: {
        a: { addressMap: proxies.source.addressMap },
        b: { addressMap: proxies.target.addressMap },
      },
      // Short, so a response delayed 5 s is an unknown outcome of a batch the broker stored.
      extraYaml: "send: { timeoutMs: 800 }",
    };
  }
  const connector = new ConnectorProcess({
    dir: p.dir,
    name,
    clusters: { a: p.clusters.a.namesrv, b: p.clusters.b.namesrv },
    route: { fromCluster: "a", toCluster: "b", topic, start: "earliest" },
    config,
  });
  const producer = await ContinuousProducer.start({ client: p.a, topic, ratePerSecond: p.rate });
  let brokerCrashes = 0;
  let proxyFaults = 0;
  try {
    await connector.start();
    if (p.fault === "connector") {
      const kills = await killLoop({
        process: connector,
        times: p.kills,
        minUpMs: 1500,
        maxUpMs: 4000,
        random: p.random,
      });
      const by = summarizeKills(kills);
      progress(`round ${p.round + 1}: kills met ${JSON.stringify(by)}`);
      await connector.waitRunning();
    } else if (p.fault === "proxy" && proxies !== undefined) {
      const chaos = new AbortController();
      const schedules = [
        ...[...proxies.target.proxies.values()].map((proxy) =>
          proxy.chaos({
            everyMs: [300, 1200],
            faults: ["cut", "delay", "drop"],
            random: p.random,
            signal: chaos.signal,
          }),
        ),
        ...[...proxies.source.proxies.values()].map((proxy) =>
          proxy.chaos({
            everyMs: [500, 2000],
            faults: ["cut", "stall"],
            random: p.random,
            signal: chaos.signal,
          }),
        ),
      ];
      await sleep(between(p.random, 20_000, 40_000));
      chaos.abort();
      proxyFaults = countFaults(await Promise.all(schedules));
      progress(`round ${p.round + 1}: ${proxyFaults} proxy faults`);
    } else {
      const broker = p.fault === "target-broker" ? p.clusters.b : p.clusters.a;
      for (let i = 0; i < 2; i++) {
        await sleep(between(p.random, 3000, 10_000));
        const { restartMs } = await crashBroker(broker, between(p.random, 500, 5000));
        brokerCrashes++;
        progress(`round ${p.round + 1}: ${p.fault} SIGKILLed and back in ${restartMs} ms`);
      }
      await sleep(between(p.random, 2000, 5000));
    }
    const produced = await producer.stop();
    const { drain, report } = await drainAndCheck({
      source: p.a,
      connector,
      topics: [topic],
      drainTimeoutMs: 180_000,
    });
    const duplicatesMatter = p.config.delivery === "exactly-once" && report.totals.duplicated > 0;
    if (
      !drain.reached ||
      report.totals.missing + report.totals.outOfOrder + report.totals.altered > 0 ||
      duplicatesMatter
    ) {
      progress(`round ${p.round + 1}: ${formatVerify(report)}; ${verifyProblems(report)}`);
      progress(`round ${p.round + 1}: connector log tail:\n${connector.report(20)}`);
    }
    const { settled, landed } = connector.settledOutcomes();
    return {
      fault: p.fault,
      produced: produced.acknowledged,
      kills: connector.kills,
      brokerCrashes,
      proxyFaults,
      settled,
      landed,
      recoveryMs: connector.recoveryMs,
      warnings: connector.problemCount,
      drained: drain.reached,
      totals: report.totals,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await producer.stop();
    await connector.stop(5000);
    await proxies?.source.close();
    await proxies?.target.close();
  }
}

runBench(main);
