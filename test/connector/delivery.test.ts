// Which send failures leave the target's contents unknown: the one decision exactly-once
// recovery rests on (docs/exactly-once-broker-facts.md §1.3 for the broker answers).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { accessDeniedReason } from "../../src/client/access-denied.js";
import { classifySendFailure, atLeastOnce } from "../../src/connector/delivery.js";
import { BrokerError, ProtocolError, RmqError } from "../../src/protocol/errors.js";
import { AbortedError, ConnectionError, RequestTimeoutError } from "../../src/transport/errors.js";

function broker(code: number, name: string, remark?: string): BrokerError {
  return new BrokerError(code, name, `${name}: ${remark ?? ""}`, remark);
}

describe("classifySendFailure", () => {
  it("counts a request that was written and then lost, timed out or abandoned as unknown", () => {
    assert.equal(classifySendFailure(new RequestTimeoutError("SEND_BATCH_MESSAGE timed out")), "unknown");
    assert.equal(classifySendFailure(new ConnectionError("connection closed")), "unknown");
    assert.equal(classifySendFailure(new AbortedError("aborted")), "unknown");
    assert.equal(classifySendFailure(new ProtocolError("response header is not JSON")), "unknown");
    assert.equal(classifySendFailure(new Error("anything else")), "unknown");
  });

  it("takes the broker's refusals before the write as not stored", () => {
    for (const remark of [
      "[REJECTREQUEST]system busy, start flow control for a while",
      "[OVERLOAD]system busy, start flow control for a while",
      "[TIMEOUT_CLEAN_QUEUE]broker busy, start flow control for a while, period in queue: 205ms",
      "[PCBUSY_CLEAN_QUEUE]broker busy, start flow control for a while",
    ])
      assert.equal(classifySendFailure(broker(2, "SYSTEM_BUSY", remark)), "not-stored", remark);
    assert.equal(classifySendFailure(broker(14, "SERVICE_NOT_AVAILABLE")), "not-stored");
    assert.equal(classifySendFailure(broker(16, "NO_PERMISSION")), "not-stored");
    assert.equal(classifySendFailure(broker(17, "TOPIC_NOT_EXIST")), "not-stored");
    assert.equal(classifySendFailure(broker(29, "INVALID_PARAMETER")), "not-stored");
    assert.equal(
      classifySendFailure(broker(1, "SYSTEM_ERROR", "[PC_SYNCHRONIZED]broker busy")),
      "not-stored",
    );
    assert.equal(
      classifySendFailure(broker(1, "SYSTEM_ERROR", "create mapped file failed, server is busy")),
      "not-stored",
    );
    assert.equal(
      classifySendFailure(broker(1, "SYSTEM_ERROR", "request queueId[9] is illegal, ...")),
      "not-stored",
    );
  });

  it("keeps an ambiguous SYSTEM_ERROR and unknown answers unknown", () => {
    assert.equal(classifySendFailure(broker(1, "SYSTEM_ERROR", "UNKNOWN_ERROR")), "unknown");
    assert.equal(classifySendFailure(broker(1, "SYSTEM_ERROR")), "unknown");
    assert.equal(classifySendFailure(broker(215, "CODE_215")), "unknown");
  });

  it("calls a message no broker will take poison", () => {
    assert.equal(
      classifySendFailure(broker(13, "MESSAGE_ILLEGAL", "the message body size over max value")),
      "poison",
    );
    assert.equal(classifySendFailure(new RmqError("RMQ_INVALID_PROPERTY", "bad property")), "poison");
    assert.equal(classifySendFailure(new RmqError("RMQ_INVALID_ARGUMENT", "empty body")), "poison");
  });

  it("takes a client error raised before the write (no route, no queue) as not stored", () => {
    assert.equal(
      classifySendFailure(new RmqError("RMQ_NO_QUEUE", "topic t has no writable queue")),
      "not-stored",
    );
  });
});

describe("atLeastOnce", () => {
  it("settles every unknown outcome as 'nothing landed': the batch is sent again", async () => {
    const settled = await atLeastOnce.settle(
      {
        queue: { topic: "t", brokerName: "b", queueId: 0 },
        sourceOffsets: [1n, 2n],
        watermark: 0n,
        writtenAtMs: Date.now(),
        error: new RequestTimeoutError("timed out"),
      },
      new AbortController().signal,
    );
    assert.deepEqual(settled, { landed: 0, nextTargetOffset: undefined });
  });
});

describe("access-control refusals", () => {
  // Remarks as RocketMQ 4.9.7 (ACL 1.0, SYSTEM_ERROR from the RPC hook) and 5.5.0 (ACL 2.0,
  // NO_PERMISSION) answered them in live runs (docs/security-broker-facts.md).
  const v4 = (reason: string): BrokerError =>
    broker(
      1,
      "SYSTEM_ERROR",
      `org.apache.rocketmq.acl.common.AclException: ${reason}, org.apache.rocketmq.acl.plain.PlainPermissionManager.checkPerm(PlainPermissionManager.java:580)`,
    );

  it("are recognised on both ACL generations, with the broker's reason cleaned of Java noise", () => {
    assert.equal(
      accessDeniedReason(v4("No default permission for topic:topicA")),
      "No default permission for topic:topicA",
    );
    assert.equal(
      accessDeniedReason(v4("Check signature failed for accessKey=normalUser")),
      "Check signature failed for accessKey=normalUser",
    );
    const v5 = "User:alice has no permission to access Topic:topicC from 127.0.0.1, no matched policies.";
    assert.equal(accessDeniedReason(broker(16, "NO_PERMISSION", v5)), v5);
    assert.equal(
      accessDeniedReason(broker(16, "NO_PERMISSION", "check signature failed.")),
      "check signature failed.",
    );
    assert.equal(accessDeniedReason(broker(16, "NO_PERMISSION")), "no permission");
    // Anything else is not a refusal of access control, an AclException named inside another
    // error's text included: only a refusal may count as "nothing stored".
    assert.equal(
      accessDeniedReason(
        broker(
          1,
          "SYSTEM_ERROR",
          "java.lang.NullPointerException: at org.apache.rocketmq.acl.common.AclException: x",
        ),
      ),
      undefined,
    );
    assert.equal(accessDeniedReason(broker(1, "SYSTEM_ERROR", "create mapped file failed")), undefined);
    assert.equal(accessDeniedReason(broker(17, "TOPIC_NOT_EXIST", "topic not exist")), undefined);
    assert.equal(accessDeniedReason(new ConnectionError("closed")), undefined);
  });

  it("store nothing: a refused send is sent again as it is, never settled as unknown", () => {
    assert.equal(classifySendFailure(v4("No default permission for topic:topicB")), "not-stored");
    assert.equal(classifySendFailure(broker(16, "NO_PERMISSION", "User:bob is not found.")), "not-stored");
  });
});
