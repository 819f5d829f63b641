/**
 * What the engine reads from the configuration. The config layer's ConnectorConfig satisfies it;
 * tests may build one directly.
 */
import type { TlsConfig } from "../config/types.js";

export type TopicSelector =
  { kind: "name"; name: string } | { kind: "regex"; pattern: string; regex: RegExp };

export type StartPosition =
  { kind: "latest" } | { kind: "earliest" } | { kind: "timestamp"; timestampMs: number };

export interface EngineRoute {
  name: string;
  from: { cluster: string; topic: TopicSelector; tags: string };
  to: { cluster: string; createTopic: boolean; targetTopic(sourceTopic: string): string };
  start: StartPosition;
  deadLetterTopic?: string | undefined;
  includeSystemTopics: boolean;
  /** Per-route override of the global heartbeat probe settings. */
  probes?: { enabled?: boolean; intervalMs?: number } | undefined;
}

/** Heartbeat probes (src/connector/probes.ts). */
export interface EngineProbes {
  enabled: boolean;
  /** Time between two probes of a route. */
  intervalMs: number;
}

/** A cluster's connection settings; clients are built from them by src/config/client-options.ts. */
export interface EngineCluster {
  namesrv: readonly string[];
  requestTimeoutMs?: number;
  /** TLS: true (system CAs, verified) or the resolved settings (config's TlsConfig). */
  tls?: boolean | TlsConfig;
  /** Address translation for this cluster's NameServers and brokers (ClientOptions.addressMap). */
  addressMap?: Readonly<Record<string, string>> | undefined;
  accessKey?: string | undefined;
  secretKey?: string | undefined;
  securityToken?: string | undefined;
}

export interface EngineConfig {
  name: string;
  clusters: Readonly<Record<string, EngineCluster>>;
  routes: readonly EngineRoute[];
  pull: { batchSize: number; suspendTimeoutMs: number; lingerMs?: number };
  send: { batchMaxMessages: number; batchMaxBytes: number; timeoutMs: number };
  limits: { inFlightMessagesPerQueue: number; inFlightBytesPerQueue: number; inFlightBytesTotal: number };
  commit: { intervalMs: number };
  /** Absent means at-least-once. */
  delivery?: "at-least-once" | "exactly-once" | undefined;
  /**
   * When this connector's writing began, ms since the epoch (default: the engine's creation).
   * Exactly-once counts Assumption D from it: no write of an earlier process, or of an earlier
   * engine in this process, was made after it. `run` passes the process's start, since a process
   * is started only after the one it replaces ended (docs/exactly-once.md).
   */
  startedAtMs?: number | undefined;
  /** Exactly-once settings (the config file sets deadAfterMs; tests may shorten refreshIdleMs). */
  exactlyOnce?: { deadAfterMs?: number; refreshIdleMs?: number } | undefined;
  retry: { initialBackoffMs: number; maxBackoffMs: number };
  topicRefreshIntervalMs: number;
  lagRefreshIntervalMs: number;
  log?: { level: string };
  /**
   * Heartbeat probes. Absent means off (tests and embedders opt in); the config file's default
   * (src/config/schema.ts) is on.
   */
  probes?: EngineProbes | undefined;
}
