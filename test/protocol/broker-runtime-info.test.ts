import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeBrokerRuntimeInfo } from "../../src/protocol/broker-runtime-info.js";
import { ProtocolError } from "../../src/protocol/errors.js";

/** An excerpt of a real 4.9.7 answer (values as the broker sends them: all strings). */
const BODY_497 =
  '{"table":{"commitLogMaxOffset":"1073741824123","commitLogMinOffset":"0","dispatchBehindBytes":"412",' +
  '"pageCacheLockTimeMills":"0","sendThreadPoolQueueHeadWaitTimeMills":"3","brokerVersion":"435",' +
  '"brokerVersionDesc":"V4_9_7","remainHowManyDataToFlush":"1.2 KiB","commitLogDirCapacity":"Total : 10 GiB, Free : 2 GiB."}}';

test("decodes the keys the fence reads, as bigint and numbers, and keeps every key raw", () => {
  const info = decodeBrokerRuntimeInfo(Buffer.from(BODY_497));
  assert.equal(info.commitLogMaxOffset, 1073741824123n);
  assert.equal(info.dispatchBehindBytes, 412n);
  assert.equal(info.pageCacheLockTimeMills, 0);
  assert.equal(info.sendThreadPoolQueueHeadWaitTimeMills, 3);
  assert.equal(info.raw["brokerVersionDesc"], "V4_9_7");
  assert.equal(info.raw["commitLogDirCapacity"], "Total : 10 GiB, Free : 2 GiB.");
});

test("an offset beyond 2^53 is kept exact", () => {
  const info = decodeBrokerRuntimeInfo(Buffer.from('{"table":{"commitLogMaxOffset":"9007199254740993"}}'));
  assert.equal(info.commitLogMaxOffset, 9007199254740993n);
});

test("optional keys the broker omits are undefined", () => {
  const info = decodeBrokerRuntimeInfo(Buffer.from('{"table":{"commitLogMaxOffset":"5"}}'));
  assert.equal(info.dispatchBehindBytes, undefined);
  assert.equal(info.pageCacheLockTimeMills, undefined);
  assert.equal(info.sendThreadPoolQueueHeadWaitTimeMills, undefined);
});

test("bad bodies are ProtocolErrors naming what is wrong", () => {
  const cases: [string | undefined, RegExp][] = [
    [undefined, /empty body/],
    ["[]", /no "table"/],
    ['{"table":[]}', /no "table"/],
    ['{"table":{}}', /no commitLogMaxOffset/],
    ['{"table":{"commitLogMaxOffset":"12x"}}', /commitLogMaxOffset is "12x", not an integer/],
    ['{"table":{"commitLogMaxOffset":"1","dispatchBehindBytes":"1.5"}}', /dispatchBehindBytes/],
    ["{not json", /./],
  ];
  for (const [body, message] of cases) {
    assert.throws(
      () => decodeBrokerRuntimeInfo(body === undefined ? undefined : Buffer.from(body)),
      (err: unknown) => err instanceof ProtocolError && message.test(err.message),
      String(body),
    );
  }
});
