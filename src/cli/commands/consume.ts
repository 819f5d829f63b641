/**
 * `rmq-connector consume`: reads a topic (every readable queue, or one) from a start position
 * with a pull consumer and prints one JSON line per message, until --count messages or until
 * nothing new has arrived for --timeout.
 */
import { NameServerClient } from "../../client/name-server.js";
import { findOffsetByStoreTime } from "../../client/offset-search.js";
import type { PullConsumer } from "../../client/pull-consumer.js";
import { RocketMQClient } from "../../client/rocketmq-client.js";
import { clientOptions, type ClusterConnection } from "../../config/client-options.js";
import { queueKey, type MessageQueue } from "../../client/types.js";
import { backoffDelay, sleep, type BackoffOptions } from "../../connector/backoff.js";
import type { MessageExt } from "../../protocol/message.js";
import { ResponseCode } from "../../protocol/codes.js";
import { BrokerError, RmqError } from "../../protocol/errors.js";
import { isSystemProperty } from "../../protocol/properties.js";
import type { Command } from "../command.js";
import { parseFlags, parseInteger, parseQueueSelector, required, type QueueSelector } from "../args.js";
import { parseDuration } from "../durations.js";
import { CONNECTION_FLAGS, CONNECTION_HELP, CREDENTIALS_HELP, connectionFromArgs } from "../connection.js";
import { encodeBody, jsonLine, LineWriter } from "../output.js";
import { errorLine, errorText, EXIT_USAGE, UsageError } from "../usage.js";
import { CLI_GROUP } from "./produce.js";

/** Exit code when --count and --timeout are both given and the timeout came first. */
export const EXIT_COUNT_NOT_REACHED = 3;

const HELP = `Usage: rmq-connector consume --namesrv ADDR --topic T [options]

Reads every readable queue of the topic (or one) and prints one JSON line per message:
topic, brokerName, queueId, queueOffset (a decimal string), msgId, offsetMsgId, tags, keys,
properties (user properties only), bornTimestamp, storeTimestamp, bornHost, storeHost, body,
bodyEncoding ("utf8" when the body is valid UTF-8, else "base64"). A summary goes to stderr.

Options:
${CONNECTION_HELP}
  --topic T             topic to read (required)
  --queue N             read queueId N only (on every broker), or broker-a#N
  --from POS            where to start in each queue (default earliest):
                          earliest | latest
                          OFFSET            a queue offset (an integer below 10^12), or offset:N
                          ISO-8601 time     e.g. 2024-05-01T12:00:00Z (no zone = local time)
                          EPOCH-MS          milliseconds since 1970 (an integer from 10^12)
  --tags EXPR           tag filter, e.g. "TagA || TagB" (default *)
  --count N             stop after N messages
  --timeout D           stop when nothing new arrived for D, e.g. 5s (default 5s without
                        --count; with --count, wait for the count however long it takes)
  --group G             consumer group the pulls are accounted to (default rmq_connector_cli;
                        create it first on brokers with autoCreateSubscriptionGroup=false)
  -h, --help            show this help

A transient failure while finding the start or reading (a timeout, a lost connection, a busy
broker; a broker SYSTEM_ERROR 5 times in a row at most) is retried with backoff, one line on
stderr each time; --timeout still ends the wait (exit 1 if the last attempt
failed). A failure that cannot pass by itself (no such topic or group, bad arguments) exits.

${CREDENTIALS_HELP}

Exit codes: 0 done, 1 failure, 2 bad arguments, 3 --timeout before --count was reached,
130 interrupted (Ctrl-C).
`;

/** Where consumption starts in each queue. */
export type StartPosition =
  | { kind: "earliest" }
  | { kind: "latest" }
  | { kind: "offset"; offset: bigint }
  | { kind: "timestamp"; timestampMs: number };

/** What `consume` was asked to do, after parsing and checking the flags. */
export interface ConsumeOptions {
  /** The cluster: --namesrv, --tls, --request-timeout and the credentials of the environment. */
  connection: ClusterConnection;
  topic: string;
  queue: QueueSelector | undefined;
  from: StartPosition;
  tags: string;
  /** Stop after this many messages; undefined = no limit. */
  count: number | undefined;
  /** Stop when nothing new arrived for this long; undefined = never. */
  idleTimeoutMs: number | undefined;
  group: string;
}

/** Plain integers from here up are epoch milliseconds (2001-09-09), below are queue offsets. */
const EPOCH_MS_FROM = 1_000_000_000_000n;
/** Default --timeout when --count is absent. */
export const DEFAULT_IDLE_TIMEOUT_MS = 5000;

/**
 * Parses --from: "earliest", "latest", "offset:N", a plain integer (a queue offset below 10^12,
 * epoch ms from there: no queue holds 10^12 messages, and no timestamp we care about is before
 * 2001), or an ISO-8601 date or date-time. Throws UsageError naming `flag`.
 */
export function parseFrom(text: string, flag = "--from"): StartPosition {
  const t = text.trim();
  const lower = t.toLowerCase();
  if (lower === "earliest") return { kind: "earliest" };
  if (lower === "latest") return { kind: "latest" };
  const explicitOffset = /^offset:(\d+)$/i.exec(t);
  if (explicitOffset) return { kind: "offset", offset: BigInt(explicitOffset[1] as string) };
  if (/^\d+$/.test(t)) {
    const n = BigInt(t);
    if (n < EPOCH_MS_FROM) return { kind: "offset", offset: n };
    if (n <= 8_640_000_000_000_000n) return { kind: "timestamp", timestampMs: Number(n) };
  }
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/i.test(t)) {
    const ms = Date.parse(t.replace(" ", "T"));
    if (Number.isFinite(ms)) return { kind: "timestamp", timestampMs: ms };
  }
  throw new UsageError(
    `${flag}: "${text}" is not earliest, latest, an offset, an ISO-8601 time or epoch milliseconds`,
  );
}

/**
 * Parses consume's flags, with the credentials from `env`; "help" for -h/--help. Throws
 * UsageError naming the flag (or variable) at fault.
 */
export function parseConsumeArgs(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): ConsumeOptions | "help" {
  const v = parseFlags(
    args,
    {
      ...CONNECTION_FLAGS,
      topic: { type: "string" },
      queue: { type: "string" },
      from: { type: "string" },
      tags: { type: "string" },
      count: { type: "string" },
      timeout: { type: "string" },
      group: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    "consume",
  );
  if (v.help) return "help";
  const count = v.count === undefined ? undefined : parseInteger(v.count, "--count");
  const idleTimeoutMs =
    v.timeout !== undefined
      ? parseDuration(v.timeout, "--timeout")
      : count === undefined
        ? DEFAULT_IDLE_TIMEOUT_MS
        : undefined;
  if (idleTimeoutMs === 0) throw new UsageError(`--timeout: must be more than 0`);
  return {
    connection: connectionFromArgs(v, env),
    topic: required(v.topic, "--topic"),
    queue: v.queue === undefined ? undefined : parseQueueSelector(v.queue),
    from: v.from === undefined ? { kind: "earliest" } : parseFrom(v.from),
    tags: v.tags === undefined || v.tags.trim() === "" ? "*" : v.tags,
    count,
    idleTimeoutMs,
    group: v.group ?? CLI_GROUP,
  };
}

/**
 * The JSON object printed for a message. `properties` holds user properties only: the system
 * ones are either fields of their own (TAGS, KEYS, UNIQ_KEY) or broker bookkeeping (MIN_OFFSET,
 * MAX_OFFSET, CLUSTER, WAIT...). A body the CLI cannot decompress (LZ4, ZSTD) is printed as stored,
 * in base64, with `compression` naming the codec.
 */
export function messageRecord(m: MessageExt, brokerName: string): Record<string, unknown> {
  const properties: Record<string, string> = {};
  for (const [name, value] of Object.entries(m.properties))
    if (!isSystemProperty(name)) properties[name] = value;
  const body = m.body ?? m.storedBody;
  return {
    topic: m.topic,
    brokerName,
    queueId: m.queueId,
    queueOffset: m.queueOffset.toString(),
    msgId: m.uniqKey ?? m.offsetMsgId,
    offsetMsgId: m.offsetMsgId,
    tags: m.tags ?? null,
    keys: m.keys,
    properties,
    bornTimestamp: m.bornTimestamp,
    storeTimestamp: m.storeTimestamp,
    bornHost: m.bornHost,
    storeHost: m.storeHost,
    ...(m.body === undefined && m.compression !== undefined
      ? { body: m.storedBody.toString("base64"), bodyEncoding: "base64", compression: m.compression }
      : encodeBody(body)),
  };
}

async function startOffset(
  client: RocketMQClient,
  consumer: PullConsumer,
  queue: MessageQueue,
  from: StartPosition,
): Promise<bigint> {
  switch (from.kind) {
    case "earliest":
      return client.admin.getMinOffset(queue);
    case "latest":
      return client.admin.getMaxOffset(queue);
    case "offset":
      return from.offset;
    case "timestamp":
      return findOffsetByStoreTime(client.admin, consumer, queue, from.timestampMs);
  }
}

/** How long the broker may hold a pull; the stop signal aborts it sooner. */
const LONG_POLL_MS = 10_000;

/** Backoff between retries of a queue whose pull failed transiently. */
const RETRY_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 5000 };

/**
 * A failure of a pull that may pass if it is tried again: a timeout, a lost connection, a busy
 * broker, and a topic whose route is gone. The topic existed when reading began, and the
 * NameServer forgets a route as soon as the last broker serving it disconnects, so "no route"
 * here means "the broker is away" until it registers again (a deleted topic waits as well, with
 * a line on stderr per attempt, until --timeout). `attempt` counts the failures in a row so far
 * (0 for the first): a SYSTEM_ERROR is transient only for the first MAX_SYSTEM_ERROR_RETRIES.
 */
export function isTransient(err: unknown, attempt: number): err is RmqError {
  if (!(err instanceof RmqError)) return false;
  if (err instanceof BrokerError && err.responseCode === ResponseCode.SYSTEM_ERROR) {
    return attempt < MAX_SYSTEM_ERROR_RETRIES;
  }
  return err.retriable || NameServerClient.isTopicNotExist(err);
}

/**
 * SYSTEM_ERROR is retriable in the response table (a broker still starting answers it), but the
 * broker also answers it for failures that never pass (a refused signature, an exception of its
 * own): consume gives up after this many in a row rather than retry forever without --timeout.
 */
const MAX_SYSTEM_ERROR_RETRIES = 5;

/** Queues whose last pull failed transiently, each with that failure; empty when all are well. */
type Failing = Map<string, RmqError>;

/**
 * After a transient pull failure of `queue`: one line on stderr, then the backoff (cut short
 * by `signal`). Records the failure in `failing`, so a --timeout reached while it persists is
 * reported as a failure rather than as an idle topic.
 */
async function backOffAfter(
  err: RmqError,
  queue: MessageQueue,
  attempt: number,
  failing: Failing,
  signal: AbortSignal,
): Promise<void> {
  failing.set(queueKey(queue), err);
  const delayMs = Math.round(backoffDelay(attempt, RETRY_BACKOFF));
  process.stderr.write(
    `rmq-connector consume: queue ${queue.brokerName}#${queue.queueId}: ${errorText(err)}; retrying in ${delayMs} ms\n`,
  );
  await sleep(delayMs, signal);
}

type StopReason = "count" | "idle" | "signal" | "reader-gone";

async function consume(options: ConsumeOptions): Promise<number> {
  const client = new RocketMQClient(clientOptions(options.connection));
  const stop = new AbortController();
  let reason: StopReason | undefined;
  const finish = (why: StopReason): void => {
    reason ??= why;
    stop.abort();
  };
  const out = new LineWriter(process.stdout, () => finish("reader-gone"));
  const onSignal = (): void => finish("signal");
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let idleTimer: NodeJS.Timeout | undefined;
  const armIdle = (): void => {
    if (options.idleTimeoutMs === undefined) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => finish("idle"), options.idleTimeoutMs);
  };
  let printed = 0;
  const started = Date.now();
  let queues: MessageQueue[] = [];
  const failing: Failing = new Map();
  try {
    const route = await client.admin.getTopicRoute(options.topic);
    const wanted = options.queue;
    queues = route
      .readQueues()
      .filter(
        (q) =>
          wanted === undefined ||
          (q.queueId === wanted.queueId &&
            (wanted.brokerName === undefined || q.brokerName === wanted.brokerName)),
      );
    if (queues.length === 0) {
      throw wanted === undefined
        ? new UsageError(`--topic: topic ${options.topic} has no readable queue`)
        : new UsageError(
            `--queue: topic ${options.topic} has no readable queue ${wanted.brokerName === undefined ? "" : `${wanted.brokerName}#`}${wanted.queueId}`,
          );
    }
    const consumer = client.pullConsumer({ group: options.group });
    if (options.count === 0) finish("count");
    armIdle();

    const readQueue = async (queue: MessageQueue): Promise<void> => {
      // Found in the retry loop below, so that a broker away at start is waited for too.
      let offset: bigint | undefined;
      let attempt = 0;
      while (!stop.signal.aborted) {
        let result;
        try {
          offset ??= await startOffset(client, consumer, queue, options.from);
          result = await consumer.pull({
            queue,
            offset,
            tags: options.tags,
            // No timeoutMs: the client gives a long poll its suspend time plus a margin that
            // outlasts the broker's hold service (LONG_POLL_TIMEOUT_MARGIN_MS).
            suspendTimeoutMs: LONG_POLL_MS,
            signal: stop.signal,
          });
        } catch (err) {
          if (stop.signal.aborted) return;
          if (!isTransient(err, attempt)) throw err;
          await backOffAfter(err, queue, attempt++, failing, stop.signal);
          continue;
        }
        attempt = 0;
        failing.delete(queueKey(queue));
        if (result.status === "OFFSET_ILLEGAL") {
          process.stderr.write(
            `rmq-connector consume: queue ${queue.brokerName}#${queue.queueId}: offset ${offset} is outside [${result.minOffset}, ${result.maxOffset}]; continuing at ${result.nextBeginOffset}\n`,
          );
          if (result.nextBeginOffset === offset) {
            // A broker that cannot correct the offset: clamp it ourselves rather than spin.
            const clamped = offset < result.minOffset ? result.minOffset : result.maxOffset;
            if (clamped === offset)
              throw new RmqError(
                "RMQ_OFFSET",
                `queue ${queue.brokerName}#${queue.queueId}: the broker refuses offset ${offset}`,
              );
            offset = clamped;
            continue;
          }
        }
        for (const m of result.messages) {
          if (stop.signal.aborted) return;
          printed++;
          armIdle();
          await out.write(jsonLine(messageRecord(m, queue.brokerName)));
          if (options.count !== undefined && printed >= options.count) finish("count");
        }
        offset = result.nextBeginOffset;
      }
    };

    // The first failing queue stops the others, and its error is the one reported.
    let failure: { err: unknown } | undefined;
    await Promise.all(
      queues.map((q) =>
        readQueue(q).catch((err: unknown) => {
          failure ??= { err };
          stop.abort();
        }),
      ),
    );
    if (failure) throw failure.err;
  } finally {
    clearTimeout(idleTimer);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    client.close();
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const why =
    reason === "count"
      ? "count reached"
      : reason === "idle"
        ? `nothing new for ${options.idleTimeoutMs} ms`
        : reason === "signal"
          ? "interrupted"
          : "stdout closed";
  process.stderr.write(
    `rmq-connector consume: ${printed} messages from ${queues.length} queues of ${options.topic} in ${seconds} s; stopped: ${why}\n`,
  );
  const stillFailing = [...failing.values()].at(-1);
  if (reason === "idle" && stillFailing !== undefined) {
    // Not an idle topic: the queues could not be read. Say why, as a failure.
    throw new RmqError(
      stillFailing.code,
      `${stillFailing.message} (still failing when --timeout ended the retries)`,
      { cause: stillFailing, context: stillFailing.context },
    );
  }
  if (reason === "signal") return 130;
  if (reason === "idle" && options.count !== undefined && printed < options.count)
    return EXIT_COUNT_NOT_REACHED;
  return 0;
}

export const consumeCommand: Command = {
  summary: "print a topic's messages as JSON lines (all queues or one, from a position or a time)",
  async run(args) {
    try {
      const options = parseConsumeArgs(args);
      if (options === "help") {
        process.stdout.write(HELP);
        return 0;
      }
      return await consume(options);
    } catch (err) {
      process.stderr.write(errorLine(err));
      return err instanceof UsageError ? EXIT_USAGE : 1;
    }
  },
};
