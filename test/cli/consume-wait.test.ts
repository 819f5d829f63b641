/**
 * `consume` waits as its help says: through a broker that goes away and comes back (its wait on a
 * topic idle longer than every broker-side period is tested in test/e2e/idle.test.ts, beside the
 * connectors' own quiet), retrying with a line on stderr; --timeout still ends the wait, as a failure when the
 * queues could not be read.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import { consumedBodies, runCli, startCli } from "../helpers/cli.js";
import { useSandbox, uniqueName, type TestCluster } from "../helpers/sandbox.js";

describe("consume --count of a topic that does not exist", () => {
  const sandbox = useSandbox(1);
  let namesrv: string;

  before(async () => {
    const [c] = await sandbox.clusters();
    assert.ok(c);
    namesrv = c.namesrv;
  });

  it("exits non-zero at once with a clear line for a topic that does not exist", async () => {
    const missing = uniqueName("cli-wait-missing");
    const r = await runCli(["consume", "--namesrv", namesrv, "--topic", missing, "--count", "1"], "", 30_000);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^rmq-connector: RMQ_BROKER_TOPIC_NOT_EXIST: .*${missing}.*\n$`));
    assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
  });
});

describe("consume through a broker outage", () => {
  const sandbox = useSandbox(1, { dedicated: true });
  let cluster: TestCluster;

  before(async () => {
    const [c] = await sandbox.clusters();
    assert.ok(c);
    cluster = c;
  });

  it("retries with backoff while the broker is down and reads on once it is back", async () => {
    let client = new RocketMQClient({ namesrv: cluster.namesrv, requestTimeoutMs: 5000 });
    const topic = uniqueName("cli-outage");
    await client.admin.createTopic({ topic, queueNums: 1 });
    await client.producer().send({ topic, body: Buffer.from("before") });
    const args = ["consume", "--namesrv", cluster.namesrv, "--topic", topic];
    const waiting = startCli([...args, "--count", "2"]);
    // The same outage with --timeout: the retries end with it, as a failure (not as "idle").
    // 30 s: longer than a clean broker stop takes on a loaded machine, so the idle timer cannot
    // end it before the outage began (it would exit 0, "nothing new").
    const bounded = startCli([...args, "--timeout", "30s"]);
    const retrying = /queue \S+#0: RMQ_\w+: .*; retrying in \d+ ms/;
    try {
      for (const c of [waiting, bounded]) await c.waitFor((out) => out.includes('"before"'), 30_000);
      client.close();
      // A clean stop, so the broker keeps the topic it was just given (a kill may lose it).
      await cluster.stopBroker();
      for (const c of [waiting, bounded]) await c.waitFor((_, err) => retrying.test(err), 60_000);

      const b = await bounded.exited;
      assert.equal(b.code, 1, b.stderr);
      assert.deepEqual(consumedBodies(b.stdout), ["before"]);
      assert.match(b.stderr, /stopped: nothing new for 30000 ms\n/);
      assert.match(
        b.stderr,
        /^rmq-connector: RMQ_\w+: .*still failing when --timeout ended the retries\)\n$/m,
      );

      await cluster.startBroker();
      client = new RocketMQClient({ namesrv: cluster.namesrv, requestTimeoutMs: 5000 });
      // The broker registers its topics with the NameServer just after it is ready.
      for (let deadline = Date.now() + 30_000; ;) {
        try {
          await client.admin.getTopicRoute(topic, { refresh: true });
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await delay(200);
        }
      }
      await client.producer().send({ topic, body: Buffer.from("after") });
      const run = await waiting.exited;
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(consumedBodies(run.stdout), ["before", "after"]);
      assert.match(run.stderr, retrying);
    } finally {
      waiting.kill();
      bounded.kill();
      client.close();
    }
  });
});
