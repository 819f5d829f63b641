/**
 * The resolved configuration: every default applied, every value in the type the engine uses
 * (NameServer lists split, regexes compiled, timestamps in epoch ms), frozen. It satisfies the
 * engine's EngineConfig structurally; this layer does not import the engine.
 */

/** A route's source topic: one name, or a regex over the cluster's topic names. */
export type TopicSelector =
  | { readonly kind: "name"; readonly name: string }
  | { readonly kind: "regex"; readonly pattern: string; readonly regex: RegExp };

/** Where a source queue starts the first time the connector takes it. */
export type StartPosition =
  | { readonly kind: "latest" }
  | { readonly kind: "earliest" }
  /** `timestampMs` in epoch milliseconds; `text` as written in the file. */
  | { readonly kind: "timestamp"; readonly timestampMs: number; readonly text: string };

/** A RocketMQ cluster. */
export interface ClusterConfig {
  /** Its key in `clusters`. */
  readonly name: string;
  /** NameServer addresses, `host:port` each (IPv6 as `[::1]:9876`). */
  readonly namesrv: readonly string[];
  /** ACL credentials: both or neither. */
  readonly accessKey?: string;
  readonly secretKey?: string;
  /** ACL security token; only with accessKey and secretKey. */
  readonly securityToken?: string;
  /** TLS to NameServers and brokers, or false. */
  readonly tls: TlsConfig | false;
  /** Per request, default 3000. */
  readonly requestTimeoutMs: number;
  /** Announced `host:port` -> `host:port` to dial (docs/networking.md). Absent: no translation. */
  readonly addressMap?: Readonly<Record<string, string>>;
}

/** TLS to a cluster, with its PEM files read. */
export interface TlsConfig {
  /** Verify the servers' certificates (CA and name). */
  readonly verify: boolean;
  /** PEM of the trusted CAs; absent: the system's. */
  readonly ca?: string;
  /** PEM of the client certificate (mutual TLS), with key. */
  readonly cert?: string;
  /** PEM of the client key; not enumerable, so a dumped config never shows it. */
  readonly key?: string;
  /** The name certificates must hold (and SNI); absent: the host dialled for. */
  readonly serverName?: string;
  /** Absolute paths of the files read, for what plan and status print. */
  readonly files: { readonly ca?: string; readonly cert?: string; readonly key?: string };
}

/** One route, resolved. */
export interface RouteConfig {
  /** Position in the file's `routes` list (0-based). */
  readonly index: number;
  /** As written, or derived: `east:orders->west:orders-dr`. */
  readonly name: string;
  readonly from: {
    readonly cluster: string;
    readonly topic: TopicSelector;
    /** Tag expression, "*" for all. */
    readonly tags: string;
  };
  readonly to: {
    readonly cluster: string;
    /** Target topic template; `${topic}` stands for the source topic. */
    readonly topic: string;
    readonly createTopic: boolean;
    /** The target topic for a source topic (applies the template). */
    targetTopic(sourceTopic: string): string;
  };
  readonly start: StartPosition;
  readonly deadLetterTopic?: string;
  readonly includeSystemTopics: boolean;
  readonly topicRefreshIntervalMs: number;
  /** Heartbeat probes of this route: the global `probes` with the route's override applied. */
  readonly probes: ProbeSettings;
}

/** Heartbeat probes: on or off, and the time between two probes of a route. */
export interface ProbeSettings {
  readonly enabled: boolean;
  readonly intervalMs: number;
}

/** The whole configuration, frozen. */
export interface ConnectorConfig {
  /** The file it was read from (as given to loadConfig/parseConfig). */
  readonly source: string;
  /** Connector name and consumer group. */
  readonly name: string;
  readonly clusters: Readonly<Record<string, ClusterConfig>>;
  readonly routes: readonly RouteConfig[];
  readonly delivery: "at-least-once" | "exactly-once";
  readonly exactlyOnce: { readonly deadAfterMs: number };
  readonly pull: { readonly batchSize: number; readonly suspendTimeoutMs: number; readonly lingerMs: number };
  readonly send: {
    readonly batchMaxMessages: number;
    readonly batchMaxBytes: number;
    readonly timeoutMs: number;
  };
  readonly limits: {
    readonly inFlightMessagesPerQueue: number;
    readonly inFlightBytesPerQueue: number;
    readonly inFlightBytesTotal: number;
  };
  readonly commit: { readonly intervalMs: number };
  readonly retry: { readonly initialBackoffMs: number; readonly maxBackoffMs: number };
  readonly log: { readonly level: "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent" };
  readonly metrics: {
    readonly listen: string;
    readonly host: string;
    readonly port: number;
    /** Bearer token of /api/status and the page (and /metrics with protectMetrics); not enumerable. */
    readonly token?: string;
    readonly protectMetrics: boolean;
    readonly lagRefreshIntervalMs: number;
  };
  /** Global heartbeat probe settings (each route's effective ones are in `routes[].probes`). */
  readonly probes: ProbeSettings;
  /** Shortest `topicRefreshIntervalMs` of any route: the engine refreshes all routes together. */
  readonly topicRefreshIntervalMs: number;
  /** = metrics.lagRefreshIntervalMs. */
  readonly lagRefreshIntervalMs: number;
}
