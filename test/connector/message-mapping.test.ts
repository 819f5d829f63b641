/** The property mapping, provenance and loop rule of docs/replication.md, on decoded messages. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Provenance,
  formatPosition,
  mapMessage,
  parsePosition,
  pulledFrom,
  wouldLoop,
} from "../../src/connector/message-mapping.js";
import { decodeStoredMessages, encodeStoredMessage } from "../../src/protocol/message.js";
import { EncodedProperties, encodeProperties } from "../../src/protocol/properties.js";
import type { Message } from "../../src/client/types.js";
import { mapQueue } from "../../src/connector/queue-mapping.js";
import { ByteBudget } from "../../src/connector/byte-budget.js";

/** A stored message; properties as a record, or as wire text (which may hold what the encoder refuses). */
function stored(properties: Record<string, string> | string, sysFlag = 0, body = Buffer.from("payload")) {
  const bytes = encodeStoredMessage({
    topic: "orders",
    queueId: 3,
    flag: 7,
    queueOffset: 41n,
    commitLogOffset: 1000n,
    sysFlag,
    bornTimestamp: 1_700_000_000_000,
    bornHost: "10.0.0.1:5000",
    storeTimestamp: 1_700_000_000_050,
    storeHost: "10.0.0.2:10911",
    reconsumeTimes: 0,
    preparedTransactionOffset: 0n,
    storedBody: body,
    properties: typeof properties === "string" ? properties : encodeProperties(properties),
  });
  const [m] = decodeStoredMessages(bytes, { decompress: false });
  assert.ok(m);
  return m;
}

function encoded(m: Message): EncodedProperties {
  assert.ok(m.properties instanceof EncodedProperties, "mapMessage forwards encoded properties");
  return m.properties;
}

describe("mapMessage", () => {
  const from = pulledFrom("east", { topic: "orders", brokerName: "broker-a", queueId: 3 }, "dr-1");

  it("keeps body, flag, born time, tags, keys, id and user properties; drops broker, timer and transaction ones", () => {
    const m = stored({
      TAGS: "TagA",
      KEYS: "k1 k2",
      UNIQ_KEY: "ABCDEF",
      CLUSTER: "east-cluster",
      MSG_REGION: "DefaultRegion",
      TRACE_ON: "true",
      MIN_OFFSET: "0",
      MAX_OFFSET: "42",
      DELAY: "3",
      TIMER_DELIVER_MS: "1",
      TIMER_OUT_MS: "2",
      TRAN_MSG: "true",
      PGROUP: "pg",
      région: "Zürich",
    });
    const out = mapMessage(m, from, "orders_dr");
    assert.equal(out.topic, "orders_dr");
    assert.equal(out.body.toString(), "payload");
    assert.equal(out.flag, 7);
    assert.equal(out.bornTimestamp, 1_700_000_000_000);
    assert.equal(out.tags, undefined, "TAGS travels inside the encoded properties");
    assert.equal(out.keys, undefined, "KEYS travels inside the encoded properties");
    const properties = encoded(out);
    // Kept entries keep their bytes and order; provenance comes last.
    assert.equal(
      properties.text,
      "TAGS\u0001TagA\u0002KEYS\u0001k1 k2\u0002UNIQ_KEY\u0001ABCDEF\u0002région\u0001Zürich\u0002" +
        "RMQC_SOURCE\u0001east/orders/broker-a/3/41\u0002RMQC_PATH\u0001east\u0002" +
        "RMQC_SOURCE_STORE_MS\u00011700000000050\u0002RMQC_WRITER\u0001dr-1\u0002RMQC_ORIGIN\u0001east/orders/broker-a/3/41\u0002",
    );
    assert.equal(properties.uniqKey, "ABCDEF");
    assert.equal(out.compressionSysFlag, 0);
  });

  it("writes provenance: source position, first origin, cluster path and source store time", () => {
    const out = encoded(mapMessage(stored({}), from, "t")).decode();
    assert.equal(out[Provenance.SOURCE], "east/orders/broker-a/3/41");
    assert.equal(
      out[Provenance.SOURCE],
      formatPosition({
        cluster: "east",
        topic: "orders",
        brokerName: "broker-a",
        queueId: 3,
        queueOffset: 41n,
      }),
    );
    assert.equal(out[Provenance.ORIGIN], "east/orders/broker-a/3/41");
    assert.equal(out[Provenance.PATH], "east");
    assert.equal(out[Provenance.SOURCE_STORE_MS], "1700000000050");
    assert.equal(out[Provenance.WRITER], "dr-1");
    const second = encoded(
      mapMessage(
        stored({
          [Provenance.ORIGIN]: "west/x/b/0/9",
          [Provenance.PATH]: "west",
          [Provenance.SOURCE]: "west/x/b/0/9",
          [Provenance.SOURCE_STORE_MS]: "1",
          [Provenance.WRITER]: "other-connector",
        }),
        from,
        "t",
      ),
    );
    assert.deepEqual(second.decode(), {
      [Provenance.ORIGIN]: "west/x/b/0/9",
      [Provenance.SOURCE]: "east/orders/broker-a/3/41",
      [Provenance.PATH]: "west,east",
      [Provenance.SOURCE_STORE_MS]: "1700000000050",
      [Provenance.WRITER]: "dr-1",
    });
    assert.equal(
      second.text.split(`${Provenance.SOURCE}\u0001`).length,
      2,
      "the previous hop's RMQC_SOURCE is replaced, not repeated",
    );
  });

  it("encodes position parts so names with separators round-trip", () => {
    const p = {
      cluster: "a/b",
      topic: "%RETRY%g",
      brokerName: "b 1",
      queueId: 2,
      queueOffset: 12345678901234n,
    };
    assert.deepEqual(parsePosition(formatPosition(p)), p);
    assert.equal(parsePosition("not/a/position"), undefined);
  });

  it("passes compression bits through for a compressed body, and nothing else of sysFlag", () => {
    // COMPRESSED | ZLIB type (3 << 8) | MULTI_TAGS | COMMIT transaction type
    const out = mapMessage(stored({}, 0x1 | 0x300 | 0x2 | 0x8), from, "t");
    assert.equal(out.compressionSysFlag, 0x301);
  });

  it("detects loops from the cluster path and the cluster read from", () => {
    assert.equal(wouldLoop(stored({}), "east", "west"), false);
    assert.equal(wouldLoop(stored({ [Provenance.PATH]: "west" }), "east", "west"), true);
    assert.equal(wouldLoop(stored({}), "east", "east"), true);
  });

  it("maps a message whose stored values hold \\u0001 (legal on the wire): forwarded as is, left out of the path", () => {
    // Java's putUserProperty takes such values, and string2messageProperties splits at the first
    // \u0001 only. A path part like that names no configured cluster; written back, it would make
    // the message unsendable and stop the queue.
    const m = stored("odd\u0001a\u0001b\u0002RMQC_PATH\u0001x\u0001y,west\u0002");
    assert.equal(wouldLoop(m, "east", "west"), true);
    const out = mapMessage(m, from, "t");
    assert.equal(
      encoded(out).text,
      "odd\u0001a\u0001b\u0002RMQC_SOURCE\u0001east/orders/broker-a/3/41\u0002RMQC_PATH\u0001west,east\u0002" +
        "RMQC_SOURCE_STORE_MS\u00011700000000050\u0002RMQC_WRITER\u0001dr-1\u0002RMQC_ORIGIN\u0001east/orders/broker-a/3/41\u0002",
    );
  });
});

describe("mapQueue", () => {
  const q = (brokerName: string, queueId: number) => ({ topic: "t", brokerName, queueId });
  it("maps the i-th source queue to the i-th target queue when counts match, else modulo", () => {
    const source = [q("a", 1), q("a", 0), q("b", 0), q("b", 1)];
    const same = [q("x", 0), q("x", 1), q("x", 2), q("x", 3)];
    assert.deepEqual(mapQueue(q("b", 0), source, same), q("x", 2));
    const fewer = [q("x", 1), q("x", 0)];
    assert.deepEqual(mapQueue(q("b", 1), source, fewer), q("x", 1));
    assert.deepEqual(mapQueue(q("b", 0), source, fewer), q("x", 0));
  });
});

describe("ByteBudget", () => {
  it("waits while spent, lets one oversized request through alone, and gives up on abort", async () => {
    const budget = new ByteBudget(100);
    assert.equal(await budget.acquire(80), true);
    let second = false;
    const waiting = budget.acquire(50).then((ok) => (second = ok));
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(second, false);
    budget.release(80);
    await waiting;
    assert.equal(second, true);
    budget.release(50);
    assert.equal(
      await budget.acquire(500),
      true,
      "a request larger than the budget passes when nothing else is held",
    );
    const controller = new AbortController();
    const blocked = budget.acquire(10, controller.signal);
    controller.abort();
    assert.equal(await blocked, false);
  });
});
