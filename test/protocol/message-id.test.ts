import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ProtocolError } from "../../src/protocol/errors.js";
import {
  createOffsetMsgId,
  createUniqueId,
  decodeOffsetMsgId,
  formatAddress,
  formatIp,
  parseAddress,
  parseIp,
  UniqueIdGenerator,
} from "../../src/protocol/message-id.js";

test("offsetMsgId: IPv4 vector", () => {
  // 192.168.0.1 (C0A80001) : 10911 (00002A9F) @ commitLogOffset 0x1234 (0000000000001234)
  const id = "C0A8000100002A9F0000000000001234";
  assert.equal(createOffsetMsgId(Buffer.from([192, 168, 0, 1]), 10911, 0x1234n), id);
  assert.deepEqual(decodeOffsetMsgId(id), {
    host: "192.168.0.1",
    port: 10911,
    address: "192.168.0.1:10911",
    commitLogOffset: 0x1234n,
  });
  assert.deepEqual(decodeOffsetMsgId(id.toLowerCase()).commitLogOffset, 0x1234n);
});

test("offsetMsgId: IPv6 vector and large offset", () => {
  const ip = parseIp("fe80::1");
  const id = "FE800000000000000000000000000001" + "00002A9F" + "7FFFFFFFFFFFFFFF";
  assert.equal(createOffsetMsgId(ip, 10911, 0x7fffffffffffffffn), id);
  assert.deepEqual(decodeOffsetMsgId(id), {
    host: "fe80::1",
    port: 10911,
    address: "[fe80::1]:10911",
    commitLogOffset: 0x7fffffffffffffffn,
  });
});

test("decodeOffsetMsgId rejects bad lengths and characters", () => {
  for (const bad of [
    "",
    "C0A8",
    "C0A8000100002A9F000000000000123",
    "G0A8000100002A9F0000000000001234",
    "x".repeat(56),
  ]) {
    assert.throws(() => decodeOffsetMsgId(bad), ProtocolError);
  }
  fc.assert(
    fc.property(fc.string(), (s) => {
      try {
        decodeOffsetMsgId(s);
      } catch (err) {
        assert.ok(err instanceof ProtocolError);
      }
    }),
  );
});

test("IP text forms", () => {
  assert.equal(formatIp(Buffer.from([127, 0, 0, 1])), "127.0.0.1");
  assert.equal(formatIp(Buffer.alloc(16)), "::");
  assert.equal(formatIp(parseIp("2001:db8:0:0:1:0:0:1")), "2001:db8::1:0:0:1");
  assert.equal(formatIp(parseIp("2001:DB8:0:1:1:1:1:1")), "2001:db8:0:1:1:1:1:1");
  assert.deepEqual(parseIp("::ffff:1.2.3.4"), Buffer.from("00000000000000000000ffff01020304", "hex"));
  assert.equal(formatAddress(parseIp("::1"), 9876), "[::1]:9876");
  assert.deepEqual(parseAddress("[::1]:9876"), { ip: parseIp("::1"), port: 9876 });
  assert.deepEqual(parseAddress("10.1.2.3:0"), { ip: Buffer.from([10, 1, 2, 3]), port: 0 });
  for (const bad of ["1.2.3", "256.1.1.1", "1::2::3", "1:2:3:4:5:6:7:8:9", "1.2.3.4::", "g::", ":::"]) {
    assert.throws(() => parseIp(bad), ProtocolError, bad);
  }
  for (const bad of ["1.2.3.4", "1.2.3.4:65536", "[::1]", "[::1]9876", "host:x"]) {
    assert.throws(() => parseAddress(bad), ProtocolError, bad);
  }
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
      assert.deepEqual(parseIp(formatIp(bytes)), Buffer.from(bytes));
    }),
  );
});

test("UniqueIdGenerator lays out ip, pid, hash, ms since month start, counter", () => {
  const now = new Date(2024, 4, 3, 10, 0, 0, 5).getTime(); // local time, as Java's Calendar
  const sinceMonth = now - new Date(2024, 4, 1).getTime();
  const gen = new UniqueIdGenerator({
    ip: Buffer.from([10, 0, 0, 7]),
    pid: 0x12345,
    instanceHash: -1,
    now: () => now,
  });
  const hex8 = sinceMonth.toString(16).toUpperCase().padStart(8, "0");
  assert.equal(gen.next(), `0A000007` + `2345` + `FFFFFFFF` + hex8 + `0000`);
  assert.equal(gen.next(), `0A000007` + `2345` + `FFFFFFFF` + hex8 + `0001`);
  for (let i = 2; i < 0x10000; i++) gen.next();
  assert.ok(gen.next().endsWith("0000"), "counter wraps at 16 bits");
});

test("UniqueIdGenerator with IPv6 gives 56 characters; defaults give 32 unique ids", () => {
  const gen = new UniqueIdGenerator({ ip: parseIp("::1"), pid: 1, instanceHash: 2, now: () => Date.now() });
  assert.equal(gen.next().length, 56);
  const ids = new Set(Array.from({ length: 1000 }, () => createUniqueId()));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.match(id, /^[0-9A-F]{32}$/);
  assert.throws(() => new UniqueIdGenerator({ ip: Buffer.alloc(5) }), ProtocolError);
});
