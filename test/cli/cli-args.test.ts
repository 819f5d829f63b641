/** The pure parts of `produce` and `consume`: flags, --from, durations, bodies, JSON lines. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { parseDuration } from "../../src/cli/durations.js";
import { parseInteger, parseQueueSelector } from "../../src/cli/args.js";
import { decodeBody, encodeBody, jsonLine } from "../../src/cli/output.js";
import { errorLine, UsageError } from "../../src/cli/usage.js";
import {
  generatedBody,
  parseProduceArgs,
  splitLines,
  type ProduceOptions,
} from "../../src/cli/commands/produce.js";
import {
  DEFAULT_IDLE_TIMEOUT_MS,
  isTransient,
  messageRecord,
  parseConsumeArgs,
  parseFrom,
  type ConsumeOptions,
} from "../../src/cli/commands/consume.js";
import type { MessageExt } from "../../src/protocol/message.js";
import { expectCodes } from "../../src/client/broker-call.js";
import { RmqError } from "../../src/protocol/errors.js";
import type { RemotingCommand } from "../../src/protocol/remoting-command.js";
import { ConnectionError, RequestTimeoutError } from "../../src/transport/errors.js";
import { parseTopicArgs } from "../../src/cli/commands/topic.js";
import { connectionFromArgs } from "../../src/cli/connection.js";
import { clientOptions } from "../../src/config/client-options.js";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { makeTestCertificates } from "../helpers/certs.js";

/** Asserts that `fn` throws a UsageError whose message starts with `flag`. */
function throwsFor(fn: () => unknown, flag: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UsageError, `expected UsageError, got ${String(err)}`);
    assert.equal(err.code, "RMQ_USAGE");
    assert.ok(err.message.includes(flag), `"${err.message}" should name ${flag}`);
    return true;
  });
}

describe("parseDuration", () => {
  it("reads ms, s, m, h, decimals and sums", () => {
    assert.equal(parseDuration("500ms", "--timeout"), 500);
    assert.equal(parseDuration("5s", "--timeout"), 5000);
    assert.equal(parseDuration("1.5s", "--timeout"), 1500);
    assert.equal(parseDuration("2m", "--timeout"), 120_000);
    assert.equal(parseDuration("1h", "--timeout"), 3_600_000);
    assert.equal(parseDuration("1m30s", "--timeout"), 90_000);
    assert.equal(parseDuration(" 0s ", "--timeout"), 0);
  });
  it("refuses bare numbers, unknown units and garbage, naming the flag", () => {
    for (const bad of ["5", "", "s", "5x", "-1s", "5 s", "1m 30s", "1e3ms", "abc"]) {
      throwsFor(() => parseDuration(bad, "--timeout"), "--timeout");
    }
  });
});

describe("queue and integer flags", () => {
  it("reads a queueId or broker#queueId", () => {
    assert.deepEqual(parseQueueSelector("3"), { queueId: 3 });
    assert.deepEqual(parseQueueSelector("broker-a#12"), { queueId: 12, brokerName: "broker-a" });
    assert.deepEqual(parseQueueSelector("a#b#1"), { queueId: 1, brokerName: "a#b" });
    for (const bad of ["", "-1", "x", "broker-a#", "1.5", "99999999999"])
      throwsFor(() => parseQueueSelector(bad), "--queue");
  });
  it("bounds integers", () => {
    assert.equal(parseInteger("10", "--count"), 10);
    throwsFor(() => parseInteger("0", "--count"), "--count");
    throwsFor(() => parseInteger("1e3", "--count"), "--count");
    throwsFor(() => parseInteger("11", "--batch", 1, 10), "--batch");
  });
});

describe("parseFrom", () => {
  it("knows earliest, latest, offsets, epoch ms and ISO-8601", () => {
    assert.deepEqual(parseFrom("earliest"), { kind: "earliest" });
    assert.deepEqual(parseFrom("LATEST"), { kind: "latest" });
    assert.deepEqual(parseFrom("0"), { kind: "offset", offset: 0n });
    assert.deepEqual(parseFrom("123456"), { kind: "offset", offset: 123456n });
    assert.deepEqual(parseFrom("999999999999"), { kind: "offset", offset: 999_999_999_999n });
    assert.deepEqual(parseFrom("offset:1700000000000"), { kind: "offset", offset: 1_700_000_000_000n });
    assert.deepEqual(parseFrom("1700000000000"), { kind: "timestamp", timestampMs: 1_700_000_000_000 });
    assert.deepEqual(parseFrom("2024-05-01T12:00:00Z"), {
      kind: "timestamp",
      timestampMs: Date.UTC(2024, 4, 1, 12),
    });
    assert.deepEqual(parseFrom("2024-05-01T12:00:00.250+02:00"), {
      kind: "timestamp",
      timestampMs: Date.UTC(2024, 4, 1, 10, 0, 0, 250),
    });
    assert.deepEqual(parseFrom("2024-05-01"), { kind: "timestamp", timestampMs: Date.UTC(2024, 4, 1) });
    // Without a zone a date-time is local time, as in JavaScript's Date.
    assert.deepEqual(parseFrom("2024-05-01 12:00"), {
      kind: "timestamp",
      timestampMs: new Date(2024, 4, 1, 12).getTime(),
    });
  });
  it("refuses anything else, naming --from", () => {
    for (const bad of [
      "",
      "first",
      "-5",
      "12abc",
      "2024-13-45T99:00Z",
      "yesterday",
      "offset:",
      "9".repeat(30),
    ]) {
      throwsFor(() => parseFrom(bad), "--from");
    }
  });
});

describe("parseProduceArgs", () => {
  const base = ["--namesrv", "127.0.0.1:9876", "--topic", "T"];
  it("gives defaults and collects repeated flags", () => {
    const o = parseProduceArgs(
      [...base, "--tag", "TagA", "--key", "k1", "--key", "k2", "--property", "a=b=c", "--property", "x=y"],
      {},
    );
    assert.notEqual(o, "help");
    const expected: ProduceOptions = {
      connection: { namesrv: "127.0.0.1:9876", tls: false, requestTimeoutMs: 5000 },
      topic: "T",
      tag: "TagA",
      keys: ["k1", "k2"],
      properties: { a: "b=c", x: "y" },
      queue: undefined,
      generate: undefined,
      batch: 1,
      group: "rmq_connector_cli",
    };
    assert.deepEqual(o, expected);
    const g = parseProduceArgs([...base, "--count", "10", "--batch", "4", "--queue", "b#2"]);
    assert.ok(g !== "help");
    assert.deepEqual(g.generate, { count: 10, sizeBytes: 128 });
    assert.equal(g.batch, 4);
    assert.deepEqual(g.queue, { queueId: 2, brokerName: "b" });
    assert.equal(parseProduceArgs(["-h"]), "help");
  });
  it("names the flag at fault", () => {
    throwsFor(() => parseProduceArgs(["--topic", "T"]), "--namesrv");
    throwsFor(() => parseProduceArgs(["--namesrv", "x"]), "--topic");
    throwsFor(() => parseProduceArgs([...base, "--bogus"]), "--bogus");
    throwsFor(() => parseProduceArgs([...base, "--count"]), "--count");
    throwsFor(() => parseProduceArgs([...base, "--count", "x"]), "--count");
    throwsFor(() => parseProduceArgs([...base, "--size", "10"]), "--size");
    throwsFor(() => parseProduceArgs([...base, "--property", "novalue"]), "--property");
    throwsFor(() => parseProduceArgs([...base, "--property", "TAGS=x"]), "--property");
    throwsFor(() => parseProduceArgs([...base, "--property", "a=\u0001"]), "--property");
    throwsFor(() => parseProduceArgs([...base, "--key", "two words"]), "--key");
    throwsFor(() => parseProduceArgs([...base, "--batch", "0"]), "--batch");
    throwsFor(() => parseProduceArgs([...base, "--request-timeout", "3"]), "--request-timeout");
    throwsFor(() => parseProduceArgs([...base, "stray"]), "stray");
  });
});

describe("parseConsumeArgs", () => {
  const base = ["--namesrv", "ns:9876", "--topic", "T"];
  it("defaults: earliest, all tags, idle timeout only without --count", () => {
    const o = parseConsumeArgs(base, {});
    const expected: ConsumeOptions = {
      connection: { namesrv: "ns:9876", tls: false, requestTimeoutMs: 5000 },
      topic: "T",
      queue: undefined,
      from: { kind: "earliest" },
      tags: "*",
      count: undefined,
      idleTimeoutMs: DEFAULT_IDLE_TIMEOUT_MS,
      group: "rmq_connector_cli",
    };
    assert.deepEqual(o, expected);
    const c = parseConsumeArgs([
      ...base,
      "--count",
      "3",
      "--tags",
      "A || B",
      "--from",
      "latest",
      "--queue",
      "1",
    ]);
    assert.ok(c !== "help");
    assert.equal(c.count, 3);
    assert.equal(c.idleTimeoutMs, undefined);
    assert.equal(c.tags, "A || B");
    assert.deepEqual(c.from, { kind: "latest" });
    assert.deepEqual(c.queue, { queueId: 1 });
    const t = parseConsumeArgs([...base, "--count", "3", "--timeout", "250ms", "--group", "g"]);
    assert.ok(t !== "help");
    assert.equal(t.idleTimeoutMs, 250);
    assert.equal(t.group, "g");
  });
  it("names the flag at fault", () => {
    throwsFor(() => parseConsumeArgs([...base, "--from", "soon"]), "--from");
    throwsFor(() => parseConsumeArgs([...base, "--timeout", "0s"]), "--timeout");
    throwsFor(() => parseConsumeArgs([...base, "--timeout", "5"]), "--timeout");
    throwsFor(() => parseConsumeArgs([...base, "--count", "-1"]), "--count");
    throwsFor(() => parseConsumeArgs([...base, "--queue", "x"]), "--queue");
    throwsFor(() => parseConsumeArgs([...base, "--tag", "A"]), "--tag");
  });
});

describe("connection: flags and environment -> client options", () => {
  const SECRET = "s3cr3t-cli-41d0";
  const TOKEN = "t0ken-cli-8e1f";
  const env = { RMQ_ACCESS_KEY: "AK", RMQ_SECRET_KEY: SECRET, RMQ_SECURITY_TOKEN: TOKEN };
  const signedTls = {
    namesrv: "ns:9876",
    requestTimeoutMs: 2500,
    tls: { rejectUnauthorized: true },
    credentials: { accessKey: "AK", secretKey: SECRET, securityToken: TOKEN },
  };
  const flags = ["--namesrv", "ns:9876", "--tls", "--request-timeout", "2500ms"];

  it("produce, consume and topic turn --tls, --request-timeout and RMQ_* into the client's options", () => {
    const p = parseProduceArgs([...flags, "--topic", "T"], env);
    const c = parseConsumeArgs([...flags, "--topic", "T"], env);
    const t = parseTopicArgs(["describe", ...flags, "--topic", "T"], env);
    assert.ok(p !== "help" && c !== "help" && t !== "help");
    for (const o of [p, c, t]) assert.deepEqual(clientOptions(o.connection), signedTls);
  });

  it("--tls-ca, --tls-server-name and --tls-insecure become verified TLS options; bad files name their flag", async () => {
    const certs = await makeTestCertificates();
    try {
      const withCa = connectionFromArgs(
        { namesrv: "ns:9876", "tls-ca": certs.caFile, "tls-server-name": "b1" },
        {},
      );
      assert.deepEqual(clientOptions(withCa).tls, {
        rejectUnauthorized: true,
        ca: certs.ca,
        servername: "b1",
      });
      const insecure = connectionFromArgs({ namesrv: "ns:9876", tls: true, "tls-insecure": true }, {});
      assert.deepEqual(clientOptions(insecure).tls, { rejectUnauthorized: false });
      throwsFor(
        () => connectionFromArgs({ namesrv: "ns:9876", "tls-ca": join(certs.dir, "missing.pem") }, {}),
        "--tls-ca: cannot read",
      );
      throwsFor(() => connectionFromArgs({ namesrv: "ns:9876", "tls-ca": certs.keyFile }, {}), "--tls-ca: ");
      throwsFor(
        () => connectionFromArgs({ namesrv: "ns:9876", "tls-cert": certs.certFile }, {}),
        "--tls-cert and --tls-key go together",
      );
      throwsFor(
        () => connectionFromArgs({ namesrv: "ns:9876", "tls-insecure": true }, {}),
        "--tls-insecure needs --tls",
      );
    } finally {
      rmSync(certs.dir, { recursive: true, force: true });
    }
  });

  it("without flags or variables: plain TCP, 5 s requests, no signing; empty variables are unset", () => {
    const plain = { namesrv: "ns:9876", requestTimeoutMs: 5000 };
    assert.deepEqual(clientOptions(connectionFromArgs({ namesrv: "ns:9876" }, {})), plain);
    const empty = { RMQ_ACCESS_KEY: "", RMQ_SECRET_KEY: "", RMQ_SECURITY_TOKEN: "" };
    assert.deepEqual(clientOptions(connectionFromArgs({ namesrv: "ns:9876" }, empty)), plain);
    const keysOnly = connectionFromArgs(
      { namesrv: "ns:9876" },
      { RMQ_ACCESS_KEY: "AK", RMQ_SECRET_KEY: SECRET },
    );
    assert.deepEqual(clientOptions(keysOnly).credentials, { accessKey: "AK", secretKey: SECRET });
  });

  it("refuses incomplete credentials naming the variable, never the value", () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ RMQ_ACCESS_KEY: "AK" }, "RMQ_ACCESS_KEY is set but RMQ_SECRET_KEY is not"],
      [{ RMQ_SECRET_KEY: SECRET }, "RMQ_SECRET_KEY is set but RMQ_ACCESS_KEY is not"],
      [{ RMQ_SECURITY_TOKEN: TOKEN }, "RMQ_SECURITY_TOKEN is set without RMQ_ACCESS_KEY and RMQ_SECRET_KEY"],
    ];
    for (const [vars, message] of cases) {
      for (const parse of [
        () => parseProduceArgs(["--namesrv", "ns:1", "--topic", "T"], vars),
        () => parseConsumeArgs(["--namesrv", "ns:1", "--topic", "T"], vars),
        () => parseTopicArgs(["list", "--namesrv", "ns:1"], vars),
      ]) {
        assert.throws(parse, (err: unknown) => {
          assert.ok(err instanceof UsageError);
          assert.ok(err.message.startsWith(message), err.message);
          assert.ok(!err.message.includes(SECRET) && !err.message.includes(TOKEN));
          return true;
        });
      }
    }
  });

  it("has no flag for a secret: one given on the command line is refused", () => {
    for (const flag of ["--secret-key", "--access-key", "--security-token"]) {
      throwsFor(() => parseProduceArgs(["--namesrv", "ns:1", "--topic", "T", flag, SECRET], {}), flag);
    }
  });
});

describe("parseTopicArgs", () => {
  const ns = ["--namesrv", "ns:9876"];
  it("reads each action's flags, with defaults", () => {
    const c = parseTopicArgs(["create", ...ns, "--topic", "T"], {});
    assert.ok(c !== "help" && c.action === "create");
    assert.equal(c.queueNums, 8);
    assert.equal(c.cluster, undefined);
    assert.equal(c.broker, undefined);
    const c2 = parseTopicArgs(["create", ...ns, "--topic", "T", "--queues", "3", "--broker", "broker-a"], {});
    assert.ok(c2 !== "help" && c2.action === "create");
    assert.equal(c2.queueNums, 3);
    assert.equal(c2.broker, "broker-a");
    const l = parseTopicArgs(["list", ...ns, "--system", "--cluster", "C"], {});
    assert.ok(l !== "help" && l.action === "list");
    assert.equal(l.system, true);
    assert.equal(l.cluster, "C");
    assert.equal(parseTopicArgs(["--help"]), "help");
    assert.equal(parseTopicArgs(["describe", "-h"]), "help");
  });
  it("names the action or flag at fault", () => {
    throwsFor(() => parseTopicArgs([], {}), "an action is required");
    throwsFor(() => parseTopicArgs(["delete", ...ns], {}), "unknown action");
    throwsFor(() => parseTopicArgs(["create", ...ns], {}), "--topic");
    throwsFor(() => parseTopicArgs(["create", "--topic", "T"], {}), "--namesrv");
    throwsFor(() => parseTopicArgs(["create", ...ns, "--topic", "a/b"], {}), "--topic");
    throwsFor(() => parseTopicArgs(["create", ...ns, "--topic", "T", "--queues", "0"], {}), "--queues");
    throwsFor(
      () => parseTopicArgs(["create", ...ns, "--topic", "T", "--cluster", "C", "--broker", "b"], {}),
      "--broker",
    );
    throwsFor(() => parseTopicArgs(["list", ...ns, "--topic", "T"], {}), "--topic");
    throwsFor(() => parseTopicArgs(["describe", ...ns, "--topic", "T", "--queues", "2"], {}), "--queues");
    throwsFor(() => parseTopicArgs(["describe", ...ns, "--topic", "T", "--bogus"], {}), "--bogus");
  });
});

describe("bodies and JSON lines", () => {
  it("prints valid UTF-8 as text and anything else as base64, both decoding back exactly", () => {
    const cases = [
      Buffer.from("hello"),
      Buffer.from("héllo ☃ 名前 🎉"),
      Buffer.from([0, 1, 2, 0x0a, 0x7f]), // valid UTF-8 control bytes: JSON escapes them
      Buffer.from([0xff, 0xfe, 0x00]),
      Buffer.from([0xe2, 0x98]), // truncated multi-byte sequence
      Buffer.from([0xef, 0xbb, 0xbf, 0x41]), // a BOM is kept, not swallowed
      generatedBody(7, 300),
    ];
    const encodings = cases.map((body) => {
      const e = encodeBody(body);
      const viaJson = JSON.parse(jsonLine(e)) as { body: string; bodyEncoding: "utf8" | "base64" };
      assert.deepEqual(decodeBody(viaJson.body, viaJson.bodyEncoding), body);
      return e.bodyEncoding;
    });
    assert.deepEqual(encodings, ["utf8", "utf8", "utf8", "base64", "base64", "utf8", "base64"]);
  });
  it("writes bigints as decimal strings, one line", () => {
    assert.equal(jsonLine({ o: 2n ** 63n - 1n, n: 1 }), '{"o":"9223372036854775807","n":1}\n');
  });
  it("generates deterministic, distinct, sized bodies", () => {
    assert.deepEqual(generatedBody(3, 64), generatedBody(3, 64));
    assert.notDeepEqual(generatedBody(3, 64), generatedBody(4, 64));
    assert.equal(generatedBody(12345, 2).length, 2);
    assert.equal(generatedBody(0, 1000).subarray(0, 3).toString("latin1"), "#0 ");
  });
  it("splits stdin on LF in any chunking, drops one CR, keeps bytes and a last unterminated line", async () => {
    const input = Buffer.concat([
      Buffer.from("a\r\n\nb\xff\n", "latin1"),
      Buffer.from("héllo\r\r\nlast", "utf8"),
    ]);
    const expected = [
      Buffer.from("a"),
      Buffer.alloc(0),
      Buffer.from([0x62, 0xff]),
      Buffer.from("héllo\r", "utf8"),
      Buffer.from("last"),
    ];
    for (const size of [1, 2, 3, 7, input.length]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < input.length; i += size) chunks.push(input.subarray(i, i + size));
      const lines: Buffer[] = [];
      for await (const line of splitLines(Readable.from(chunks))) lines.push(Buffer.from(line));
      assert.deepEqual(lines, expected, `chunk size ${size}`);
    }
  });
  it("prints errors as one line with the code", () => {
    assert.equal(
      errorLine(new UsageError("--x: bad\nsecond")),
      "rmq-connector: RMQ_USAGE: --x: bad | second\n",
    );
    assert.equal(errorLine(new Error("plain")), "rmq-connector: plain\n");
  });
});

describe("messageRecord", () => {
  const base: MessageExt = {
    topic: "T",
    queueId: 2,
    queueOffset: 9_007_199_254_740_993n,
    commitLogOffset: 100n,
    sysFlag: 0,
    flag: 0,
    bornTimestamp: 1,
    bornHost: "127.0.0.1:1",
    storeTimestamp: 2,
    storeHost: "127.0.0.1:2",
    reconsumeTimes: 0,
    preparedTransactionOffset: 0n,
    bodyCrc: 0,
    storeSize: 0,
    magicCode: 0,
    storedBody: Buffer.from("hi"),
    body: Buffer.from("hi"),
    compression: undefined,
    properties: {
      TAGS: "A",
      KEYS: "k1 k2",
      UNIQ_KEY: "U1",
      MIN_OFFSET: "0",
      MAX_OFFSET: "3",
      CLUSTER: "c",
      mine: "v",
    },
    propertiesText:
      "TAGS\u0001A\u0002KEYS\u0001k1 k2\u0002UNIQ_KEY\u0001U1\u0002MIN_OFFSET\u00010\u0002MAX_OFFSET\u00013\u0002CLUSTER\u0001c\u0002mine\u0001v\u0002",
    offsetMsgId: "OFF",
    tags: "A",
    keys: ["k1", "k2"],
    uniqKey: "U1",
  };
  it("keeps user properties, exact offsets and the UNIQ_KEY as msgId", () => {
    assert.deepEqual(messageRecord(base, "b"), {
      topic: "T",
      brokerName: "b",
      queueId: 2,
      queueOffset: "9007199254740993",
      msgId: "U1",
      offsetMsgId: "OFF",
      tags: "A",
      keys: ["k1", "k2"],
      properties: { mine: "v" },
      bornTimestamp: 1,
      storeTimestamp: 2,
      bornHost: "127.0.0.1:1",
      storeHost: "127.0.0.1:2",
      body: "hi",
      bodyEncoding: "utf8",
    });
  });
  it("falls back to offsetMsgId, null tags, and base64 of a body it cannot decompress", () => {
    const r = messageRecord(
      { ...base, uniqKey: undefined, tags: undefined, body: undefined, compression: "LZ4" },
      "b",
    );
    assert.equal(r.msgId, "OFF");
    assert.equal(r.tags, null);
    assert.equal(r.body, Buffer.from("hi").toString("base64"));
    assert.equal(r.bodyEncoding, "base64");
    assert.equal(r.compression, "LZ4");
  });
});

describe("consume: which failures are retried", () => {
  // Broker errors as the client makes them from a response (retriable comes from the code table).
  const brokerError = (code: number, remark: string): unknown => {
    try {
      expectCodes({ code, remark } as RemotingCommand, "PULL_MESSAGE", {});
    } catch (err) {
      return err;
    }
    assert.fail(`code ${code} was accepted`);
  };
  const systemError = brokerError(1, "AclException: signature mismatch");
  it("retries lost connections, timeouts and a busy broker however often they come", () => {
    for (const attempt of [0, 5, 1000]) {
      assert.equal(isTransient(new ConnectionError("connection closed"), attempt), true);
      assert.equal(isTransient(new RequestTimeoutError("timed out"), attempt), true);
      assert.equal(isTransient(brokerError(2, "[TIMEOUT_CLEAN_QUEUE]broker busy"), attempt), true);
    }
  });
  it("gives up on a broker SYSTEM_ERROR after 5 in a row (it also means a refused signature)", () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6].map((attempt) => isTransient(systemError, attempt)),
      [true, true, true, true, true, false, false],
    );
  });
  it("exits at once on what cannot pass by itself", () => {
    assert.equal(isTransient(brokerError(16, "the consumer group has no permission"), 0), false);
    assert.equal(isTransient(new RmqError("RMQ_ABORTED", "aborted"), 0), false);
    assert.equal(isTransient(new Error("not ours"), 0), false);
  });
});
