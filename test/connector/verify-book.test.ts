/** SourceQueueBook: what verify concludes from the copies of one source queue it found. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SourceQueueBook, type MessageDigest } from "../../src/connector/verify-book.js";

const d = (content: number, uniqKey?: number): MessageDigest => ({ content, uniqKey });

describe("SourceQueueBook", () => {
  it("a copy of each offset in order is clean, and its digest is compared", () => {
    const book = new SourceQueueBook();
    for (let i = 0n; i < 100n; i++) book.recordTarget(i + 40_000n, d(Number(i), 7), "q0");
    assert.equal(book.lowestSeen, 40_000n);
    assert.deepEqual(book.targetFindings(), {
      duplicated: 0,
      outOfOrder: 0,
      examples: { duplicated: [], outOfOrder: [] },
    });
    assert.equal(book.checkSource(40_005n, d(5, 7)), "ok");
    assert.equal(book.checkSource(40_005n, d(6, 7)), "altered");
    assert.equal(book.checkSource(40_005n, d(5, 8)), "altered");
    // A source message without UNIQ_KEY: the target's producer made one up; not compared.
    assert.equal(book.checkSource(40_005n, d(5)), "ok");
    assert.equal(book.checkSource(39_999n, d(0)), "missing");
    assert.equal(book.checkSource(1_000_000n, d(0)), "missing");
  });

  it("a re-sent copy is a duplicate, not disorder; a late first copy is disorder", () => {
    const book = new SourceQueueBook();
    for (const offset of [0n, 1n, 2n, 3n, 1n, 5n, 4n, 6n]) book.recordTarget(offset, d(1), "q0");
    assert.deepEqual(book.targetFindings(), {
      duplicated: 1,
      outOfOrder: 1,
      examples: { duplicated: [1n], outOfOrder: [4n] },
    });
  });

  it("judges order within one target queue: S moving to another queue is not disorder", () => {
    const book = new SourceQueueBook();
    for (const offset of [0n, 1n, 2n]) book.recordTarget(offset, d(1), "q0");
    for (const offset of [3n, 4n]) book.recordTarget(offset, d(1), "q1");
    book.recordTarget(5n, d(1), "q0");
    assert.equal(book.targetFindings().outOfOrder, 0);
  });

  it("dead letters count as an occurrence: alone dead-lettered, with a target copy duplicated", () => {
    const book = new SourceQueueBook();
    book.recordTarget(0n, d(1), "q0");
    book.recordDeadLetter(1n);
    book.recordDeadLetter(0n);
    assert.equal(book.checkSource(1n, d(9)), "dead-lettered");
    assert.equal(book.checkSource(0n, d(1)), "ok");
    assert.deepEqual(book.targetFindings().examples.duplicated, [0n]);
  });

  it("two different target copies make the offset altered whatever the source says", () => {
    const book = new SourceQueueBook();
    book.recordTarget(3n, d(1), "q0");
    book.recordTarget(3n, d(2), "q1");
    assert.equal(book.checkSource(3n, d(1)), "altered");
    assert.equal(book.checkSource(3n, d(2)), "altered");
  });

  it("keeps the lowest five examples and counts past them, across chunks", () => {
    const book = new SourceQueueBook();
    const offsets = [100_000n, 3n, 20_000n, 7n, 50_000n, 9n, 70_000n];
    for (const o of offsets) {
      book.recordTarget(o, d(1), "q0");
      book.recordTarget(o, d(1), "q0");
    }
    const f = book.targetFindings();
    assert.equal(f.duplicated, offsets.length);
    assert.deepEqual(f.examples.duplicated, [3n, 7n, 9n, 20_000n, 50_000n]);
    assert.equal(book.lowestSeen, 3n);
    // Bounded: a chunk per 16 Ki offsets touched, 9 bytes per offset in it.
    assert.equal(book.bytes, 5 * 16_384 * 9);
  });
});
