/** GroupCommit: what arrives during a flush goes in the next one, and each caller learns its own flush's outcome. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { GroupCommit } from "../../src/connector/group-commit.js";

describe("GroupCommit", () => {
  it("flushes the first item at once and everything that came during it together next", async () => {
    const flushes: number[][] = [];
    let running = 0;
    const commit = new GroupCommit<number>(async (items) => {
      assert.equal(running++, 0, "two flushes at once");
      flushes.push(items);
      await sleep(20);
      running--;
    });
    const first = commit.add(0);
    await sleep(5);
    const rest = [1, 2, 3, 4, 5, 6, 7].map((n) => commit.add(n));
    await Promise.all([first, ...rest]);
    assert.deepEqual(flushes, [[0], [1, 2, 3, 4, 5, 6, 7]]);
    // Idle again: the next item is flushed at once, alone.
    await commit.add(8);
    assert.deepEqual(flushes.at(-1), [8]);
  });

  it("rejects only the callers of the flush that failed; the next flush still runs", async () => {
    let calls = 0;
    const commit = new GroupCommit<string>(async (items) => {
      calls++;
      await sleep(10);
      if (items.includes("bad")) throw new Error(`flush of ${items.join(",")} failed`);
    });
    const ok = commit.add("a");
    await sleep(2);
    const bad = [commit.add("bad"), commit.add("b")];
    const after = bad[1]!.catch(() => commit.add("c"));
    await ok;
    for (const p of bad) await assert.rejects(p, /flush of bad,b failed/);
    await after;
    assert.equal(calls, 3);
  });
});
