/**
 * `rmq-connector produce` and `consume` as a user runs them: real processes (node
 * dist/src/cli/main.js) against a real NameServer and Broker, checking what the other side of
 * the cluster sees and what the exit codes and stderr say.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import { generatedBody } from "../../src/cli/commands/produce.js";
import { runCli as cli, type CliRun as Run } from "../helpers/cli.js";
import { useSandbox, uniqueName } from "../helpers/sandbox.js";

/** The JSON lines of a run's stdout. */
function lines<T>(run: Run): T[] {
  return run.stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as T);
}

interface Sent {
  topic: string;
  brokerName: string;
  queueId: number;
  queueOffset: string;
  msgId: string;
  offsetMsgId: string;
}

interface Consumed extends Sent {
  tags: string | null;
  keys: string[];
  properties: Record<string, string>;
  bornTimestamp: number;
  storeTimestamp: number;
  body: string;
  bodyEncoding: "utf8" | "base64";
}

describe("rmq-connector produce / consume against a real broker", () => {
  const sandbox = useSandbox(1);
  let client: RocketMQClient;
  let namesrv: string;

  before(async () => {
    const [cluster] = await sandbox.clusters();
    assert.ok(cluster);
    namesrv = cluster.namesrv;
    client = new RocketMQClient({ namesrv, requestTimeoutMs: 5000 });
  });
  after(() => client?.close());

  async function newTopic(prefix: string): Promise<string> {
    const topic = uniqueName(prefix);
    await client.admin.createTopic({ topic, queueNums: 4 });
    return topic;
  }

  const produce = (topic: string, args: string[], input = ""): Promise<Run> =>
    cli(["produce", "--namesrv", namesrv, "--topic", topic, ...args], input);
  const consume = (topic: string, args: string[]): Promise<Run> =>
    cli(["consume", "--namesrv", namesrv, "--topic", topic, ...args]);

  it("consumes exactly what was produced from stdin: bodies, tags, keys, properties, ids", async () => {
    const topic = await newTopic("cli-stdin");
    const bodies = [
      "plain text",
      "héllo ☃ 名前 🎉",
      'quotes " and \\ backslash',
      "last line without newline",
    ];
    const p = await produce(
      topic,
      ["--tag", "TagA", "--key", "k1", "--key", "k2", "--property", "région=Zürich", "--property", "n=1"],
      `${bodies.slice(0, -1).join("\n")}\r\n\n${bodies.at(-1)}`,
    );
    assert.equal(p.code, 0, p.stderr);
    const sent = lines<Sent>(p);
    assert.equal(sent.length, bodies.length);
    assert.match(p.stderr, /sent 4 messages.*skipped 1 empty lines/);
    for (const s of sent) {
      assert.equal(s.topic, topic);
      assert.match(s.msgId, /^[0-9A-F]{32}$/);
      assert.match(s.offsetMsgId, /^[0-9A-F]{32}$/);
      assert.match(s.queueOffset, /^\d+$/);
    }

    const c = await consume(topic, [
      "--from",
      "earliest",
      "--count",
      String(bodies.length),
      "--timeout",
      "20s",
    ]);
    assert.equal(c.code, 0, c.stderr);
    const got = lines<Consumed>(c);
    assert.equal(got.length, bodies.length);
    const byId = new Map(got.map((m) => [m.msgId, m]));
    sent.forEach((s, i) => {
      const m = byId.get(s.msgId);
      assert.ok(m, `message ${s.msgId} consumed`);
      assert.equal(m.body, bodies[i]);
      assert.equal(m.bodyEncoding, "utf8");
      assert.equal(m.tags, "TagA");
      assert.deepEqual(m.keys, ["k1", "k2"]);
      assert.deepEqual(m.properties, { région: "Zürich", n: "1" });
      assert.equal(m.offsetMsgId, s.offsetMsgId);
      assert.deepEqual([m.brokerName, m.queueId, m.queueOffset], [s.brokerName, s.queueId, s.queueOffset]);
      assert.ok(m.storeTimestamp >= m.bornTimestamp - 1000);
    });
  });

  it("prints generated binary bodies as base64 that decode to the bytes sent, in batches", async () => {
    const topic = await newTopic("cli-binary");
    const p = await produce(topic, ["--count", "5", "--size", "300", "--batch", "2", "--queue", "1"]);
    assert.equal(p.code, 0, p.stderr);
    const batches = lines<{ count: number; msgIds: string[]; queueId: number; queueOffset: string }>(p);
    assert.deepEqual(
      batches.map((b) => [b.count, b.queueId, b.queueOffset]),
      [
        [2, 1, "0"],
        [2, 1, "2"],
        [1, 1, "4"],
      ],
    );
    const msgIds = batches.flatMap((b) => b.msgIds);
    const c = await consume(topic, ["--queue", "1", "--count", "5", "--timeout", "20s"]);
    assert.equal(c.code, 0, c.stderr);
    const got = lines<Consumed>(c);
    assert.deepEqual(
      got.map((m) => m.msgId),
      msgIds,
      "one queue comes back in queue order",
    );
    got.forEach((m, i) => {
      assert.equal(m.bodyEncoding, "base64");
      assert.deepEqual(Buffer.from(m.body, "base64"), generatedBody(i, 300));
      assert.equal(m.queueOffset, String(i));
    });
  });

  it("filters by tag expression", async () => {
    const topic = await newTopic("cli-tags");
    for (const [tag, text] of [
      ["TagA", "a1\na2\n"],
      ["TagB", "b1\nb2\nb3\n"],
      ["TagC", "c1\n"],
    ] as const) {
      const p = await produce(topic, ["--tag", tag], text);
      assert.equal(p.code, 0, p.stderr);
    }
    const untagged = await produce(topic, [], "none\n");
    assert.equal(untagged.code, 0, untagged.stderr);
    const c = await consume(topic, ["--tags", "TagB || TagC", "--timeout", "2s"]);
    assert.equal(c.code, 0, c.stderr);
    const got = lines<Consumed>(c);
    assert.deepEqual(got.map((m) => m.body).sort(), ["b1", "b2", "b3", "c1"]);
    assert.ok(got.every((m) => m.tags === "TagB" || m.tags === "TagC"));
    const all = await consume(topic, ["--timeout", "2s"]);
    assert.equal(lines<Consumed>(all).length, 7);
  });

  it("starts at a timestamp (epoch ms and ISO-8601) in every queue", async () => {
    const topic = await newTopic("cli-from-time");
    const first = await produce(topic, [], "old1\nold2\nold3\nold4\nold5\n");
    assert.equal(first.code, 0, first.stderr);
    // The boundary must fall between two store milliseconds; wait for the clock, not a guess.
    const boundaryAt = Date.now() + 20;
    while (Date.now() < boundaryAt + 5) await new Promise((r) => setTimeout(r, 5));
    const second = await produce(topic, [], "new1\nnew2\nnew3\nnew4\nnew5\nnew6\n");
    assert.equal(second.code, 0, second.stderr);

    const everything = lines<Consumed>(await consume(topic, ["--count", "11", "--timeout", "20s"]));
    assert.equal(everything.length, 11);
    const newest = everything.filter((m) => m.body.startsWith("new"));
    const oldest = everything.filter((m) => m.body.startsWith("old"));
    const t = Math.min(...newest.map((m) => m.storeTimestamp));
    assert.ok(Math.max(...oldest.map((m) => m.storeTimestamp)) < t, "the two rounds are apart in store time");

    for (const from of [String(t), new Date(t).toISOString()]) {
      const c = await consume(topic, ["--from", from, "--timeout", "2s"]);
      assert.equal(c.code, 0, c.stderr);
      assert.deepEqual(
        lines<Consumed>(c)
          .map((m) => m.body)
          .sort(),
        ["new1", "new2", "new3", "new4", "new5", "new6"],
        `--from ${from}`,
      );
    }
    const future = await consume(topic, ["--from", String(Date.now() + 3_600_000), "--timeout", "1s"]);
    assert.equal(future.code, 0, future.stderr);
    assert.equal(lines<Consumed>(future).length, 0);
    const offset = await consume(topic, ["--from", "1", "--timeout", "2s"]);
    // 11 messages round-robin over 4 queues: offsets 0..2 in three queues, 0..1 in one.
    assert.equal(lines<Consumed>(offset).length, 7);
  });

  it("stops when idle for --timeout, and says so with exit 3 when --count was not reached", async () => {
    const topic = await newTopic("cli-idle");
    const idle = await consume(topic, ["--from", "latest", "--timeout", "1s"]);
    assert.equal(idle.code, 0, idle.stderr);
    assert.equal(idle.stdout, "");
    assert.ok(idle.ms < 8000, `took ${idle.ms} ms`);
    assert.match(idle.stderr, /0 messages from 4 queues.*nothing new for 1000 ms/);

    const p = await produce(topic, [], "only\n");
    assert.equal(p.code, 0, p.stderr);
    const short = await consume(topic, ["--count", "5", "--timeout", "1500ms"]);
    assert.equal(short.code, 3, short.stderr);
    assert.equal(lines<Consumed>(short).length, 1);
    assert.ok(short.ms < 10_000, `took ${short.ms} ms`);
  });

  it("fails fast with one clear line when the NameServer is down", async () => {
    for (const command of ["produce", "consume"]) {
      const r = await cli([command, "--namesrv", "127.0.0.1:1", "--topic", "T"], "x\n", 20_000);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, "");
      const errLines = r.stderr.trimEnd().split("\n");
      assert.equal(errLines.length, 1, r.stderr);
      assert.match(errLines[0] ?? "", /^rmq-connector: RMQ_CONNECTION: .*127\.0\.0\.1:1/);
      assert.ok(r.ms < 5000, `took ${r.ms} ms`);
    }
  });

  it("refuses bad arguments with exit 2, naming the flag", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["produce", "--namesrv", namesrv, "--topic", "T", "--bogus"], /--bogus/],
      [["produce", "--namesrv", namesrv, "--topic", "T", "--count", "many"], /--count/],
      [["consume", "--namesrv", namesrv, "--topic", "T", "--from", "yesterday"], /--from/],
      [["consume", "--namesrv", namesrv, "--topic", "T", "--timeout", "5"], /--timeout/],
      [["consume", "--topic", "T"], /--namesrv/],
    ];
    for (const [args, flag] of cases) {
      const r = await cli(args, "", 20_000);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, flag);
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
    }
    const missing = await newTopic("cli-queue");
    const q = await consume(missing, ["--queue", "9"]);
    assert.equal(q.code, 2, q.stderr);
    assert.match(q.stderr, /--queue/);
  });
});
