import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { javaStringHashCode, parseTagExpression, tagMatches } from "../../src/protocol/tag-hash.js";

test("javaStringHashCode matches Java String.hashCode vectors", () => {
  assert.equal(javaStringHashCode("TagA"), 2598919);
  assert.equal(javaStringHashCode("TagB"), 2598920);
  assert.equal(javaStringHashCode("*"), 42);
  assert.equal(javaStringHashCode(""), 0);
  // Overflow wraps like Java int: "polygenelubricants".hashCode() == Integer.MIN_VALUE.
  assert.equal(javaStringHashCode("polygenelubricants"), -2147483648);
  // Non-BMP characters count as two UTF-16 code units: "😀" = \uD83D\uDE00 -> 55357 * 31 + 56832.
  assert.equal(javaStringHashCode("\u{1F600}"), 55357 * 31 + 56832);
});

test("javaStringHashCode always returns an int32", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), (s) => {
      const h = javaStringHashCode(s);
      assert.ok(Number.isInteger(h) && h >= -0x80000000 && h <= 0x7fffffff);
    }),
  );
});

test("parseTagExpression follows FilterAPI.buildSubscriptionData", () => {
  assert.deepEqual(parseTagExpression("*"), { all: true });
  assert.deepEqual(parseTagExpression(""), { all: true });
  assert.deepEqual(parseTagExpression("TagA || TagB"), { tags: ["TagA", "TagB"], codes: [2598919, 2598920] });
  assert.deepEqual(parseTagExpression(" TagA ||||  || TagA"), { tags: ["TagA"], codes: [2598919] });
  assert.deepEqual(parseTagExpression("||"), { tags: [], codes: [] });
  // A single "|" is not a separator.
  assert.deepEqual(parseTagExpression("a|b"), { tags: ["a|b"], codes: [javaStringHashCode("a|b")] });
});

test("tagMatches re-filters by exact tag string", () => {
  assert.equal(tagMatches("*", undefined), true);
  assert.equal(tagMatches("", "x"), true);
  assert.equal(tagMatches("TagA||TagB", "TagB"), true);
  assert.equal(tagMatches("TagA||TagB", "TagC"), false);
  assert.equal(tagMatches("TagA||TagB", undefined), false);
  assert.equal(tagMatches("||", "TagA"), false);
  // "Aa" and "BB" collide in Java hashCode; the broker lets both through, the client must not.
  assert.equal(javaStringHashCode("Aa"), javaStringHashCode("BB"));
  assert.equal(tagMatches(parseTagExpression("Aa"), "BB"), false);
});
