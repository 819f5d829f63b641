/**
 * `rmq-connector topic create|list|describe`: what a new user needs from RocketMQ's mqadmin
 * (updateTopic, topicList, topicRoute) to try the connector, with the same connection flags,
 * credentials, output and errors as `produce` and `consume`.
 */
import type { Admin } from "../../client/admin.js";
import { NameServerClient } from "../../client/name-server.js";
import { RocketMQClient } from "../../client/rocketmq-client.js";
import { clientOptions, type ClusterConnection } from "../../config/client-options.js";
import { topicNameProblem } from "../../config/names.js";
import { isSystemTopic } from "../../connector/system-topics.js";
import { Perm } from "../../protocol/headers/admin.js";
import { MASTER_ID, type BrokerData, type ClusterInfo } from "../../protocol/headers/route.js";
import { RmqError } from "../../protocol/errors.js";
import type { Command } from "../command.js";
import { parseFlags, parseInteger, required } from "../args.js";
import { CONNECTION_FLAGS, CONNECTION_HELP, CREDENTIALS_HELP, connectionFromArgs } from "../connection.js";
import { jsonLine, LineWriter } from "../output.js";
import { errorLine, EXIT_USAGE, UsageError } from "../usage.js";

const HELP = `Usage: rmq-connector topic create   --namesrv ADDR --topic T [--queues N] [--cluster C | --broker B]
       rmq-connector topic list     --namesrv ADDR [--cluster C] [--system]
       rmq-connector topic describe --namesrv ADDR --topic T

create    creates T with N read and N write queues (default 8) on every master of the cluster
          (the only one the NameServer knows, or --cluster C), or on one broker (--broker, a
          broker name or a master's address). Prints one JSON line per broker. A topic that
          already has N queues there is left as it is; one with another count is refused (create
          never changes the queues of an existing topic).
list      prints the cluster's topic names, one per line, sorted; RocketMQ's own topics (retry,
          dead-letter, scheduling, broker- and cluster-named, the connector's probe topic) only
          with --system.
describe  prints one JSON line per broker serving T: brokerName, cluster, addresses (brokerId ->
          ip:port, 0 is the master), readQueueNums, writeQueueNums, perm (6 = read and write),
          readable, writable.

Options:
${CONNECTION_HELP}
  --topic T             the topic (create, describe)
  --queues N            read and write queues per broker (create; default 8)
  --cluster C           the cluster (create, list)
  --broker B            one broker, by name or master address (create)
  --system              include system topics (list)
  -h, --help            show this help

${CREDENTIALS_HELP}

Exit codes: 0 done, 1 a failure (connection, timeout, broker refusal, no such topic),
2 bad arguments.
`;

/** Default queue count of `topic create`, as mqadmin updateTopic's. */
export const DEFAULT_QUEUE_NUMS = 8;

/** What `topic` was asked to do, after parsing and checking the flags. */
export type TopicOptions =
  | {
      action: "create";
      connection: ClusterConnection;
      topic: string;
      queueNums: number;
      /** Where: a cluster, one broker, or (neither) the NameServer's only cluster. */
      cluster: string | undefined;
      broker: string | undefined;
    }
  | { action: "list"; connection: ClusterConnection; cluster: string | undefined; system: boolean }
  | { action: "describe"; connection: ClusterConnection; topic: string };

const ACTIONS = ["create", "list", "describe"] as const;

/** Which flags each action takes; any other is refused, naming it. */
const ACTION_FLAGS: Readonly<Record<(typeof ACTIONS)[number], readonly string[]>> = {
  create: ["topic", "queues", "cluster", "broker"],
  list: ["cluster", "system"],
  describe: ["topic"],
};

function topicName(text: string | undefined): string {
  const topic = required(text, "--topic");
  const problem = topicNameProblem(topic);
  if (problem !== undefined) throw new UsageError(`--topic: "${topic}" ${problem}`);
  return topic;
}

/**
 * Parses `topic <action> [flags]`, with the credentials from `env`; "help" for -h/--help.
 * Throws UsageError naming the action or flag at fault.
 */
export function parseTopicArgs(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): TopicOptions | "help" {
  const [action, ...rest] = args;
  if (action === "-h" || action === "--help" || action === "help") return "help";
  if (action === undefined || !(ACTIONS as readonly string[]).includes(action)) {
    const what = action === undefined ? "an action is required" : `unknown action "${action}"`;
    throw new UsageError(`topic: ${what}: one of ${ACTIONS.join(", ")} (see "rmq-connector topic --help")`);
  }
  const v = parseFlags(
    rest,
    {
      ...CONNECTION_FLAGS,
      topic: { type: "string" },
      queues: { type: "string" },
      cluster: { type: "string" },
      broker: { type: "string" },
      system: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    "topic",
  );
  if (v.help) return "help";
  const act = action as (typeof ACTIONS)[number];
  for (const flag of ["topic", "queues", "cluster", "broker", "system"] as const) {
    if (v[flag] !== undefined && !ACTION_FLAGS[act].includes(flag))
      throw new UsageError(`--${flag}: not an option of topic ${act}`);
  }
  const connection = connectionFromArgs(v, env);
  if (v.cluster !== undefined && v.cluster.trim() === "") throw new UsageError("--cluster must not be empty");
  switch (act) {
    case "create":
      if (v.cluster !== undefined && v.broker !== undefined)
        throw new UsageError("--broker: give --cluster or --broker, not both");
      if (v.broker !== undefined && v.broker.trim() === "")
        throw new UsageError("--broker must not be empty");
      return {
        action: act,
        connection,
        topic: topicName(v.topic),
        // RocketMQ has no hard limit; past 1024 queues per broker is surely a typo.
        queueNums: v.queues === undefined ? DEFAULT_QUEUE_NUMS : parseInteger(v.queues, "--queues", 1, 1024),
        cluster: v.cluster,
        broker: v.broker,
      };
    case "list":
      return { action: act, connection, cluster: v.cluster, system: v.system === true };
    case "describe":
      return { action: act, connection, topic: topicName(v.topic) };
  }
}

/** A broker of the cluster info as printed: its names and addresses (brokerId -> ip:port). */
function brokerFields(b: BrokerData | undefined): Record<string, unknown> {
  return {
    cluster: b?.cluster ?? null,
    addresses: Object.fromEntries(
      [...(b?.brokerAddrs ?? new Map<number, string>())].sort(([x], [y]) => x - y),
    ),
  };
}

/** The brokers `create` writes to: --broker, every master of --cluster, or of the only cluster. */
function targetBrokers(
  info: ClusterInfo,
  cluster: string | undefined,
  broker: string | undefined,
): BrokerData[] {
  const known = [...info.clusters.keys()].sort();
  const masters = info.brokers.filter((b) => b.brokerAddrs.has(MASTER_ID));
  if (broker !== undefined) {
    const found = masters.find((b) => b.brokerName === broker || b.brokerAddrs.get(MASTER_ID) === broker);
    if (!found) {
      const names = masters.map((b) => `${b.brokerName} (${b.brokerAddrs.get(MASTER_ID)})`).sort();
      throw new UsageError(
        `--broker: no master broker named or at "${broker}" is registered (known: ${names.join(", ") || "none"})`,
      );
    }
    return [found];
  }
  let name = cluster;
  if (name === undefined) {
    if (known.length > 1)
      throw new UsageError(
        `--cluster is required: the NameServer knows ${known.length} clusters (${known.join(", ")})`,
      );
    name = known[0];
  } else if (!info.clusters.has(name)) {
    throw new UsageError(
      `--cluster: no cluster "${name}" is registered (known: ${known.join(", ") || "none"})`,
    );
  }
  const selected = masters
    .filter((b) => b.cluster === name)
    .sort((a, b) => (a.brokerName < b.brokerName ? -1 : 1));
  if (selected.length === 0) {
    throw new RmqError(
      "RMQ_NO_BROKER",
      `no master broker${name === undefined ? "" : ` of cluster ${name}`} is registered with the NameServer`,
      { retriable: true },
    );
  }
  return selected;
}

/** The topic's queue counts per broker name, or an empty map when it has no route. */
async function existingQueues(
  admin: Admin,
  topic: string,
): Promise<Map<string, { readQueueNums: number; writeQueueNums: number }>> {
  try {
    const route = await admin.getTopicRoute(topic, { refresh: true });
    return new Map(route.data.queueDatas.map((q) => [q.brokerName, q]));
  } catch (err) {
    if (NameServerClient.isTopicNotExist(err)) return new Map();
    throw err;
  }
}

async function create(options: Extract<TopicOptions, { action: "create" }>, out: LineWriter): Promise<void> {
  const client = new RocketMQClient(clientOptions(options.connection));
  try {
    const info = await client.admin.getClusterInfo();
    const brokers = targetBrokers(info, options.cluster, options.broker);
    const existing = await existingQueues(client.admin, options.topic);
    // Check every broker before writing to any: a refusal leaves nothing half-created.
    for (const b of brokers) {
      const q = existing.get(b.brokerName);
      if (q && (q.readQueueNums !== options.queueNums || q.writeQueueNums !== options.queueNums)) {
        throw new RmqError(
          "RMQ_TOPIC_EXISTS",
          `topic ${options.topic} already exists on ${b.brokerName} with ${q.readQueueNums} read and ${q.writeQueueNums} write queues; create does not change an existing topic's queues (asked: ${options.queueNums})`,
          { context: { topic: options.topic, brokerName: b.brokerName } },
        );
      }
    }
    let created = 0;
    for (const b of brokers) {
      const address = b.brokerAddrs.get(MASTER_ID) as string;
      const already = existing.has(b.brokerName);
      if (!already) {
        await client.admin.createTopic({
          topic: options.topic,
          queueNums: options.queueNums,
          brokerAddr: address,
        });
        created++;
      }
      await out.write(
        jsonLine({
          topic: options.topic,
          brokerName: b.brokerName,
          ...brokerFields(b),
          readQueueNums: options.queueNums,
          writeQueueNums: options.queueNums,
          perm: Perm.READ_WRITE,
          created: !already,
        }),
      );
    }
    const kept = brokers.length - created;
    process.stderr.write(
      `rmq-connector topic: ${options.topic}: created on ${created} of ${brokers.length} brokers${kept > 0 ? ` (${kept} had it already)` : ""}, ${options.queueNums} read and ${options.queueNums} write queues each\n`,
    );
  } finally {
    client.close();
  }
}

async function list(options: Extract<TopicOptions, { action: "list" }>, out: LineWriter): Promise<void> {
  const client = new RocketMQClient(clientOptions(options.connection));
  try {
    const info = await client.admin.getClusterInfo();
    if (options.cluster !== undefined && !info.clusters.has(options.cluster)) {
      const known = [...info.clusters.keys()].sort();
      throw new UsageError(
        `--cluster: no cluster "${options.cluster}" is registered (known: ${known.join(", ") || "none"})`,
      );
    }
    const topics = await client.admin.getTopicList(
      options.cluster === undefined ? {} : { clusterName: options.cluster },
    );
    // Brokers and clusters register topics named after themselves.
    const ownNames = new Set([...info.clusters.keys(), ...info.brokers.map((b) => b.brokerName)]);
    const shown = [...new Set(topics)].filter((t) => options.system || !isSystemTopic(t, ownNames)).sort();
    for (const t of shown) await out.write(`${t}\n`);
    const hidden = new Set(topics).size - shown.length;
    process.stderr.write(
      `rmq-connector topic: ${shown.length} topics${hidden > 0 ? ` (${hidden} system topics not shown; --system shows them)` : ""}\n`,
    );
  } finally {
    client.close();
  }
}

async function describeTopic(
  options: Extract<TopicOptions, { action: "describe" }>,
  out: LineWriter,
): Promise<void> {
  const client = new RocketMQClient(clientOptions(options.connection));
  try {
    let route;
    try {
      route = await client.admin.getTopicRoute(options.topic, { refresh: true });
    } catch (err) {
      if (!NameServerClient.isTopicNotExist(err) || !(err instanceof RmqError)) throw err;
      throw new RmqError(err.code, `topic ${options.topic} does not exist (no NameServer route)`, {
        cause: err,
        context: err.context,
      });
    }
    const queues = [...route.data.queueDatas].sort((a, b) => (a.brokerName < b.brokerName ? -1 : 1));
    let read = 0;
    let write = 0;
    for (const q of queues) {
      read += q.readQueueNums;
      write += q.writeQueueNums;
      await out.write(
        jsonLine({
          topic: options.topic,
          brokerName: q.brokerName,
          ...brokerFields(route.data.brokerDatas.find((b) => b.brokerName === q.brokerName)),
          readQueueNums: q.readQueueNums,
          writeQueueNums: q.writeQueueNums,
          perm: q.perm,
          readable: (q.perm & Perm.READ) !== 0,
          writable: (q.perm & Perm.WRITE) !== 0,
        }),
      );
    }
    process.stderr.write(
      `rmq-connector topic: ${options.topic}: ${queues.length} brokers, ${read} read and ${write} write queues in all\n`,
    );
  } finally {
    client.close();
  }
}

export const topicCommand: Command = {
  summary: "create, list and describe topics (what mqadmin updateTopic, topicList, topicRoute do)",
  async run(args) {
    try {
      const options = parseTopicArgs(args);
      if (options === "help") {
        process.stdout.write(HELP);
        return 0;
      }
      const out = new LineWriter(process.stdout);
      if (options.action === "create") await create(options, out);
      else if (options.action === "list") await list(options, out);
      else await describeTopic(options, out);
      return 0;
    } catch (err) {
      process.stderr.write(errorLine(err));
      return err instanceof UsageError ? EXIT_USAGE : 1;
    }
  },
};
