import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { RmqError } from "../../src/protocol/errors.js";
import {
  assertValidProperty,
  decodeProperties,
  encodeProperties,
  encodePropertiesBytes,
  InvalidPropertyError,
  isSystemProperty,
  MAX_PROPERTIES_BYTES,
  MessageConst,
  PropertiesTooLongError,
  rewriteProperties,
} from "../../src/protocol/properties.js";

test("encodeProperties writes name\\u0001value\\u0002 in key order", () => {
  assert.equal(
    encodeProperties({ TAGS: "TagA", KEYS: "k1 k2" }),
    "TAGS\u0001TagA\u0002KEYS\u0001k1 k2\u0002",
  );
  assert.equal(encodeProperties({}), "");
  assert.equal(encodeProperties({ a: "1", skipped: undefined }), "a\u00011\u0002");
  assert.deepEqual(encodePropertiesBytes({ é: "ü" }), Buffer.from("c3a901c3bc02", "hex"));
});

test("decodeProperties follows string2messageProperties", () => {
  assert.deepEqual(decodeProperties("TAGS\u0001TagA\u0002KEYS\u0001k1 k2\u0002"), {
    TAGS: "TagA",
    KEYS: "k1 k2",
  });
  // Missing final separator accepted.
  assert.deepEqual(decodeProperties("a\u0001bc"), { a: "bc" });
  // Segments shorter than 3 chars, without a separator, with an empty name or value are skipped.
  assert.deepEqual(decodeProperties("a\u0001\u0002\u0001bc\u0002xyz\u0002ab\u0002k\u0001v\u0002"), {
    k: "v",
  });
  // Value may contain \u0001 after the first one; later duplicates win.
  assert.deepEqual(decodeProperties("k\u0001a\u0001b\u0002k\u0001c\u0002"), { k: "c" });
  assert.deepEqual(decodeProperties("k\u0001a\u0001b\u0002"), { k: "a\u0001b" });
  assert.deepEqual(decodeProperties(""), {});
  assert.deepEqual(decodeProperties("\u0002\u0002\u0002"), {});
  // "__proto__" is an ordinary own key, not a prototype change.
  const p = decodeProperties("__proto__\u0001x\u0002");
  assert.equal(Object.getPrototypeOf(p), Object.prototype);
  assert.deepEqual(Object.entries(p), [["__proto__", "x"]]);
});

test("round trip for any valid properties", () => {
  const part = fc
    .string({ minLength: 1, unit: "grapheme" })
    .filter((s) => !s.includes("\u0001") && !s.includes("\u0002"));
  fc.assert(
    fc.property(fc.dictionary(part, part), (props) => {
      assert.deepEqual(decodeProperties(encodeProperties(props)), { ...props });
    }),
  );
});

test("decodeProperties never throws", () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom("\u0001", "\u0002", "a", "b", "é") }), (s) => {
      decodeProperties(s);
    }),
  );
});

test("rewriteProperties keeps entries byte for byte, drops by name and appends", () => {
  const source = "TAGS\u0001A\u0002CLUSTER\u0001c\u0002UNIQ_KEY\u0001U1\u0002région\u0001Zürich\u0002";
  const none = rewriteProperties(source, () => false, []);
  assert.equal(none.text, source, "nothing dropped: the source text itself");
  assert.equal(none.uniqKey, "U1");
  const dropped = rewriteProperties(source, (n) => n === "CLUSTER" || n === "TAGS", [["X", "1"]]);
  assert.equal(dropped.text, "UNIQ_KEY\u0001U1\u0002région\u0001Zürich\u0002X\u00011\u0002");
  assert.deepEqual(dropped.decode(), { UNIQ_KEY: "U1", région: "Zürich", X: "1" });
  const last = rewriteProperties(source, (n) => n === "région", []);
  assert.equal(last.text, "TAGS\u0001A\u0002CLUSTER\u0001c\u0002UNIQ_KEY\u0001U1\u0002");
  // A missing final separator is added; malformed segments are left out, as the decoder skips them.
  assert.equal(rewriteProperties("a\u0001bc", () => false, []).text, "a\u0001bc\u0002");
  assert.equal(
    rewriteProperties("ab\u0002\u0001xy\u0002k\u0001v\u0002z\u0001\u0002q\u0001a\u0001b", () => false, [])
      .text,
    "k\u0001v\u0002q\u0001a\u0001b\u0002",
  );
  assert.equal(rewriteProperties("", () => false, []).text, "");
  // Duplicates travel as they are: a reader takes the later value, as it would from the source.
  const dup = rewriteProperties(
    "k\u00011\u0002UNIQ_KEY\u0001a\u0002k\u00012\u0002UNIQ_KEY\u0001b\u0002",
    () => false,
    [],
  );
  assert.deepEqual(dup.decode(), { k: "2", UNIQ_KEY: "b" });
  assert.equal(dup.uniqKey, "b");
  // Any iterable of entries is taken, not only an array.
  const fromMap = rewriteProperties("a\u0001b\u0002", () => false, new Map([["UNIQ_KEY", "X"]]));
  assert.equal(fromMap.text, "a\u0001b\u0002UNIQ_KEY\u0001X\u0002");
  assert.equal(fromMap.uniqKey, "X");
  const added = rewriteProperties("", () => false, [["UNIQ_KEY", "NEW"]]);
  assert.equal(added.uniqKey, "NEW");
  assert.throws(
    () => rewriteProperties(source, () => false, [["bad", "x\u0002y"]]),
    (e: unknown) => e instanceof InvalidPropertyError && e.property === "bad",
  );
});

test("rewriteProperties decodes like a filtered record, for any properties and drop set", () => {
  const part = fc
    .string({ minLength: 1, unit: "grapheme" })
    .filter((s) => !s.includes("\u0001") && !s.includes("\u0002"));
  fc.assert(
    fc.property(fc.dictionary(part, part), fc.array(part), (props, dropNames) => {
      const drop = new Set(dropNames);
      const out = rewriteProperties(encodeProperties(props), (n) => drop.has(n), [["appended\u00e9", "v"]]);
      const expected = Object.fromEntries(Object.entries(props).filter(([n]) => !drop.has(n)));
      assert.deepEqual(out.decode(), { ...expected, "appended\u00e9": "v" });
    }),
  );
});

test("separators and empty parts are rejected with an error naming the property", () => {
  for (const [name, value] of [
    ["bad\u0001name", "v"],
    ["bad\u0002name", "v"],
    ["good", "bad\u0002value"],
    ["good", "bad\u0001value"],
    ["good", ""],
    ["", "v"],
  ] as const) {
    assert.throws(
      () => encodeProperties({ ok: "1", [name]: value }),
      (err: unknown) => {
        assert.ok(err instanceof InvalidPropertyError && err instanceof RmqError);
        assert.equal(err.code, "RMQ_INVALID_PROPERTY");
        assert.equal(err.property, name);
        assert.equal(err.context["property"], name);
        return true;
      },
    );
    assert.throws(() => assertValidProperty(name, value), InvalidPropertyError);
  }
  assert.throws(() => encodeProperties({ "bad\u0001name": "v" }), /bad.u0001name/);
});

test("encodePropertiesBytes enforces the int16 length", () => {
  const atLimit = "x".repeat(MAX_PROPERTIES_BYTES - 3);
  assert.equal(encodePropertiesBytes({ k: atLimit }).length, MAX_PROPERTIES_BYTES);
  assert.throws(
    () => encodePropertiesBytes({ k: atLimit + "é" }),
    (err: unknown) => err instanceof PropertiesTooLongError && err.bytes === MAX_PROPERTIES_BYTES + 2,
  );
  assert.throws(() => encodePropertiesBytes("y".repeat(MAX_PROPERTIES_BYTES + 1)), PropertiesTooLongError);
});

test("constants keep the Java names and wire values", () => {
  assert.equal(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, "UNIQ_KEY");
  assert.equal(MessageConst.PROPERTY_WAIT_STORE_MSG_OK, "WAIT");
  assert.equal(MessageConst.PROPERTY_REAL_QUEUE_ID, "REAL_QID");
  assert.equal(MessageConst.PROPERTY_FIRST_POP_TIME, "1ST_POP_TIME");
  assert.equal(isSystemProperty("UNIQ_KEY"), true);
  assert.equal(isSystemProperty("TIMER_OUT_MS"), true);
  assert.equal(isSystemProperty("__transactionId__"), false);
  assert.equal(isSystemProperty("myKey"), false);
});
