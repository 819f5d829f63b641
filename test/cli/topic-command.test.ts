/**
 * `rmq-connector topic create|list|describe` as a new user runs it, against a real NameServer and
 * Broker: the topic it creates is there with the asked queue counts (and usable by produce and
 * consume), list and describe show what the cluster has, and mistakes get one clear line.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { runCli, type CliRun } from "../helpers/cli.js";
import { useSandbox, uniqueName, type TestCluster } from "../helpers/sandbox.js";

function jsonLines(run: CliRun): Array<Record<string, unknown>> {
  return run.stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Exactly one stderr line, matching `pattern`. */
function oneErrorLine(run: CliRun, pattern: RegExp): void {
  const lines = run.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0] ?? "", pattern);
}

describe("rmq-connector topic against a real broker", () => {
  const sandbox = useSandbox(1);
  let cluster: TestCluster;
  const topicCli = (args: string[]): Promise<CliRun> =>
    runCli(["topic", ...args, "--namesrv", cluster.namesrv], "", 30_000);

  before(async () => {
    const [c] = await sandbox.clusters();
    assert.ok(c);
    cluster = c;
  });

  it("creates a topic on every master, lists it and describes its queues per broker", async () => {
    const topic = uniqueName("cli-topic");
    const created = await topicCli(["create", "--topic", topic, "--queues", "3"]);
    assert.equal(created.code, 0, created.stderr);
    const expected = {
      topic,
      brokerName: cluster.brokerName,
      cluster: cluster.clusterName,
      addresses: { "0": cluster.brokerAddr },
      readQueueNums: 3,
      writeQueueNums: 3,
      perm: 6,
    };
    assert.deepEqual(jsonLines(created), [{ ...expected, created: true }]);
    assert.match(created.stderr, new RegExp(`${topic}: created on 1 of 1 brokers, 3 read and 3 write`));

    const listed = await topicCli(["list"]);
    assert.equal(listed.code, 0, listed.stderr);
    const names = listed.stdout.trimEnd().split("\n");
    assert.ok(names.includes(topic), listed.stdout);
    assert.deepEqual(names, [...names].sort());
    // RocketMQ's own topics only with --system.
    for (const system of ["TBW102", cluster.brokerName, cluster.clusterName])
      assert.ok(!names.includes(system), `${system} listed without --system`);
    assert.match(listed.stderr, /system topics not shown/);
    const all = await topicCli(["list", "--system", "--cluster", cluster.clusterName]);
    assert.equal(all.code, 0, all.stderr);
    const allNames = all.stdout.trimEnd().split("\n");
    assert.ok(allNames.includes(topic) && allNames.includes(cluster.brokerName), all.stdout);

    const described = await topicCli(["describe", "--topic", topic]);
    assert.equal(described.code, 0, described.stderr);
    assert.deepEqual(jsonLines(described), [{ ...expected, readable: true, writable: true }]);
    assert.match(described.stderr, /1 brokers, 3 read and 3 write queues in all/);

    // The topic is usable at once: what produce writes, consume reads, over the 3 queues.
    const sent = await runCli(
      ["produce", "--namesrv", cluster.namesrv, "--topic", topic, "--count", "6"],
      "",
      30_000,
    );
    assert.equal(sent.code, 0, sent.stderr);
    const read = await runCli(
      ["consume", "--namesrv", cluster.namesrv, "--topic", topic, "--count", "6", "--timeout", "10s"],
      "",
      30_000,
    );
    assert.equal(read.code, 0, read.stderr);
    assert.deepEqual(new Set(jsonLines(read).map((m) => m.queueId)), new Set([0, 1, 2]));
  });

  it("create is idempotent for the same queue count and refuses to change an existing topic", async () => {
    const topic = uniqueName("cli-topic-again");
    assert.equal((await topicCli(["create", "--topic", topic, "--queues", "2"])).code, 0);
    const again = await topicCli([
      "create",
      "--topic",
      topic,
      "--queues",
      "2",
      "--broker",
      cluster.brokerName,
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(jsonLines(again)[0]?.created, false);
    assert.match(again.stderr, /created on 0 of 1 brokers \(1 had it already\)/);

    const changed = await topicCli(["create", "--topic", topic, "--queues", "4"]);
    assert.equal(changed.code, 1, changed.stderr);
    assert.equal(changed.stdout, "");
    oneErrorLine(
      changed,
      new RegExp(
        `^rmq-connector: RMQ_TOPIC_EXISTS: topic ${topic} already exists on ${cluster.brokerName} with 2 read and 2 write queues`,
      ),
    );
    const described = await topicCli(["describe", "--topic", topic]);
    assert.equal(jsonLines(described)[0]?.writeQueueNums, 2, "the refused create changed nothing");
  });

  it("says clearly what is wrong: unknown topic, cluster or broker, bad flags", async () => {
    const missing = uniqueName("cli-no-such-topic");
    const unknown = await topicCli(["describe", "--topic", missing]);
    assert.equal(unknown.code, 1, unknown.stderr);
    assert.equal(unknown.stdout, "");
    oneErrorLine(
      unknown,
      new RegExp(`^rmq-connector: RMQ_BROKER_TOPIC_NOT_EXIST: topic ${missing} does not exist`),
    );

    const cases: Array<[string[], RegExp]> = [
      [
        ["create", "--topic", missing, "--cluster", "NoSuchCluster"],
        new RegExp(
          `^rmq-connector: RMQ_USAGE: --cluster: no cluster "NoSuchCluster" is registered \\(known: ${cluster.clusterName}\\)`,
        ),
      ],
      [
        ["create", "--topic", missing, "--broker", "broker-zz"],
        /^rmq-connector: RMQ_USAGE: --broker: .*broker-zz/,
      ],
      [["list", "--cluster", "NoSuchCluster"], /^rmq-connector: RMQ_USAGE: --cluster: /],
      [["create", "--topic", "bad topic"], /^rmq-connector: RMQ_USAGE: --topic: "bad topic" contains " "/],
      [["create", "--topic", missing, "--queues", "many"], /^rmq-connector: RMQ_USAGE: --queues: /],
      [["rename", "--topic", missing], /^rmq-connector: RMQ_USAGE: topic: unknown action "rename"/],
    ];
    for (const [args, pattern] of cases) {
      const r = await topicCli(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      oneErrorLine(r, pattern);
    }
    // None of the refused creates created anything.
    const after = await topicCli(["describe", "--topic", missing]);
    assert.equal(after.code, 1, after.stderr);

    const down = await runCli(["topic", "list", "--namesrv", "127.0.0.1:1"], "", 20_000);
    assert.equal(down.code, 1, down.stderr);
    oneErrorLine(down, /^rmq-connector: RMQ_CONNECTION: .*127\.0\.0\.1:1/);
  });
});
