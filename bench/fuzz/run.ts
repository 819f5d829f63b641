/**
 * The fuzz loop, shared by `npm run fuzz` and the slice npm test runs. Each case of a target is
 * a valid encoding, a mutation of one, or random bytes, drawn from a PRNG seeded by (seed,
 * target, case index): the seed replays a run, and the index replays one case alone.
 *
 * A case fails when the decoder throws anything but the project's RmqError family (TypeError,
 * RangeError...), rejects a valid encoding, outputs more than the target's bound for its input
 * size, or runs longer than the per-case limit. The run fails when RSS passes its limit.
 */
import { RmqError } from "../../src/protocol/errors.js";
import { mutate } from "./mutate.js";
import { caseSeed, Prng } from "./prng.js";
import { TARGETS, type FuzzTarget, type TargetName } from "./targets.js";

export interface FuzzOptions {
  seed: number;
  /** Cases per target. */
  casesPerTarget: number;
  targets: readonly TargetName[];
  /** Only this case index (to reproduce one failure). */
  onlyCase?: number | undefined;
  /** A case slower than this fails. Default 1000 ms. */
  maxCaseMs?: number;
  /** The run fails when RSS passes this. Default 1024 MiB. */
  maxRssBytes?: number;
  /** Called before each case: a watchdog can name the case that hangs. */
  onCase?: (targetIndex: number, index: number) => void;
}

export interface FuzzFailure {
  target: TargetName;
  index: number;
  kind: "crash" | "rejected-valid" | "unbounded-output" | "slow";
  message: string;
  inputHex: string;
}

export interface FuzzReport {
  seed: number;
  cases: Partial<Record<TargetName, number>>;
  totalCases: number;
  elapsedMs: number;
  slowest: { target: TargetName; index: number; ms: number } | undefined;
  peakRssBytes: number;
  failures: FuzzFailure[];
  /** Set when RSS passed maxRssBytes (the run stops there). */
  memoryFailure: string | undefined;
}

/** The input of one case, and whether it is an unmodified valid encoding. */
export function caseInput(
  target: FuzzTarget,
  seed: number,
  index: number,
): { input: Buffer; valid: boolean; rng: Prng } {
  const rng = new Prng(caseSeed(seed, TARGETS.indexOf(target), index));
  const roll = rng.int(100);
  if (roll < 10) return { input: rng.bytes(rng.int(rng.chance(0.5) ? 32 : 600)), valid: false, rng };
  const valid = target.valid(rng);
  if (roll < 15) return { input: valid, valid: true, rng };
  return { input: mutate(rng, valid, target.valid(rng)), valid: false, rng };
}

/** Runs one case; returns its failure, if any. */
function runCase(
  target: FuzzTarget,
  input: Buffer,
  valid: boolean,
  rng: Prng,
): Omit<FuzzFailure, "target" | "index" | "inputHex"> | undefined {
  let size: number;
  try {
    size = target.run(input, rng);
  } catch (err) {
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    if (!(err instanceof RmqError) || target.neverThrows === true) return { kind: "crash", message };
    if (valid) return { kind: "rejected-valid", message };
    return undefined;
  }
  const bound = target.maxOutput(input.length);
  if (size > bound)
    return {
      kind: "unbounded-output",
      message: `output of ${size} for ${input.length} input bytes (bound ${bound})`,
    };
  return undefined;
}

export function runFuzz(options: FuzzOptions): FuzzReport {
  const maxCaseMs = options.maxCaseMs ?? 1000;
  const maxRssBytes = options.maxRssBytes ?? 1024 * 1024 * 1024;
  const report: FuzzReport = {
    seed: options.seed,
    cases: {},
    totalCases: 0,
    elapsedMs: 0,
    slowest: undefined,
    peakRssBytes: process.memoryUsage.rss(),
    failures: [],
    memoryFailure: undefined,
  };
  const started = performance.now();
  for (const name of options.targets) {
    const target = TARGETS.find((t) => t.name === name) as FuzzTarget;
    const targetIndex = TARGETS.indexOf(target);
    const first = options.onlyCase ?? 0;
    const end = options.onlyCase === undefined ? options.casesPerTarget : options.onlyCase + 1;
    for (let index = first; index < end; index++) {
      options.onCase?.(targetIndex, index);
      const { input, valid, rng } = caseInput(target, options.seed, index);
      const t0 = performance.now();
      let failure = runCase(target, input, valid, rng);
      const ms = performance.now() - t0;
      if (report.slowest === undefined || ms > report.slowest.ms)
        report.slowest = { target: name, index, ms };
      if (failure === undefined && ms > maxCaseMs)
        failure = { kind: "slow", message: `took ${ms.toFixed(0)} ms (limit ${maxCaseMs})` };
      if (failure) report.failures.push({ ...failure, target: name, index, inputHex: input.toString("hex") });
      report.totalCases++;
      report.cases[name] = (report.cases[name] ?? 0) + 1;
      if (index % 1024 === 0) {
        const rss = process.memoryUsage.rss();
        report.peakRssBytes = Math.max(report.peakRssBytes, rss);
        if (rss > maxRssBytes) {
          report.memoryFailure = `RSS ${rss} bytes passed the limit of ${maxRssBytes} at ${name} case ${index}`;
          report.elapsedMs = performance.now() - started;
          return report;
        }
      }
    }
  }
  report.peakRssBytes = Math.max(report.peakRssBytes, process.memoryUsage.rss());
  report.elapsedMs = performance.now() - started;
  return report;
}

/** The command that replays one case. */
export function reproduceCommand(seed: number, target: TargetName, index: number): string {
  return `npm run fuzz -- --seed ${seed} --target ${target} --case ${index}`;
}
