/**
 * The config layer: file -> YAML with positions -> env interpolation -> strict schema and
 * cross-field checks -> frozen ConnectorConfig, or one ConfigError listing every problem as
 * `file:line:col  path  message`. docs/configuration.md describes every key.
 */
export { loadConfig, parseConfig, formatPath } from "./load.js";
export { ConfigError, formatIssue, type ConfigIssue } from "./errors.js";
export type { ClusterConfig, ConnectorConfig, RouteConfig, StartPosition, TopicSelector } from "./types.js";
export { configSchema, type RawConfig } from "./schema.js";
export { configJsonSchema, configMarkdown } from "./docs.js";
