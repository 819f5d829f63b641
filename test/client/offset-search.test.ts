/**
 * The pure part of the exact offset-by-store-time search (the client call against real brokers is
 * in test/e2e/client.test.ts): the right answer from any broker guess, and few probes.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { searchStoreTime } from "../../src/client/offset-search.js";

describe("searchStoreTime", () => {
  /** A queue from offset `min` whose store timestamps are `times`; counts probes. */
  function queue(min: number, times: number[]) {
    const probes: bigint[] = [];
    const probe = async (offset: bigint): Promise<number | undefined> => {
      probes.push(offset);
      const i = Number(offset) - min;
      return i >= 0 && i < times.length ? times[i] : undefined;
    };
    return { probe, probes, min: BigInt(min), max: BigInt(min + times.length) };
  }
  /** The answer by linear scan. */
  function expected(min: number, times: number[], t: number): bigint {
    const i = times.findIndex((x) => x >= t);
    return BigInt(min + (i < 0 ? times.length : i));
  }

  it("finds the first message at or after the time from any guess", async () => {
    // Runs of equal timestamps: the broker may point at any one of them, or at a neighbour.
    const times = [10, 10, 20, 20, 20, 20, 20, 30, 31, 31, 40, 50, 50, 50, 60];
    for (const min of [0, 5]) {
      for (const t of [0, 10, 15, 20, 25, 31, 45, 50, 60, 61, 1000]) {
        for (let g = min - 2; g <= min + times.length + 2; g++) {
          const q = queue(min, times);
          const got = await searchStoreTime(q.probe, q.min, q.max, BigInt(g), t);
          assert.equal(got, expected(min, times, t), `t=${t} guess=${g} min=${min}`);
        }
      }
    }
  });
  it("needs few probes on a large queue and none on an empty one", async () => {
    const times = Array.from({ length: 100_000 }, (_, i) => Math.floor(i / 10));
    const q = queue(0, times);
    assert.equal(await searchStoreTime(q.probe, q.min, q.max, 50_007n, 5000), 50_000n);
    assert.ok(q.probes.length <= 12, `${q.probes.length} probes`);
    const far = queue(0, times);
    assert.equal(await searchStoreTime(far.probe, far.min, far.max, 0n, 9999), 99_990n);
    assert.ok(far.probes.length <= 40, `${far.probes.length} probes`);
    const empty = queue(7, []);
    assert.equal(await searchStoreTime(empty.probe, empty.min, empty.max, 7n, 5), 7n);
    assert.equal(empty.probes.length, 0);
  });
});
