import { test } from "node:test";
import assert from "node:assert/strict";
import {
  decodeCheckpointRecord,
  encodeCheckpointRecord,
  sourceKey,
  type CheckpointRecord,
} from "../../src/connector/checkpoint-record.js";
import { checkpointTopic } from "../../src/connector/checkpoint-store.js";
import { topicNameProblem } from "../../src/config/names.js";
import { RmqError } from "../../src/protocol/errors.js";

const RECORD: CheckpointRecord = {
  v: 1,
  writer: "east-to-west",
  source: { cluster: "east", topic: "orders", broker: "b-a", queueId: 3 },
  nextSourceOffset: 9007199254740993n,
  fingerprint: { offset: 1041n, storeMs: 1764740000123, bodyCrc: 91823311 },
  targets: [{ topic: "orders", broker: "w-a", queueId: 3, watermark: 880n }],
  writtenAtMs: 1764740001000,
};

test("the body is the documented JSON, offsets as strings, and decodes to the same record", () => {
  const body = encodeCheckpointRecord(RECORD);
  assert.equal(
    body.toString(),
    '{"v":1,"writer":"east-to-west","source":{"cluster":"east","topic":"orders","broker":"b-a","queueId":3},' +
      '"nextSourceOffset":"9007199254740993","fingerprint":{"offset":"1041","storeMs":1764740000123,"bodyCrc":91823311},' +
      '"targets":[{"topic":"orders","broker":"w-a","queueId":3,"watermark":"880"}],"writtenAtMs":1764740001000}',
  );
  assert.deepEqual(decodeCheckpointRecord(body), RECORD);
  const empty = { ...RECORD, fingerprint: undefined, targets: [] };
  assert.deepEqual(decodeCheckpointRecord(encodeCheckpointRecord(empty)), empty);
});

test("a damaged record is an RMQ_EO_CHECKPOINT_RECORD naming the field", () => {
  const json = JSON.parse(encodeCheckpointRecord(RECORD).toString()) as Record<string, unknown>;
  const cases: [unknown, RegExp][] = [
    [{ ...json, v: 2 }, /version 2/],
    [{ ...json, writer: "" }, /field writer/],
    [{ ...json, nextSourceOffset: 5 }, /field nextSourceOffset is not an offset/],
    [{ ...json, nextSourceOffset: "-1" }, /nextSourceOffset/],
    [{ ...json, source: { ...(json["source"] as object), queueId: -1 } }, /source.queueId/],
    [{ ...json, fingerprint: { offset: "1", storeMs: "x", bodyCrc: 1 } }, /fingerprint.storeMs/],
    [{ ...json, targets: [{ topic: "t", broker: "b", queueId: 1 }] }, /targets\[0\].watermark/],
    [{ ...json, targets: {} }, /targets is not an array/],
    [[1], /record is not an object/],
  ];
  for (const [value, message] of cases) {
    assert.throws(
      () => decodeCheckpointRecord(Buffer.from(JSON.stringify(value))),
      (err: unknown) =>
        err instanceof RmqError && err.code === "RMQ_EO_CHECKPOINT_RECORD" && message.test(err.message),
      JSON.stringify(value),
    );
  }
  assert.throws(() => decodeCheckpointRecord(Buffer.from("{")), /not JSON/);
});

test("sourceKey is the RMQC_SOURCE prefix: URI-encoded parts", () => {
  assert.equal(sourceKey({ cluster: "e", topic: "a/b", broker: "x y", queueId: 7 }), "e/a%2Fb/x%20y/7");
});

test("checkpointTopic is a valid topic name, within 127 characters, distinct for long names", () => {
  assert.equal(checkpointTopic("east-to-west"), "RMQC_CHECKPOINT_east-to-west");
  assert.equal(checkpointTopic("a.b c"), "RMQC_CHECKPOINT_a_b_c");
  const long1 = "x".repeat(120);
  const long2 = `${"x".repeat(119)}y`;
  for (const name of [long1, long2, "a.b c", "ok"])
    assert.equal(topicNameProblem(checkpointTopic(name)), undefined, name);
  assert.equal(checkpointTopic(long1).length, 127);
  assert.notEqual(checkpointTopic(long1), checkpointTopic(long2));
});
