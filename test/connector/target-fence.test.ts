/**
 * The fail-safe decisions of the target scan and the dispatch rule, on scripted broker answers
 * for what a test cluster cannot be made to do on demand: a min offset raised by retention, a
 * consume-queue hole, a pull that skips offsets, a dispatch that never catches up. The same
 * functions run against real brokers in test/e2e/target-fence.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { PullOptions, PullResult } from "../../src/client/pull-consumer.js";
import type { BrokerRuntimeInfo } from "../../src/protocol/broker-runtime-info.js";
import { ResponseCode } from "../../src/protocol/codes.js";
import { BrokerError, RmqError } from "../../src/protocol/errors.js";
import type { MessageExt } from "../../src/protocol/message.js";
import {
  BrokerFences,
  findLatestOfSource,
  scanQueueForSource,
  waitBrokerSettled,
  waitForDispatch,
} from "../../src/connector/target-fence.js";

const queue = { topic: "T", brokerName: "b", queueId: 0 };

function message(queueOffset: bigint, source: bigint | undefined): MessageExt {
  return {
    queueOffset,
    properties: source === undefined ? {} : { S: String(source) },
  } as unknown as MessageExt;
}
const match = (m: MessageExt): bigint | undefined =>
  m.properties["S"] ? BigInt(m.properties["S"]) : undefined;

/** A queue of offsets [min, max) whose pulls return up to `cap` messages; `tamper` edits an answer. */
function fakeQueue(
  min: bigint,
  max: bigint,
  sourceAt: (o: bigint) => bigint | undefined,
  tamper: (r: PullResult, o: PullOptions) => PullResult = (r) => r,
  cap = 32,
) {
  const pulls: bigint[] = [];
  return {
    pulls,
    admin: {
      getMinOffset: () => Promise.resolve(min),
      getMaxOffset: () => Promise.resolve(max),
    },
    consumer: {
      pull(o: PullOptions): Promise<PullResult> {
        pulls.push(o.offset);
        assert.equal(o.suspendTimeoutMs, 0);
        assert.equal(o.decompress, false);
        assert.equal(o.commitOffset, undefined);
        const messages: MessageExt[] = [];
        const n = Math.min(o.maxMessages ?? 32, cap);
        for (let x = o.offset; x < max && messages.length < n; x++) messages.push(message(x, sourceAt(x)));
        const result: PullResult = {
          status: messages.length > 0 ? "FOUND" : "NO_NEW_MSG",
          nextBeginOffset: o.offset + BigInt(messages.length),
          minOffset: min,
          maxOffset: max,
          messages,
          filteredOut: 0,
        };
        return Promise.resolve(tamper(result, o));
      },
    },
  };
}

function isUnreadable(pattern: RegExp) {
  return (err: unknown) =>
    err instanceof RmqError && err.code === "RMQ_EO_CHECKPOINT_UNREADABLE" && pattern.test(err.message);
}

test("scan finds the highest source offset in short pulls and reads exactly [from, max)", async () => {
  // Three sources interleaved; ours (S set) every third offset, with offsets not in target order.
  const q = fakeQueue(
    10n,
    200n,
    (o) => (o % 3n === 0n ? 1000n - (o % 7n) * 10n + o : undefined),
    undefined,
    8,
  );
  const r = await scanQueueForSource(q.consumer, q.admin, queue, 20n, match);
  let best = -1n;
  let at = -1n;
  for (let o = 20n; o < 200n; o++) {
    const s = o % 3n === 0n ? 1000n - (o % 7n) * 10n + o : undefined;
    if (s !== undefined && s > best) [best, at] = [s, o];
  }
  assert.deepEqual(r, { highest: { sourceOffset: best, targetOffset: at }, endOffset: 200n, scanned: 180 });
  assert.equal(q.pulls[0], 20n);
});

test("scan of an empty range (from = max) reads nothing and finds nothing", async () => {
  const q = fakeQueue(0n, 50n, () => 1n);
  assert.deepEqual(await scanQueueForSource(q.consumer, q.admin, queue, 50n, match), {
    highest: undefined,
    endOffset: 50n,
    scanned: 0,
  });
  assert.equal(q.pulls.length, 0);
});

test("scan fails safe below the min offset, beyond the max offset, and past endOffset > max", async () => {
  const q = fakeQueue(100n, 200n, () => 1n);
  await assert.rejects(
    scanQueueForSource(q.consumer, q.admin, queue, 99n, match),
    isUnreadable(/offset 99 is below the queue's min offset 100/),
  );
  await assert.rejects(
    scanQueueForSource(q.consumer, q.admin, queue, 201n, match),
    isUnreadable(/offset 201 is beyond the queue's max offset 200/),
  );
  await assert.rejects(
    scanQueueForSource(q.consumer, q.admin, queue, 150n, match, { endOffset: 250n }),
    isUnreadable(/250 \(the scan's end\)/),
  );
  assert.equal(q.pulls.length, 0);
});

test("scan fails safe when a pull answers OFFSET_ILLEGAL, NO_NEW_MSG or NO_MATCHED_MSG inside the range", async () => {
  for (const status of ["OFFSET_ILLEGAL", "NO_NEW_MSG", "NO_MATCHED_MSG"] as const) {
    const q = fakeQueue(
      0n,
      100n,
      () => 1n,
      (r, o) => (o.offset >= 64n ? { ...r, status, messages: [], nextBeginOffset: 80n } : r),
    );
    await assert.rejects(
      scanQueueForSource(q.consumer, q.admin, queue, 0n, match),
      isUnreadable(new RegExp(`offset 64 answered ${status}`)),
    );
  }
});

test("scan fails safe on a gap: a message at an unexpected offset, or nextBeginOffset jumping", async () => {
  const skipped = fakeQueue(
    0n,
    100n,
    () => 1n,
    (r, o) => (o.offset === 32n ? { ...r, messages: r.messages.filter((m) => m.queueOffset !== 40n) } : r),
  );
  await assert.rejects(
    scanQueueForSource(skipped.consumer, skipped.admin, queue, 0n, match),
    isUnreadable(/offset 40 was expected but the broker returned offset 41/),
  );
  const jumped = fakeQueue(
    0n,
    100n,
    () => 1n,
    (r, o) => (o.offset === 32n ? { ...r, nextBeginOffset: r.nextBeginOffset + 5n } : r),
  );
  await assert.rejects(
    scanQueueForSource(jumped.consumer, jumped.admin, queue, 0n, match),
    isUnreadable(/offset 64 was expected next but the broker says 69/),
  );
});

test("findLatestOfSource returns the highest match of the first step (from the end) that has one", async () => {
  // Ours at offsets 100..139 with source offsets descending in places: the last step [168, 200)
  // has none, step [136, 168) has 136..139 -> highest source among them.
  const q = fakeQueue(0n, 200n, (o) =>
    o >= 100n && o < 140n ? 5000n - o * (o % 2n === 0n ? 1n : 2n) : undefined,
  );
  const latest = await findLatestOfSource(q.consumer, q.admin, queue, match, { maxMessages: 1000 });
  assert.deepEqual(latest, { hit: { sourceOffset: 5000n - 136n, targetOffset: 136n }, readWhole: false });
  assert.deepEqual(q.pulls, [168n, 136n]);
});

test("findLatestOfSource gives up after maxMessages or at the min offset", async () => {
  const far = fakeQueue(0n, 200n, (o) => (o < 10n ? 1n : undefined));
  assert.deepEqual(await findLatestOfSource(far.consumer, far.admin, queue, match, { maxMessages: 100 }), {
    hit: undefined,
    readWhole: false,
  });
  assert.deepEqual(far.pulls, [168n, 136n, 104n, 100n]);
  const none = fakeQueue(150n, 200n, () => undefined);
  assert.deepEqual(await findLatestOfSource(none.consumer, none.admin, queue, match, { maxMessages: 1000 }), {
    hit: undefined,
    readWhole: true,
  });
  assert.deepEqual(none.pulls, [168n, 150n]);
});

function runtimeInfo(max: bigint, behind: bigint | undefined, lock = 0, head = 0): BrokerRuntimeInfo {
  return {
    raw: {},
    commitLogMaxOffset: max,
    dispatchBehindBytes: behind,
    pageCacheLockTimeMills: lock,
    sendThreadPoolQueueHeadWaitTimeMills: head,
  };
}

function scripted(answers: (BrokerRuntimeInfo | Error)[]) {
  let i = 0;
  return {
    getBrokerRuntimeInfo: () => {
      const answer = answers[Math.min(i++, answers.length - 1)];
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer as BrokerRuntimeInfo);
    },
    get calls() {
      return i;
    },
  };
}

test("waitForDispatch waits until max - behind reaches the FIRST answer's max, not a later one's", async () => {
  // First answer: C = 1000, behind 300. Then the log grows; 1500 - 500 = 1000 >= C settles it
  // although that answer's own max (1500) is not dispatched.
  const admin = scripted([
    runtimeInfo(1000n, 300n),
    runtimeInfo(1200n, 400n),
    runtimeInfo(1500n, 501n),
    runtimeInfo(1500n, 500n),
  ]);
  const r = await waitForDispatch(admin, "b", { pollMs: 1 });
  assert.equal(r.polls, 4);
  assert.equal(admin.calls, 4);
  const settled = scripted([runtimeInfo(1000n, 0n)]);
  assert.equal((await waitForDispatch(settled, "b")).polls, 1);
});

test("waitForDispatch times out naming the broker and the figures; a missing key is refused", async () => {
  await assert.rejects(
    waitForDispatch(scripted([runtimeInfo(1000n, 10n)]), "broker-x", { timeoutMs: 30, pollMs: 5 }),
    (err: unknown) =>
      err instanceof RmqError &&
      err.code === "RMQ_EO_DISPATCH_TIMEOUT" &&
      /broker broker-x has not dispatched its commit log up to 1000 within 30 ms \(last answer: commitLogMaxOffset 1000, dispatchBehindBytes 10/.test(
        err.message,
      ),
  );
  await assert.rejects(
    waitForDispatch(scripted([runtimeInfo(1n, undefined)]), "b"),
    /no dispatchBehindBytes/,
  );
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(waitForDispatch(scripted([runtimeInfo(1n, 0n)]), "b", { signal: controller.signal }), {
    name: "AbortedError",
  });
});

test("waitBrokerSettled waits out a held put lock and an old send-queue head, else names them", async () => {
  const admin = scripted([
    runtimeInfo(0n, 0n, 1200, 0),
    runtimeInfo(0n, 0n, 0, 450),
    runtimeInfo(0n, 0n, 0, 200),
  ]);
  assert.equal((await waitBrokerSettled(admin, "b", { pollMs: 1 })).polls, 3);
  await assert.rejects(
    waitBrokerSettled(scripted([runtimeInfo(0n, 0n, 3, 900)]), "b2", { timeoutMs: 20, pollMs: 5 }),
    (err: unknown) =>
      err instanceof RmqError &&
      err.code === "RMQ_EO_BROKER_STALLED" &&
      /broker b2 is still stalled after 20 ms: pageCacheLockTimeMills 3 \(limit 0\), sendThreadPoolQueueHeadWaitTimeMills 900 \(limit 200\)/.test(
        err.message,
      ),
  );
});

test("the fences ask again while a 4.x broker has no TPS sample yet, and rethrow other broker errors", async () => {
  // What 4.9.7 answers in its first second (StoreStatsService's sample list is empty).
  const notSampled = () =>
    new BrokerError(
      ResponseCode.SYSTEM_ERROR,
      "SYSTEM_ERROR",
      "runtime info of broker b failed with SYSTEM_ERROR",
      "java.util.NoSuchElementException, java.base/java.util.LinkedList.getLast(LinkedList.java:261)",
    );
  const admin = scripted([notSampled(), notSampled(), runtimeInfo(0n, 0n, 0, 0)]);
  assert.equal((await waitBrokerSettled(admin, "b", { pollMs: 1 })).polls, 3);
  await assert.rejects(
    waitForDispatch(scripted([notSampled()]), "b", { timeoutMs: 20, pollMs: 5 }),
    (err: unknown) => err instanceof RmqError && err.code === "RMQ_EO_BROKER_STARTING" && err.retriable,
  );
  const other = new BrokerError(ResponseCode.SYSTEM_ERROR, "SYSTEM_ERROR", "boom", "NullPointerException");
  const failing = scripted([other, runtimeInfo(0n, 0n, 0, 0)]);
  await assert.rejects(waitBrokerSettled(failing, "b", { pollMs: 1 }), (err: unknown) => err === other);
  assert.equal(failing.calls, 1);
});

/** A broker whose runtime-info answers (settled, dispatched) come when `release()` is called, or at once. */
function gatedBroker(autoRelease = false) {
  let reads = 0;
  const waiting: (() => void)[] = [];
  return {
    admin: {
      getBrokerRuntimeInfo: (_broker: string, options?: { signal?: AbortSignal | undefined }) => {
        reads++;
        return new Promise<BrokerRuntimeInfo>((resolve, reject) => {
          const answer = () => resolve(runtimeInfo(100n, 0n));
          if (autoRelease) return answer();
          waiting.push(answer);
          options?.signal?.addEventListener("abort", () => reject(new Error("read aborted")), { once: true });
        });
      },
    },
    get reads() {
      return reads;
    },
    release() {
      for (const answer of waiting.splice(0)) answer();
    },
  };
}

test("BrokerFences: callers of one broker share one fence that began after their deadline, and it serves later ones", async () => {
  const broker = gatedBroker(true);
  const fences = new BrokerFences(broker.admin, { pollMs: 1 });
  const deadAtMs = Date.now() + 40;
  const at = await Promise.all(
    Array.from({ length: 8 }, () => fences.after("b", deadAtMs).then(() => Date.now())),
  );
  for (const t of at) assert.ok(t >= deadAtMs, `resolved ${deadAtMs - t} ms before the deadline`);
  assert.equal(broker.reads, 2, "one settle read and one dispatch read for 8 callers");
  // Done, and began after this deadline too: nothing to read.
  await fences.after("b", deadAtMs - 1000);
  assert.equal(broker.reads, 2);
  // A deadline after the fence began needs a new one; another broker has its own.
  await fences.after("b", Date.now() + 1);
  assert.equal(broker.reads, 4);
  await fences.after("c", Date.now());
  assert.equal(broker.reads, 6);
  // Forgotten (a call to the broker failed: it may have restarted): the next caller fences again.
  fences.forget("b");
  await fences.after("b", deadAtMs - 1000);
  assert.equal(broker.reads, 8);
  // A caller that is already aborted starts nothing.
  const aborted = new AbortController();
  aborted.abort();
  await assert.rejects(fences.after("d", Date.now(), aborted.signal), { name: "AbortedError" });
  assert.equal(broker.reads, 8);
});

test("BrokerFences: a failed fence fails its callers and is forgotten; a fence every caller left is aborted", async () => {
  let fail = true;
  const failing = new BrokerFences(
    {
      getBrokerRuntimeInfo: () =>
        fail ? Promise.reject(new Error("broker down")) : Promise.resolve(runtimeInfo(1n, 0n)),
    },
    { pollMs: 1 },
  );
  const deadAtMs = Date.now();
  const results = await Promise.allSettled([failing.after("b", deadAtMs), failing.after("b", deadAtMs)]);
  assert.deepEqual(
    results.map((r) => (r.status === "rejected" ? (r.reason as Error).message : "ok")),
    ["broker down", "broker down"],
  );
  fail = false;
  await failing.after("b", deadAtMs); // a new fence, not the failed one

  const broker = gatedBroker();
  const fences = new BrokerFences(broker.admin, { pollMs: 1 });
  const a = new AbortController();
  const b = new AbortController();
  const now = Date.now();
  const first = fences.after("b", now, a.signal);
  const second = fences.after("b", now, b.signal);
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(broker.reads, 1);
  a.abort();
  await assert.rejects(first, { name: "AbortedError" });
  broker.release(); // the settle read answers; the fence goes on for the caller still there
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(broker.reads, 2);
  b.abort();
  await assert.rejects(second, { name: "AbortedError" });
  // Nobody waits any more: the fence was aborted, so the next caller starts another.
  const third = fences.after("b", now);
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(broker.reads, 3);
  broker.release();
  await new Promise((r) => setTimeout(r, 5));
  broker.release();
  await third;
  assert.equal(broker.reads, 4);
});
