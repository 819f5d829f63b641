/**
 * Long polls against an in-process peer that plays NameServer and broker and holds pulls the way
 * a broker does: a broker answers an idle long poll only when its hold service (every 5 s) finds
 * it older than the suspend time, so the answer comes up to a hold period after the suspend time,
 * a little more when the check runs late (19 989-20 077 ms measured for a 15 s suspend). The
 * client's timeout must outlast that: with the old 5 s margin these pulls timed out.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import { LONG_POLL_TIMEOUT_MARGIN_MS } from "../../src/client/pull-consumer.js";
import type { MessageQueue } from "../../src/client/types.js";
import { RequestCode, ResponseCode } from "../../src/protocol/codes.js";
import { RmqError } from "../../src/protocol/errors.js";
import { PullSysFlag } from "../../src/protocol/sysflag.js";
import type { RemotingCommand } from "../../src/protocol/remoting-command.js";
import { startPeer } from "../helpers/fake-peer.js";

/** The broker's hold-service period (PullRequestHoldService, long polling on), ms. */
const HOLD_PERIOD_MS = 5000;
/** How late the fake hold service answers past suspend + one period: a check that ran late. */
const LATE_MS = 200;

interface FakeBroker {
  address: string;
  /** Every PULL_MESSAGE received, with when it came. */
  pulls: { cmd: RemotingCommand; atMs: number }[];
  close(): void;
}

/**
 * A peer answering GET_ROUTEINFO_BY_TOPIC with a route to itself, and PULL_MESSAGE with
 * PULL_NOT_FOUND after holding a suspending pull for its suspend time plus a hold period plus
 * LATE_MS: the latest a healthy broker answers.
 */
async function startFakeBroker(): Promise<FakeBroker> {
  const timers = new Set<NodeJS.Timeout>();
  const pulls: FakeBroker["pulls"] = [];
  let address = "";
  const peer = await startPeer((cmd, reply) => {
    if (cmd.code === RequestCode.GET_ROUTEINFO_BY_TOPIC) {
      const route = {
        brokerDatas: [{ cluster: "fake", brokerName: "fake-broker", brokerAddrs: { "0": address } }],
        queueDatas: [
          { brokerName: "fake-broker", readQueueNums: 1, writeQueueNums: 1, perm: 6, topicSysFlag: 0 },
        ],
      };
      reply({ body: Buffer.from(JSON.stringify(route)) });
    } else if (cmd.code === RequestCode.PULL_MESSAGE) {
      pulls.push({ cmd, atMs: Date.now() });
      const sysFlag = Number(cmd.extFields["sysFlag"]);
      const suspend = Number(cmd.extFields["suspendTimeoutMillis"]);
      const holdMs = sysFlag & PullSysFlag.FLAG_SUSPEND ? suspend + HOLD_PERIOD_MS + LATE_MS : 0;
      const offset = cmd.extFields["queueOffset"] ?? "0";
      const timer = setTimeout(() => {
        timers.delete(timer);
        reply({
          code: ResponseCode.PULL_NOT_FOUND,
          extFields: {
            nextBeginOffset: offset,
            minOffset: "0",
            maxOffset: offset,
            suggestWhichBrokerId: "0",
          },
        });
      }, holdMs);
      timers.add(timer);
    } else {
      reply({ code: ResponseCode.REQUEST_CODE_NOT_SUPPORTED });
    }
  });
  address = peer.address;
  return {
    address,
    pulls,
    close() {
      for (const t of timers) clearTimeout(t);
      peer.close();
    },
  };
}

describe("long polling", () => {
  let broker: FakeBroker;
  let client: RocketMQClient;
  const queue: MessageQueue = { topic: "idle", brokerName: "fake-broker", queueId: 0 };
  before(async () => {
    broker = await startFakeBroker();
    client = new RocketMQClient({ namesrv: broker.address });
  });
  after(() => {
    client.close();
    broker.close();
  });

  it("outlasts a broker that holds an idle long poll a full hold period past the suspend time", async () => {
    // The margin must cover the hold period and a late check, or this is the old race again.
    assert.ok(LONG_POLL_TIMEOUT_MARGIN_MS > HOLD_PERIOD_MS + LATE_MS);
    const suspendTimeoutMs = 1000;
    const consumer = client.pullConsumer({ group: "g" });
    const started = Date.now();
    const result = await consumer.pull({ queue, offset: 7n, suspendTimeoutMs });
    const elapsed = Date.now() - started;
    assert.equal(result.status, "NO_NEW_MSG");
    assert.equal(result.nextBeginOffset, 7n);
    const pull = broker.pulls.at(-1);
    assert.ok(pull);
    assert.equal(pull.cmd.extFields["suspendTimeoutMillis"], "1000");
    assert.ok(Number(pull.cmd.extFields["sysFlag"]) & PullSysFlag.FLAG_SUSPEND, "sent as a long poll");
    const held = suspendTimeoutMs + HOLD_PERIOD_MS + LATE_MS;
    assert.ok(elapsed >= held - 50, `the answer came after the hold (${elapsed} ms of ${held})`);
  });

  it("refuses a long-poll timeout that would race the broker, naming both values, before sending", async () => {
    const consumer = client.pullConsumer({ group: "g" });
    const sentBefore = broker.pulls.length;
    for (const timeoutMs of [500, 1000, 6000, 10_999]) {
      await assert.rejects(consumer.pull({ queue, offset: 0n, suspendTimeoutMs: 1000, timeoutMs }), (err) => {
        assert.ok(err instanceof RmqError);
        assert.equal(err.code, "RMQ_INVALID_ARGUMENT");
        assert.match(err.message, new RegExp(`timeoutMs ${timeoutMs} .*suspendTimeoutMs 1000`));
        assert.match(err.message, /at least the suspend time plus 10000 ms \(11000\)/);
        return true;
      });
    }
    assert.equal(broker.pulls.length, sentBefore, "nothing was sent");
    // The least accepted timeout is answered as usual; a pull that does not suspend takes any.
    const atLeast = await consumer.pull({ queue, offset: 1n, suspendTimeoutMs: 1000, timeoutMs: 11_000 });
    assert.equal(atLeast.status, "NO_NEW_MSG");
    const immediate = await consumer.pull({ queue, offset: 2n, suspendTimeoutMs: 0, timeoutMs: 500 });
    assert.equal(immediate.status, "NO_NEW_MSG");
    assert.equal(broker.pulls.length, sentBefore + 2);
  });
});
