/**
 * A slice of `npm run fuzz` (bench/fuzz/run.ts, the same loop and targets): every decoder against
 * generated and mutated inputs, with a fixed seed that always runs the same cases and a random
 * seed (printed, so a failure can be replayed with `npm run fuzz -- --seed S`) that adds new ones.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { reproduceCommand, runFuzz } from "../../bench/fuzz/run.js";
import { TARGET_NAMES } from "../../bench/fuzz/targets.js";

function fuzzSlice(seed: number, casesPerTarget: number): void {
  const report = runFuzz({ seed, casesPerTarget, targets: TARGET_NAMES });
  assert.equal(report.totalCases, casesPerTarget * TARGET_NAMES.length);
  const failures = report.failures.map(
    (f) =>
      `${f.kind} ${f.target}: ${f.message}\n  input ${f.inputHex}\n  ${reproduceCommand(seed, f.target, f.index)}`,
  );
  assert.deepEqual(failures, []);
  assert.equal(report.memoryFailure, undefined);
}

test("fuzz slice, fixed seed: 20 000 cases without a crash, a rejected valid input or an unbounded output", () => {
  fuzzSlice(1, 4000);
});

test("fuzz slice, random seed: 5 000 more cases", (t) => {
  const seed = randomInt(0x7fffffff);
  t.diagnostic(`fuzz seed ${seed} (replay: npm run fuzz -- --seed ${seed} --cases 5000)`);
  fuzzSlice(seed, 1000);
});
