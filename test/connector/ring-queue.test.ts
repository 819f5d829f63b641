/** RingQueue against a plain array doing the same pushes and front removals. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RingQueue } from "../../src/connector/ring-queue.js";

function contents<T>(q: RingQueue<T>): T[] {
  return Array.from({ length: q.length }, (_, i) => q.at(i) as T);
}

describe("RingQueue", () => {
  it("keeps order through wrap-around and growth, like push + splice(0, n) on an array", () => {
    const q = new RingQueue<number>(4);
    const model: number[] = [];
    let next = 0;
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let step = 0; step < 5000; step++) {
      if (random(3) !== 0) {
        const pushes = random(40);
        for (let i = 0; i < pushes; i++) {
          q.push(next);
          model.push(next++);
        }
      } else {
        const n = random(50);
        q.dropFront(n);
        model.splice(0, n);
      }
      assert.equal(q.length, model.length);
      assert.equal(q.at(0), model[0]);
      assert.equal(q.at(model.length - 1), model[model.length - 1]);
    }
    assert.deepEqual(contents(q), model);
  });

  it("answers undefined outside its items, and drops no more than it holds", () => {
    const q = new RingQueue<string>(2);
    q.push("a");
    q.push("b");
    q.push("c");
    assert.equal(q.at(-1), undefined);
    assert.equal(q.at(3), undefined);
    q.dropFront(10);
    assert.equal(q.length, 0);
    assert.equal(q.at(0), undefined);
    q.push("d");
    assert.deepEqual(contents(q), ["d"]);
    q.push("e");
    assert.equal(
      q.find((s) => s > "d"),
      "e",
    );
    assert.equal(
      q.find((s) => s > "e"),
      undefined,
    );
  });
});
