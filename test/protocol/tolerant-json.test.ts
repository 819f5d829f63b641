import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ProtocolError } from "../../src/protocol/errors.js";
import { parseTolerantJson } from "../../src/protocol/tolerant-json.js";

test("fastjson ClusterInfo with unquoted numeric keys", () => {
  const text =
    '{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"127.0.0.1:10911"},"brokerName":"broker-a","cluster":"C"}},"clusterAddrTable":{"C":["broker-a"]}}';
  assert.deepEqual(parseTolerantJson(text), {
    brokerAddrTable: {
      "broker-a": { brokerAddrs: { "0": "127.0.0.1:10911" }, brokerName: "broker-a", cluster: "C" },
    },
    clusterAddrTable: { C: ["broker-a"] },
  });
  assert.deepEqual(parseTolerantJson('{ brokerAddrs : { 0 : "a:1" , 1:"b:2" } }'), {
    brokerAddrs: { "0": "a:1", "1": "b:2" },
  });
});

test("standard JSON is read as JSON.parse reads it", () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
      const text = JSON.stringify(v);
      const parsed = parseTolerantJson(text);
      // Only integers beyond 2^53 may differ (kept as strings); fc.jsonValue numbers are doubles.
      if (!/\d{16,}/.test(text)) assert.deepEqual(parsed, JSON.parse(text));
    }),
  );
});

test("integers that do not fit a double are kept as strings of digits", () => {
  assert.deepEqual(parseTolerantJson('{"offset":12345678901234567890,"small":5,"max":9007199254740991}'), {
    offset: "12345678901234567890",
    small: 5,
    max: 9007199254740991,
  });
  assert.deepEqual(parseTolerantJson("[9007199254740993,-9223372036854775808,1.5e300]"), [
    "9007199254740993",
    "-9223372036854775808",
    1.5e300,
  ]);
  assert.deepEqual(parseTolerantJson("{0:9223372036854775807}"), { "0": "9223372036854775807" });
});

test("__proto__ becomes an own key, not the prototype", () => {
  for (const text of ['{"__proto__":{"x":1},"k":{a:1}}', '{__proto__:{"x":1},k:{a:1}}']) {
    const v = parseTolerantJson(text) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.deepEqual(Object.keys(v), ["__proto__", "k"]);
  }
});

test("garbage is a ProtocolError", () => {
  for (const bad of [
    "",
    "{",
    "[1,]",
    "{,}",
    '{"a":1,}',
    "tru",
    '"abc',
    '{"a":"\\u12"}',
    "{a 1}",
    "1 2",
    "-",
    "{{}:1}",
  ]) {
    assert.throws(() => parseTolerantJson(bad), ProtocolError, JSON.stringify(bad));
  }
  assert.throws(() => parseTolerantJson("[".repeat(100_000)), ProtocolError);
  assert.throws(() => parseTolerantJson("[{a:".repeat(30_000)), ProtocolError);
  fc.assert(
    fc.property(
      fc.string({
        unit: fc.constantFrom("{", "}", "[", "]", ":", ",", '"', "a", "1", " ", "\\", "-", "e", "."),
      }),
      (s) => {
        try {
          parseTolerantJson(s);
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err;
        }
      },
    ),
    { numRuns: 5000 },
  );
});
