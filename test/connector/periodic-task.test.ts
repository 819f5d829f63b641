/** PeriodicTask: runs on its interval, never two at once, and stop() waits for the run under way. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { PeriodicTask } from "../../src/connector/periodic-task.js";

describe("PeriodicTask", () => {
  it("never overlaps runs, and stop() returns only after the run under way ended", async () => {
    let running = 0;
    let most = 0;
    let runs = 0;
    let ended = 0;
    const task = new PeriodicTask(
      5,
      async () => {
        runs++;
        running++;
        most = Math.max(most, running);
        await sleep(30); // longer than the interval: ticks meanwhile must not start a second run
        running--;
        ended++;
      },
      (err) => assert.fail(String(err)),
      { now: true },
    );
    assert.equal(runs, 1, "with now, the first run starts at once");
    const deadline = Date.now() + 5000;
    while (runs < 3 && Date.now() < deadline) await sleep(5);
    await task.stop();
    assert.equal(most, 1, "two runs at once");
    assert.ok(runs >= 3, `ran ${runs} times in 5 s`);
    assert.equal(ended, runs, "a run was still under way after stop()");
    await sleep(50);
    assert.equal(runs, ended, "a run started after stop()");
  });

  it("hands a failed run to onError and keeps running", async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const task = new PeriodicTask(
      5,
      () => Promise.reject(new Error(`run ${++runs}`)),
      (err) => errors.push(err),
    );
    assert.equal(runs, 0, "without now, the first run waits for the interval");
    const deadline = Date.now() + 5000;
    while (errors.length < 3 && Date.now() < deadline) await sleep(5);
    await task.stop();
    assert.ok(errors.length >= 3, `${errors.length} errors`);
    assert.deepEqual(
      errors.slice(0, 3).map((e) => (e as Error).message),
      ["run 1", "run 2", "run 3"],
    );
  });
});
