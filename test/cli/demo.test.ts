/**
 * The demo's traffic (src/cli/commands/demo.ts, produceTrickle) against a real broker: every
 * queue of every topic gets messages, and every queue of the tag-filtered topic gets some that
 * its route replicates. The whole demo runs in connector-commands.test.ts.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import type { MessageQueue } from "../../src/client/types.js";
import { produceTrickle } from "../../src/cli/commands/demo.js";
import { uniqueName, useSandbox } from "../helpers/sandbox.js";

describe("demo traffic", () => {
  const sandbox = useSandbox(1);
  let client: RocketMQClient;
  before(async () => {
    const [cluster] = await sandbox.clusters();
    assert.ok(cluster);
    client = new RocketMQClient({ namesrv: cluster.namesrv });
  });
  after(() => client?.close());

  it("reaches every queue of every topic it produces to", async () => {
    // Unique names standing in for orders, pay_cards and pay_refunds, with the demo's 4 queues.
    const topics = ["orders", "pay_cards", "pay_refunds"].map((t) => uniqueName(`demo_${t}`));
    const queues: MessageQueue[] = [];
    for (const topic of topics) {
      await client.admin.createTopic({ topic, queueNums: 4 });
      queues.push(...(await client.admin.getTopicRoute(topic, { refresh: true })).writeQueues());
    }
    assert.equal(queues.length, 12);
    const stop = new AbortController();
    const producing = produceTrickle(client, topics, 200, stop.signal);
    const deadline = Date.now() + 20_000;
    let empty: MessageQueue[] = queues;
    try {
      // Two rounds over the 12 queues take 120 ms at this rate; wait until each has 2 messages.
      while (empty.length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        const counts = await Promise.all(empty.map((q) => client.admin.getMaxOffset(q)));
        empty = empty.filter((_, i) => (counts[i] as bigint) < 2n);
      }
    } finally {
      stop.abort();
      await producing;
    }
    assert.deepEqual(
      empty.map((q) => `${q.topic}#${q.queueId}`),
      [],
      "queues the demo's traffic never reached within 20 s",
    );
    // The orders route replicates only TagA || TagB: each of its queues holds some.
    const consumer = client.pullConsumer({ group: "rmq_connector_test" });
    for (const queue of queues.filter((q) => q.topic === topics[0])) {
      const r = await consumer.pull({ queue, offset: 0n, tags: "TagA || TagB", suspendTimeoutMs: 0 });
      assert.ok(r.messages.length > 0, `${queue.topic}#${queue.queueId} holds no TagA or TagB message`);
    }
  });
});
