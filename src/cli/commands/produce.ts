/**
 * `rmq-connector produce`: sends messages to a topic, one per stdin line or generated, and prints
 * one JSON line per sent message (or batch) with where it was stored.
 */
import { RocketMQClient } from "../../client/rocketmq-client.js";
import { clientOptions, type ClusterConnection } from "../../config/client-options.js";
import type { SendOptions } from "../../client/producer.js";
import type { Message, SendResult } from "../../client/types.js";
import { assertValidProperty, isSystemProperty } from "../../protocol/properties.js";
import { RmqError } from "../../protocol/errors.js";
import type { Command } from "../command.js";
import { parseFlags, parseInteger, parseQueueSelector, required, type QueueSelector } from "../args.js";
import { CONNECTION_FLAGS, CONNECTION_HELP, CREDENTIALS_HELP, connectionFromArgs } from "../connection.js";
import { jsonLine, LineWriter } from "../output.js";
import { errorLine, EXIT_USAGE, UsageError } from "../usage.js";

const HELP = `Usage: rmq-connector produce --namesrv ADDR --topic T [options]

Sends one message per line of stdin (bytes as read, without the newline or a trailing CR;
empty lines are skipped), or --count generated messages, and prints one JSON line per sent
message (per batch with --batch): topic, brokerName, queueId, queueOffset, msgId, offsetMsgId.
A summary goes to stderr.

Options:
${CONNECTION_HELP}
  --topic T             topic to send to (required; must exist)
  --tag TAG             tag of every message
  --key K               a key of every message (repeatable)
  --property k=v        a user property of every message (repeatable)
  --queue N             send to queueId N (of the first broker), or broker-a#N; default round-robin
  --count N             send N generated messages instead of reading stdin
  --size BYTES          size of each generated body (default 128; needs --count)
  --batch N             send N messages per request (SEND_BATCH_MESSAGE); default 1
  --group G             producer group (default rmq_connector_cli)
  -h, --help            show this help

${CREDENTIALS_HELP}

Exit codes: 0 all sent, 1 a failure (the messages printed before it were stored), 2 bad arguments.
`;

/** What `produce` was asked to do, after parsing and checking the flags. */
export interface ProduceOptions {
  /** The cluster: --namesrv, --tls, --request-timeout and the credentials of the environment. */
  connection: ClusterConnection;
  topic: string;
  tag: string | undefined;
  keys: string[];
  properties: Record<string, string>;
  queue: QueueSelector | undefined;
  /** Generated bodies instead of stdin. */
  generate: { count: number; sizeBytes: number } | undefined;
  /** Messages per request; 1 sends each alone with SEND_MESSAGE_V2. */
  batch: number;
  group: string;
}

/** Default group of the CLI's producer and pull consumer. */
export const CLI_GROUP = "rmq_connector_cli";

/**
 * Parses produce's flags, with the credentials from `env`; "help" for -h/--help. Throws
 * UsageError naming the flag (or variable) at fault.
 */
export function parseProduceArgs(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): ProduceOptions | "help" {
  const v = parseFlags(
    args,
    {
      ...CONNECTION_FLAGS,
      topic: { type: "string" },
      tag: { type: "string" },
      key: { type: "string", multiple: true },
      property: { type: "string", multiple: true },
      queue: { type: "string" },
      count: { type: "string" },
      size: { type: "string" },
      batch: { type: "string" },
      group: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    "produce",
  );
  if (v.help) return "help";
  const keys = v.key ?? [];
  for (const key of keys) {
    // KEYS travel space-separated, so a key with a space would come back as two keys.
    if (key === "" || /\s/.test(key))
      throw new UsageError(`--key: "${key}" must be non-empty without spaces`);
  }
  const properties: Record<string, string> = {};
  for (const kv of v.property ?? []) {
    const eq = kv.indexOf("=");
    if (eq <= 0) throw new UsageError(`--property: "${kv}" is not name=value`);
    const name = kv.slice(0, eq);
    const value = kv.slice(eq + 1);
    if (isSystemProperty(name)) {
      throw new UsageError(`--property: ${name} is a system property (use --tag or --key for TAGS and KEYS)`);
    }
    try {
      assertValidProperty(name, value);
    } catch (err) {
      throw new UsageError(`--property: ${err instanceof Error ? err.message : String(err)}`);
    }
    properties[name] = value;
  }
  if (v.size !== undefined && v.count === undefined) throw new UsageError("--size needs --count");
  const generate =
    v.count === undefined
      ? undefined
      : {
          count: parseInteger(v.count, "--count"),
          // RocketMQ's default maxMessageSize is 4 MiB; larger is the broker's call, not ours.
          sizeBytes: v.size === undefined ? 128 : parseInteger(v.size, "--size", 1, 64 * 1024 * 1024),
        };
  const tag = v.tag;
  if (tag === "") throw new UsageError("--tag must not be empty");
  return {
    connection: connectionFromArgs(v, env),
    topic: required(v.topic, "--topic"),
    tag,
    keys,
    properties,
    queue: v.queue === undefined ? undefined : parseQueueSelector(v.queue),
    generate,
    batch: v.batch === undefined ? 1 : parseInteger(v.batch, "--batch", 1, 10_000),
    group: v.group ?? CLI_GROUP,
  };
}

/**
 * The body of generated message `index` (0-based): "#<index> " followed by pseudo-random bytes
 * seeded by the index, `sizeBytes` long in all. Deterministic, so a test can rebuild what was
 * sent; binary, so it exercises the non-UTF-8 path of consumers.
 */
export function generatedBody(index: number, sizeBytes: number): Buffer {
  const body = Buffer.alloc(sizeBytes);
  const written = body.write(`#${index} `, "latin1");
  // xorshift32; the seed is mixed so that neighbouring indexes give unrelated streams.
  let x = (Math.imul(index + 1, 0x9e3779b1) ^ 0x2545f491) >>> 0 || 1;
  for (let i = written; i < sizeBytes; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    body[i] = x & 0xff;
  }
  return body;
}

/**
 * Splits a byte stream into lines on LF, dropping the LF and one trailing CR. Bytes are kept as
 * they are (no UTF-8 decoding), so stdin can carry any body that has no newline in it. A last
 * line without a newline is still a line.
 */
export async function* splitLines(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  for await (const chunk of chunks) {
    let buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    let nl: number;
    while ((nl = buf.indexOf(0x0a)) >= 0) {
      pending.push(buf.subarray(0, nl));
      yield stripCr(Buffer.concat(pending));
      pending = [];
      buf = buf.subarray(nl + 1);
    }
    if (buf.length > 0) pending.push(buf);
  }
  if (pending.length > 0) yield stripCr(Buffer.concat(pending));
}

function stripCr(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, line.length - 1) : line;
}

/** The JSON object printed for one single send or one batch. */
export function sendResultRecord(result: SendResult, batch: boolean): Record<string, unknown> {
  const where = {
    topic: result.queue.topic,
    brokerName: result.queue.brokerName,
    queueId: result.queue.queueId,
    queueOffset: result.queueOffset.toString(),
  };
  return batch
    ? {
        ...where,
        count: result.uniqKeys.length,
        msgIds: result.uniqKeys,
        offsetMsgIds: result.offsetMsgIds,
        status: result.status,
      }
    : { ...where, msgId: result.uniqKeys[0], offsetMsgId: result.offsetMsgIds[0], status: result.status };
}

async function* bodies(options: ProduceOptions, skipped: { empty: number }): AsyncGenerator<Buffer> {
  if (options.generate) {
    for (let i = 0; i < options.generate.count; i++) yield generatedBody(i, options.generate.sizeBytes);
    return;
  }
  if (process.stdin.isTTY)
    process.stderr.write("rmq-connector produce: one message per line; Ctrl-D to end\n");
  for await (const line of splitLines(process.stdin)) {
    // RocketMQ stores no empty messages (the broker fails them with SYSTEM_ERROR).
    if (line.length === 0) skipped.empty++;
    else yield line;
  }
}

/** Groups an async sequence into arrays of at most `size`. */
async function* chunked<T>(items: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let group: T[] = [];
  for await (const item of items) {
    group.push(item);
    if (group.length >= size) {
      yield group;
      group = [];
    }
  }
  if (group.length > 0) yield group;
}

async function produce(options: ProduceOptions): Promise<number> {
  const client = new RocketMQClient(clientOptions(options.connection));
  const out = new LineWriter(process.stdout);
  const started = Date.now();
  const skipped = { empty: 0 };
  let messages = 0;
  let requests = 0;
  try {
    // The route first: a wrong address or topic fails before anything is read from stdin.
    const route = await client.admin.getTopicRoute(options.topic);
    let queue: SendOptions["queue"];
    if (options.queue !== undefined) {
      const wanted = options.queue;
      const q = route
        .writeQueues()
        .find(
          (x) =>
            x.queueId === wanted.queueId &&
            (wanted.brokerName === undefined || x.brokerName === wanted.brokerName),
        );
      if (!q) {
        const name =
          wanted.brokerName === undefined ? `${wanted.queueId}` : `${wanted.brokerName}#${wanted.queueId}`;
        throw new UsageError(`--queue: topic ${options.topic} has no writable queue ${name}`);
      }
      queue = q;
    }
    const producer = client.producer({ group: options.group });
    const sendOptions: SendOptions = queue === undefined ? {} : { queue };
    const toMessage = (body: Buffer): Message => ({
      topic: options.topic,
      body,
      tags: options.tag,
      ...(options.keys.length > 0 ? { keys: options.keys } : {}),
      properties: options.properties,
    });
    for await (const group of chunked(bodies(options, skipped), options.batch)) {
      if (out.closed) break;
      const batch = options.batch > 1;
      const result = batch
        ? await producer.sendBatch(group.map(toMessage), sendOptions)
        : await producer.send(toMessage(group[0] as Buffer), sendOptions);
      messages += group.length;
      requests++;
      await out.write(jsonLine(sendResultRecord(result, batch)));
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    if (messages > 0 && err instanceof RmqError) {
      // Say how far it got: the printed lines are the messages known to be stored.
      throw new RmqError(err.code, `${err.message} (after ${messages} messages sent)`, {
        cause: err,
        context: err.context,
      });
    }
    throw err;
  } finally {
    client.close();
  }
  const seconds = (Date.now() - started) / 1000;
  const rate = seconds > 0 ? ` (${Math.round(messages / seconds)} msg/s)` : "";
  const empty = skipped.empty > 0 ? `; skipped ${skipped.empty} empty lines` : "";
  process.stderr.write(
    `rmq-connector produce: sent ${messages} messages in ${requests} requests to ${options.topic} in ${seconds.toFixed(1)} s${rate}${empty}\n`,
  );
  return 0;
}

export const produceCommand: Command = {
  summary: "send messages from stdin lines (or generated ones) and print where each was stored",
  async run(args) {
    let options: ProduceOptions | "help";
    try {
      options = parseProduceArgs(args);
      if (options === "help") {
        process.stdout.write(HELP);
        return 0;
      }
      return await produce(options);
    } catch (err) {
      process.stderr.write(errorLine(err));
      return err instanceof UsageError ? EXIT_USAGE : 1;
    }
  },
};
