/**
 * `npm run fuzz -- --cases N [--seed S] [--target frame|header|message|batch|properties|all]
 *  [--case I] [--max-case-ms MS] [--max-rss-mb MB] [--hang-ms MS]`
 *
 * Fuzzes the decoders (see fuzz/run.ts) and prints the figures and every failure with its input
 * as hex and the command that replays it. The loop runs in a worker thread so that a case that
 * never returns (a loop in a decoder) is still caught: the main thread kills the worker when one
 * case has run for --hang-ms and reports that case. Exits 1 on any failure.
 */
import { cpus, totalmem } from "node:os";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { randomInt } from "node:crypto";
import { caseInput, reproduceCommand, runFuzz, type FuzzOptions, type FuzzReport } from "./fuzz/run.js";
import { TARGET_NAMES, TARGETS, type TargetName } from "./fuzz/targets.js";

interface Args extends Omit<FuzzOptions, "onCase"> {
  hangMs: number;
}

function parseArgs(argv: readonly string[]): Args {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i < 0 ? undefined : argv[i + 1];
  };
  const number = (name: string, fallback: number): number => {
    const raw = value(name);
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`--${name} must be a non-negative integer, not ${raw}`);
    return n;
  };
  const target = value("target") ?? "all";
  if (target !== "all" && !(TARGET_NAMES as readonly string[]).includes(target)) {
    throw new Error(`--target must be one of ${TARGET_NAMES.join(", ")} or all, not ${target}`);
  }
  const targets: TargetName[] = target === "all" ? [...TARGET_NAMES] : [target as TargetName];
  const onlyCase = value("case") === undefined ? undefined : number("case", 0);
  if (onlyCase !== undefined && targets.length !== 1) throw new Error("--case needs one --target");
  const cases = number("cases", 1_000_000);
  return {
    seed: number("seed", randomInt(0x7fffffff)),
    casesPerTarget: Math.ceil(cases / targets.length),
    targets,
    onlyCase,
    maxCaseMs: number("max-case-ms", 1000),
    maxRssBytes: number("max-rss-mb", 1024) * 1024 * 1024,
    hangMs: number("hang-ms", 10_000),
  };
}

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

function print(report: FuzzReport): number {
  const seconds = report.elapsedMs / 1000;
  const perTarget = Object.entries(report.cases)
    .map(([name, n]) => `${name} ${n}`)
    .join(", ");
  const cpu = cpus();
  console.log(`seed:          ${report.seed}`);
  console.log(`cases:         ${report.totalCases} (${perTarget})`);
  console.log(`time:          ${seconds.toFixed(1)} s, ${Math.round(report.totalCases / seconds)} cases/s`);
  const slow = report.slowest;
  if (slow) console.log(`slowest case:  ${slow.ms.toFixed(2)} ms (${slow.target} case ${slow.index})`);
  console.log(`peak RSS:      ${mib(report.peakRssBytes)}`);
  console.log(
    `machine:       ${cpu[0]?.model.trim() ?? "unknown"}, ${cpu.length} cores, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB, node ${process.version}`,
  );
  for (const f of report.failures.slice(0, 20)) {
    console.log(`\nFAIL ${f.kind} ${f.target} case ${f.index}: ${f.message}`);
    console.log(`  input (${f.inputHex.length / 2} bytes): ${f.inputHex}`);
    console.log(`  reproduce: ${reproduceCommand(report.seed, f.target, f.index)}`);
  }
  if (report.failures.length > 20) console.log(`\n... and ${report.failures.length - 20} more failures`);
  if (report.memoryFailure !== undefined) console.log(`\nFAIL memory: ${report.memoryFailure}`);
  const failed = report.failures.length > 0 || report.memoryFailure !== undefined;
  console.log(failed ? "\nFUZZ FAILED" : "\nno failures");
  return failed ? 1 : 0;
}

/** Runs the loop in a worker; kills it and reports the case when one case runs for hangMs. */
function watch(args: Args): void {
  // [target index, case index, cases started]
  const progress = new Int32Array(new SharedArrayBuffer(12));
  const worker = new Worker(new URL(import.meta.url), { workerData: { args, progress } });
  let lastCount = -1;
  let lastChange = performance.now();
  const timer = setInterval(() => {
    const count = Atomics.load(progress, 2);
    if (count !== lastCount) {
      lastCount = count;
      lastChange = performance.now();
      return;
    }
    if (performance.now() - lastChange < args.hangMs) return;
    clearInterval(timer);
    void worker.terminate();
    const target = TARGETS[Atomics.load(progress, 0)]!;
    const index = Atomics.load(progress, 1);
    console.log(`FAIL hang: ${target.name} case ${index} ran for over ${args.hangMs} ms`);
    console.log(`  input: ${caseInput(target, args.seed, index).input.toString("hex")}`);
    console.log(`  reproduce: ${reproduceCommand(args.seed, target.name, index)}`);
    process.exitCode = 1;
  }, 250);
  worker.on("message", (report: FuzzReport) => {
    clearInterval(timer);
    process.exitCode = print(report);
  });
  worker.on("error", (err) => {
    clearInterval(timer);
    console.error(`fuzz worker crashed: ${err.stack ?? err.message}`);
    process.exitCode = 1;
  });
}

if (isMainThread) {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(2);
  }
  console.log(`fuzzing ${args.targets.join(", ")} with seed ${args.seed}...`);
  watch(args);
} else {
  const { args, progress } = workerData as { args: Args; progress: Int32Array };
  const report = runFuzz({
    ...args,
    onCase(targetIndex, index) {
      Atomics.store(progress, 0, targetIndex);
      Atomics.store(progress, 1, index);
      Atomics.add(progress, 2, 1);
    },
  });
  parentPort?.postMessage(report);
}
