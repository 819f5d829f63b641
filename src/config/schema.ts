/**
 * The config file's schema: the one source of truth for its keys, types, defaults and
 * descriptions. docs/configuration.md and docs/connector.schema.json are generated from it
 * (scripts/gen-config-docs.ts), so a description written here is what users read.
 *
 * The schema checks what one value can tell (types, ranges, formats); what needs several values
 * (a route's cluster exists, a template gives valid names) is in validate.ts. Objects are strict:
 * an unknown key is an error, since a misspelt optional key would otherwise be silently ignored.
 */
import * as z from "zod";
import {
  CLUSTER_NAME_PATTERN,
  CONNECTOR_NAME_PATTERN,
  namesrvProblem,
  parseHostPort,
  parseTimestamp,
  sourceTopicProblem,
  tagExpressionProblem,
  templateProblem,
  topicNameProblem,
} from "./names.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** A string checked by `problem` (undefined = fine); the message lands on the value's node. */
function checked(problem: (value: string) => string | undefined): z.ZodString {
  return z.string().superRefine((value, ctx) => {
    const message = problem(value);
    if (message !== undefined) ctx.addIssue({ code: "custom", message });
  });
}

/** A whole number in [min, max] (units are in the key name). */
function int(min: number, max: number): z.ZodNumber {
  return z.number().int().min(min).max(max);
}

const namesrv = z
  .union([checked(namesrvProblem), z.array(checked(namesrvProblem)).min(1)])
  .describe(
    'NameServer addresses of the cluster: "host:port", several separated by ";" as RocketMQ writes them, or a YAML list. IPv6 in brackets: "[::1]:9876".',
  )
  .meta({ examples: ["10.0.0.1:9876;10.0.0.2:9876", ["10.0.0.1:9876", "10.0.0.2:9876"]] });

/** Why `text` is not a host:port (port 1-65535), or undefined. */
function hostPortProblem(text: string): string | undefined {
  const parsed = parseHostPort(text);
  return typeof parsed === "string" ? parsed : undefined;
}

const addressMap = z
  .record(checked(hostPortProblem), checked(hostPortProblem))
  .describe(
    'Address translation: "host:port" as the NameServers\' route data (a broker\'s brokerIP1:listenPort) or `namesrv` names it -> "host:port" to connect to instead. For a cluster behind NAT, a port-forward or a proxy, whose brokers announce addresses this host cannot reach. Applies to brokers and NameServers; an unmapped address is connected to as given. Keys must match the announced address exactly (`mqadmin clusterList` shows it). Errors name both, e.g. "10.0.0.5:10911 (via 127.0.0.1:30911)". See docs/networking.md.',
  )
  .meta({ examples: [{ "10.0.0.5:10911": "127.0.0.1:30911", "10.0.0.6:10911": "127.0.0.1:30912" }] });

/**
 * A credential: the value itself (usually `${ENV}`), or `{ file }`, a file holding it (a
 * Kubernetes secret mounted as a file). The file is read once at start; trailing line breaks are
 * dropped, since `echo secret > file` adds one.
 */
function secret(description: string) {
  return z
    .union([
      z.string().min(1),
      z
        .strictObject({
          file: z
            .string()
            .min(1)
            .describe("Path of a file holding the value (relative paths: from the config file's directory)."),
        })
        .describe("Read from a file."),
    ])
    .optional()
    .describe(description);
}

/** A PEM file's path. */
const pemFile = (description: string) => z.string().min(1).optional().describe(description);

const tlsSettings = z
  .strictObject({
    ca: pemFile(
      "PEM file of the CA certificate(s) that signed the servers' certificates; replaces the system's CAs. Relative paths: from the config file's directory.",
    ),
    cert: pemFile(
      "PEM file of this client's certificate, for brokers that require client certificates (mutual TLS); with key.",
    ),
    key: pemFile("PEM file of the private key of cert (unencrypted); with cert. Never printed."),
    serverName: z
      .string()
      .min(1)
      .optional()
      .describe(
        "The name the servers' certificates must hold (and the TLS SNI). Default: the host of the address, i.e. the NameServer's as configured and the broker's as announced (before addressMap).",
      ),
    verify: z
      .boolean()
      .default(true)
      .describe(
        "Verify the servers' certificates (CA and name). false accepts any certificate, which gives encryption without knowing who the peer is: for tests only.",
      ),
  })
  .describe("TLS settings.");

/** One RocketMQ cluster, reached through its NameServers. */
export const clusterSchema = z
  .strictObject({
    namesrv,
    accessKey: secret(
      "ACL access key (HMAC-SHA1 signature: RocketMQ 4.x ACL 1.0, 5.x authentication). Give it with secretKey; usually from the environment or a file.",
    ).meta({ examples: ["${EAST_AK}", { file: "/var/run/secrets/east/access-key" }] }),
    secretKey: secret("ACL secret key, with accessKey. Never logged or printed.").meta({
      examples: ["${EAST_SK}", { file: "/var/run/secrets/east/secret-key" }],
    }),
    securityToken: secret(
      "ACL security token of temporary credentials, sent with every signed request; needs accessKey and secretKey. Never logged or printed.",
    ).meta({ examples: ["${EAST_TOKEN}"] }),
    tls: z
      .union([z.boolean(), tlsSettings])
      .default(false)
      .describe(
        "Connect to NameServers and brokers over TLS. true: TLS, the server's certificate verified against the system's CAs. A mapping sets the CA, a client certificate, the name to verify, or turns verification off.",
      )
      .meta({ examples: [true, { ca: "/etc/rocketmq/ca.pem" }] }),
    addressMap: addressMap.optional(),
    requestTimeoutMs: int(100, 600_000)
      .default(3000)
      .describe(
        "Timeout of one request to a NameServer or broker, in milliseconds. Long-poll pulls do not use it: each waits its suspend time (`pull.suspendTimeoutMs`) plus a fixed 15 000 ms, since a healthy broker answers an idle long poll up to its 5 s hold period after the suspend time.",
      ),
  })
  .describe("A RocketMQ cluster, named by its key in `clusters`.");

const routeFrom = z
  .strictObject({
    cluster: z
      .string()
      .describe("Key of the source cluster in `clusters`.")
      .meta({ examples: ["east"] }),
    topic: checked(sourceTopicProblem)
      .describe(
        'Source topic: a name, or "/regex/" (flags i, m, s, u, v allowed) that selects every matching topic of the cluster, re-evaluated every topicRefreshIntervalMs. A regex is not anchored: write ^...$ to match whole names.',
      )
      .meta({ examples: ["orders", "/^pay-.*/"] }),
    tags: checked(tagExpressionProblem)
      .default("*")
      .describe(
        'Tag filter as RocketMQ consumers write it: "*" for all, or tags separated by "||". Messages without a matching tag are not replicated (their offsets are still committed).',
      )
      .meta({ examples: ["TagA || TagB"] }),
  })
  .describe("Where messages come from.");

const routeTo = z
  .strictObject({
    cluster: z
      .string()
      .describe("Key of the target cluster in `clusters`.")
      .meta({ examples: ["west"] }),
    topic: checked(templateProblem)
      .optional()
      .describe(
        'Target topic. Default: the source topic\'s name. "${topic}" stands for the source topic, so a regex route can rename what it selects. The result must be a valid RocketMQ topic name (at most 127 of letters, digits, %, |, _, -). "${topic}" is not an environment variable: those are UPPER_CASE.',
      )
      .meta({ examples: ["orders-dr", "east_${topic}"] }),
    createTopic: z
      .boolean()
      .default(true)
      .describe(
        "Create a missing target topic with the source topic's queue count. When false, a missing target topic is an error of this route.",
      ),
  })
  .describe("Where messages go.");

/** One replication route: source cluster/topic(s) and tag filter -> target cluster/topic. */
export const routeSchema = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .describe(
        'Name of the route in logs, metrics and status. Default: derived, "<from.cluster>:<from.topic>-><to.cluster>:<to.topic>".',
      )
      .meta({ examples: ["orders-dr"] }),
    from: routeFrom,
    to: routeTo,
    start: checked((v) => {
      if (v === "latest" || v === "earliest") return undefined;
      const parsed = parseTimestamp(v);
      return typeof parsed === "string" ? parsed : undefined;
    })
      .default("latest")
      .describe(
        'Where a source queue starts the first time the connector takes it (afterwards it resumes from its committed offset): "latest" (only new messages; the position is pinned and committed at once), "earliest" (everything still stored), or an ISO-8601 timestamp with a zone (the first message stored at or after it).',
      )
      .meta({ examples: ["latest", "earliest", "2026-11-01T00:00:00Z"] }),
    deadLetterTopic: checked((v) => topicNameProblem(v))
      .optional()
      .describe(
        "Topic on the target cluster that receives messages the target refuses for good (e.g. too large), instead of stopping the queue at that message. Default: none (the queue stops, with an error naming topic, queue and offset).",
      )
      .meta({ examples: ["connector-dlq"] }),
    includeSystemTopics: z
      .boolean()
      .default(false)
      .describe(
        "Let a regex route match RocketMQ system topics (TBW102, SCHEDULE_TOPIC_XXXX, RMQ_SYS_*, rmq_sys_*, %RETRY%*, %DLQ%*, broker and cluster names) and connector-owned topics. Off by default: replicating those is almost always a mistake.",
      ),
    probes: z
      .strictObject({
        enabled: z
          .boolean()
          .optional()
          .describe("Send heartbeat probes over this route. Default: the global `probes.enabled`."),
        intervalMs: int(100, 3_600_000)
          .optional()
          .describe(
            "Time between two probes of this route, in milliseconds. Default: the global `probes.intervalMs`.",
          ),
      })
      .optional()
      .describe("Overrides the global `probes` settings for this route."),
    topicRefreshIntervalMs: int(1000, 3_600_000)
      .default(30_000)
      .describe(
        "How often a regex route looks for new matching topics and new queues, in milliseconds. The engine refreshes all routes at the shortest interval of any route.",
      ),
  })
  .describe("A replication route.");

const pullSchema = z
  .strictObject({
    batchSize: int(1, 1024)
      .default(32)
      .describe("Messages asked for per pull request (RocketMQ caps it at 32 by default)."),
    suspendTimeoutMs: int(0, 60_000)
      .default(15_000)
      .describe("How long the broker holds a pull with no new message (long polling), in milliseconds."),
    lingerMs: int(0, 1000)
      .default(0)
      .describe(
        "After a pull that reached the head of its queue, wait this long before the next pull, in milliseconds, so that it and the send after it carry the messages that arrived meanwhile. At 2 000 msg/s over 8 queues, 5 ms cut the pulls and sends by a third and the brokers' CPU by a fifth, and added 3 ms to the median latency (docs/benchmarks.md). 0 (default) pulls again at once.",
      ),
  })
  .describe("Pulling from source queues.");

const sendSchema = z
  .strictObject({
    batchMaxMessages: int(1, 1024).default(64).describe("Most messages in one batch send to a target queue."),
    batchMaxBytes: int(1, 64 * MiB)
      .default(MiB)
      .describe(
        "Most bytes (encoded) in one batch send; keep it below the broker's maxMessageSize (4 MiB by default).",
      ),
    timeoutMs: int(100, 600_000)
      .default(5000)
      .describe("Timeout of one send to the target, in milliseconds."),
  })
  .describe("Sending to target queues.");

const limitsSchema = z
  .strictObject({
    inFlightMessagesPerQueue: int(1, 1_000_000)
      .default(128)
      .describe(
        "Messages pulled but not yet acknowledged by the target, per source queue; pulling pauses above it. The default lets the next pulls overlap a full send batch (64). More buys nothing on a fast link and costs memory and GC: in the catch-up bench, 1024 took 17 % more CPU per message and 1.5x the RSS of 128 (docs/benchmarks.md). Raise it with send.batchMaxMessages for a link with a long round trip.",
      ),
    inFlightBytesPerQueue: int(KiB, 4 * GiB)
      .default(4 * MiB)
      .describe("Bytes pulled but not yet acknowledged, per source queue."),
    inFlightBytesTotal: int(MiB, 64 * GiB)
      .default(128 * MiB)
      .describe(
        "Bytes pulled but not yet acknowledged, for the whole process: the bound on its message memory.",
      ),
  })
  .describe("Memory bounds (backpressure when the target is slow).");

const commitSchema = z
  .strictObject({
    intervalMs: int(100, 600_000)
      .default(1000)
      .describe(
        "How often acknowledged progress is saved, in milliseconds (also on shutdown): as consumer offsets on the source cluster, and with exactly-once also as checkpoint records in the target cluster. After a crash, at-least-once replicates at most this much again; exactly-once reads at most this much of the target to recover.",
      ),
  })
  .describe("Committing progress.");

const exactlyOnceSchema = z
  .strictObject({
    deadAfterMs: int(100, 60_000)
      .default(1000)
      .describe(
        "Assumption D of docs/exactly-once.md: a send request the target broker has read is stored or refused within this long, in milliseconds (its own limits: 200 ms in the send queue, 1000 ms of page-cache lock, both checked before recovery trusts this). After a send whose outcome is unknown (from its failure), and at start (from the process's start), a queue waits this long before it reads the target to learn what landed.",
      ),
  })
  .describe('Settings of `delivery: "exactly-once"`.');

const retrySchema = z
  .strictObject({
    initialBackoffMs: int(1, 600_000)
      .default(200)
      .describe("First wait before retrying a failed pull, send or lookup, in milliseconds."),
    maxBackoffMs: int(1, 3_600_000)
      .default(10_000)
      .describe("Longest wait between retries (the backoff doubles up to it, with jitter), in milliseconds."),
  })
  .describe("Retries of transient failures (a broker or NameServer down).");

const logSchema = z
  .strictObject({
    level: z
      .enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"])
      .default("info")
      .describe("Least severe level written to the JSON log (stdout). `run --log-level` overrides it."),
  })
  .describe("Logging.");

const metricsSchema = z
  .strictObject({
    listen: checked((v) => {
      const parsed = parseHostPort(v, true);
      return typeof parsed === "string" ? parsed : undefined;
    })
      .default("127.0.0.1:9464")
      .describe(
        "host:port of the HTTP endpoint serving /metrics (Prometheus), status and health. Port 0 picks a free port.",
      )
      .meta({ examples: ["0.0.0.0:9464"] }),
    token: secret(
      "Bearer token that /api/status and the status page require (Authorization: Bearer <token>; a browser may give it as the password of HTTP Basic auth, any user name). Usually from the environment or a file. /healthz and /readyz stay open, for probes. Default: no token, which is safe only while `listen` is loopback.",
    ).meta({ examples: ["${CONNECTOR_STATUS_TOKEN}", { file: "/var/run/secrets/connector/status-token" }] }),
    protectMetrics: z
      .boolean()
      .default(false)
      .describe(
        "With `token`: /metrics requires it too (Prometheus: `authorization: { credentials_file: ... }` in the scrape config). Default false: /metrics stays open, as Prometheus scrapes usually are.",
      ),
    lagRefreshIntervalMs: int(100, 600_000)
      .default(5000)
      .describe(
        "How often the lag of each source queue (max offset minus committed) is measured, in milliseconds.",
      ),
  })
  .describe("Monitoring.");

const probesSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        "Send heartbeat probes: per route, a small message written into the source cluster's topic `rocketmq-connector-probe` (created if missing), replicated along the same path as the route's data into the same topic on the target cluster (never into user topics), so the route's latency and liveness are measured even when no user message flows.",
      ),
    intervalMs: int(100, 3_600_000)
      .default(1000)
      .describe("Time between two probes of a route, in milliseconds."),
  })
  .describe("Heartbeat probes (per-route latency and last probe age, also without user traffic).");

/** The whole file, as written (before cross-field checks and resolution). */
export const configSchema = z
  .strictObject({
    name: z
      .string()
      .regex(
        CONNECTOR_NAME_PATTERN,
        "must be 1-120 of letters, digits, _ and - (it is the consumer group name)",
      )
      .describe(
        "Name of the connector. It is also the consumer group on every source cluster that holds the replication progress, so processes with the same name share the work and renaming it restarts from each route's `start`.",
      )
      .meta({ examples: ["east-to-west"] }),
    clusters: z
      .record(z.string(), clusterSchema)
      .describe(
        `The RocketMQ clusters routes refer to, by key (a key is ${CLUSTER_NAME_PATTERN.source.slice(1, -1)}).`,
      )
      .meta({ examples: [{ east: { namesrv: "10.0.0.1:9876" }, west: { namesrv: "10.1.0.1:9876" } }] }),
    routes: z.array(routeSchema).min(1).describe("What to replicate: at least one route."),
    delivery: z
      .enum(["at-least-once", "exactly-once"])
      .default("at-least-once")
      .describe(
        'Delivery guarantee. "at-least-once": a source offset is committed only after the target acknowledged the message and all before it, so a crash may replicate a message twice, never lose one. "exactly-once": every source message is stored in the target once, in order per source queue, across crashes, broker restarts and cut connections (docs/exactly-once.md says how, and what it does not cover); checkpoints are kept in the topic RMQC_CHECKPOINT_<name> of each target cluster.',
      ),
    exactlyOnce: exactlyOnceSchema.prefault({}),
    pull: pullSchema.prefault({}),
    send: sendSchema.prefault({}),
    limits: limitsSchema.prefault({}),
    commit: commitSchema.prefault({}),
    retry: retrySchema.prefault({}),
    log: logSchema.prefault({}),
    metrics: metricsSchema.prefault({}),
    probes: probesSchema.prefault({}),
  })
  .describe("rmq-connector configuration file (YAML or JSON).");

/** The file as written, after defaults: what zod returns. */
export type RawConfig = z.output<typeof configSchema>;
