// Which send failures leave the target's contents unknown: the one decision exactly-once
// recovery rests on (docs/exactly-once-broker-facts.md §1.3 for the broker answers).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
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
