/**
 * Checks that need more than one value (a route's cluster exists, a template gives valid topic
 * names, no route loops onto itself), and the resolution of a valid file into ConnectorConfig.
 *
 * crossCheck runs on the data as written even when the schema failed, so one pass reports
 * everything; it therefore trusts no shape and skips what the schema already flagged (a
 * non-string cluster, an invalid regex).
 */
import {
  applyTemplate,
  CLUSTER_NAME_PATTERN,
  compileTopicRegex,
  parseHostPort,
  parseTimestamp,
  sourceTopicProblem,
  splitNamesrv,
  splitRegexLiteral,
  TEMPLATE_VARIABLE,
  templateProblem,
  topicNameProblem,
} from "./names.js";
import type { ClusterFiles } from "./files.js";

/** What the config's files held: each cluster's credentials and TLS, and the HTTP token. */
export interface ConfigFiles {
  readonly clusters: Readonly<Record<string, ClusterFiles>>;
  readonly metricsToken?: string | undefined;
}
import type { RawConfig } from "./schema.js";
import type { ClusterConfig, ConnectorConfig, RouteConfig, StartPosition, TopicSelector } from "./types.js";

/** A path into the config: keys and list indexes. */
export type ConfigPath = readonly (string | number)[];

/** Receives one problem; `at: "key"` places it on the key rather than on its value. */
export type Report = (path: ConfigPath, message: string, at?: "key" | "value") => void;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** The sample source topic used to check a regex route's template (its real topics are unknown until run time). */
const SAMPLE_TOPIC = "t";

/** Cross-field checks on `data` (parsed YAML, any shape). */
export function crossCheck(data: unknown, report: Report): void {
  if (!isObject(data)) return;
  const clusters = isObject(data.clusters) ? data.clusters : undefined;
  const clusterNames = clusters === undefined ? undefined : Object.keys(clusters);
  if (isObject(data.metrics) && data.metrics.protectMetrics === true && data.metrics.token === undefined)
    report(
      ["metrics", "protectMetrics"],
      "protectMetrics needs metrics.token: there is no token to require",
      "key",
    );

  for (const [key, cluster] of Object.entries(clusters ?? {})) {
    if (!CLUSTER_NAME_PATTERN.test(key)) {
      report(["clusters", key], "cluster names are 1-64 of letters, digits, _ and -", "key");
    }
    if (isObject(cluster)) {
      const hasAk = cluster.accessKey !== undefined;
      const hasSk = cluster.secretKey !== undefined;
      if (hasAk !== hasSk) {
        report(
          ["clusters", key, hasAk ? "accessKey" : "secretKey"],
          "accessKey and secretKey go together: give both or neither",
          "key",
        );
      }
      if (cluster.securityToken !== undefined && !hasAk && !hasSk) {
        report(["clusters", key, "securityToken"], "securityToken needs accessKey and secretKey", "key");
      }
    }
  }

  const retry = isObject(data.retry) ? data.retry : {};
  if (
    typeof retry.initialBackoffMs === "number" &&
    typeof retry.maxBackoffMs === "number" &&
    retry.maxBackoffMs < retry.initialBackoffMs
  ) {
    report(["retry", "maxBackoffMs"], `must be >= retry.initialBackoffMs (${retry.initialBackoffMs})`);
  }
  const limits = isObject(data.limits) ? data.limits : {};
  if (
    typeof limits.inFlightBytesPerQueue === "number" &&
    typeof limits.inFlightBytesTotal === "number" &&
    limits.inFlightBytesTotal < limits.inFlightBytesPerQueue
  ) {
    report(
      ["limits", "inFlightBytesTotal"],
      `must be >= limits.inFlightBytesPerQueue (${limits.inFlightBytesPerQueue})`,
    );
  }

  if (!Array.isArray(data.routes)) return;
  const sourceOwners = new Map<string, number>();
  const names = new Map<string, number>();
  data.routes.forEach((route: unknown, i) => {
    if (!isObject(route)) return;
    const at = (...rest: (string | number)[]): ConfigPath => ["routes", i, ...rest];
    const from = isObject(route.from) ? route.from : {};
    const to = isObject(route.to) ? route.to : {};
    const fromCluster = str(from.cluster);
    const toCluster = str(to.cluster);
    for (const [side, cluster] of [
      ["from", fromCluster],
      ["to", toCluster],
    ] as const) {
      if (cluster !== undefined && clusterNames !== undefined && !clusterNames.includes(cluster)) {
        const known = clusterNames.length === 0 ? "none is defined" : `defined: ${clusterNames.join(", ")}`;
        report(at(side, "cluster"), `unknown cluster "${cluster}" (${known})`);
      }
    }

    const sourceText = str(from.topic);
    const sourceValid = sourceText !== undefined && sourceTopicProblem(sourceText) === undefined;
    const isRegex = sourceText !== undefined && splitRegexLiteral(sourceText) !== undefined;
    const template = to.topic === undefined ? (isRegex ? TEMPLATE_VARIABLE : sourceText) : str(to.topic);
    if (
      !sourceValid ||
      sourceText === undefined ||
      template === undefined ||
      templateProblem(template) !== undefined
    )
      return;

    const sample = isRegex ? SAMPLE_TOPIC : sourceText;
    const target = applyTemplate(template, sample);
    const problem = topicNameProblem(target);
    if (problem !== undefined) {
      const what = isRegex ? `for a source topic "${SAMPLE_TOPIC}" gives` : "gives";
      report(at("to", "topic"), `${what} target topic "${target}", which ${problem}`);
    }
    const identity = isRegex ? template === TEMPLATE_VARIABLE : target === sourceText;
    if (fromCluster !== undefined && fromCluster === toCluster && identity) {
      report(
        at("to", isRegex || to.topic !== undefined ? "topic" : "cluster"),
        `replicates cluster "${fromCluster}" topic ${sourceText} onto itself: messages would loop; give a different target topic or cluster`,
      );
    }
    const dlq = str(route.deadLetterTopic);
    if (dlq !== undefined && !isRegex && dlq === target) {
      report(at("deadLetterTopic"), "is the route's target topic; dead letters need a topic of their own");
    }

    if (!isRegex && fromCluster !== undefined) {
      // One consumer group holds every route's progress, so two routes reading the same topic
      // would share (and overwrite) each other's offsets.
      const key = `${fromCluster}\u0000${sourceText}`;
      const owner = sourceOwners.get(key);
      if (owner !== undefined) {
        report(
          at("from", "topic"),
          `topic ${sourceText} of cluster "${fromCluster}" is already replicated by routes[${owner}]; one source topic, one route (replication progress is per source queue)`,
        );
      } else {
        sourceOwners.set(key, i);
      }
    }
    if (toCluster !== undefined && fromCluster !== undefined) {
      const name = str(route.name) ?? deriveRouteName(fromCluster, sourceText, toCluster, template);
      const owner = names.get(name);
      if (owner !== undefined) {
        report(
          route.name === undefined ? at() : at("name"),
          `route name "${name}" is already used by routes[${owner}]; give each route a unique name`,
        );
      } else {
        names.set(name, i);
      }
    }
  });
}

/** The default route name: `east:orders->west:orders-dr`. */
export function deriveRouteName(
  fromCluster: string,
  fromTopic: string,
  toCluster: string,
  toTemplate: string,
): string {
  return `${fromCluster}:${fromTopic}->${toCluster}:${toTemplate}`;
}

/** The resolved `metrics` section; the token is not enumerable, like every secret. */
function metricsConfig(
  raw: RawConfig["metrics"],
  listen: { host: string; port: number },
  token: string | undefined,
): ConnectorConfig["metrics"] {
  const metrics: ConnectorConfig["metrics"] = {
    listen: raw.listen,
    host: listen.host,
    port: listen.port,
    protectMetrics: raw.protectMetrics,
    lagRefreshIntervalMs: raw.lagRefreshIntervalMs,
  };
  if (token !== undefined) Object.defineProperty(metrics, "token", { value: token, enumerable: false });
  return metrics;
}

/** Deep-freezes plain objects and arrays (a RegExp or a function is left as it is). */
function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !(value instanceof RegExp)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Thrown when buildConfig is given data the checks should have refused (a bug, not bad input). */
function unreachable(what: string): never {
  throw new Error(`config: ${what} passed validation but cannot be resolved`);
}

/** Resolves a schema-valid, cross-checked config into the frozen ConnectorConfig. */
export function buildConfig(raw: RawConfig, source: string, files: ConfigFiles): ConnectorConfig {
  const clusters: Record<string, ClusterConfig> = {};
  for (const [name, c] of Object.entries(raw.clusters)) {
    // Credentials and TLS as read (a `{ file }` replaced by its content, PEM files loaded).
    const read = files.clusters[name] ?? unreachable(`the files of cluster ${name}`);
    const cluster: ClusterConfig = {
      name,
      namesrv: splitNamesrv(c.namesrv).flatMap((entry) => splitNamesrv(entry)),
      ...(read.accessKey === undefined ? {} : { accessKey: read.accessKey }),
      tls: read.tls,
      requestTimeoutMs: c.requestTimeoutMs,
      ...(c.addressMap === undefined ? {} : { addressMap: { ...c.addressMap } }),
    };
    // Not enumerable: a config dumped to a log (JSON.stringify, util.inspect) never shows the secret.
    if (read.secretKey !== undefined)
      Object.defineProperty(cluster, "secretKey", { value: read.secretKey, enumerable: false });
    if (read.securityToken !== undefined)
      Object.defineProperty(cluster, "securityToken", { value: read.securityToken, enumerable: false });
    clusters[name] = cluster;
  }

  const routes = raw.routes.map((r, index): RouteConfig => {
    const literal = splitRegexLiteral(r.from.topic);
    let topic: TopicSelector;
    if (literal === undefined) {
      topic = { kind: "name", name: r.from.topic };
    } else {
      const regex = compileTopicRegex(literal);
      if (typeof regex === "string") unreachable(`regex ${r.from.topic}`);
      topic = { kind: "regex", pattern: literal.pattern, regex };
    }
    const template = r.to.topic ?? (topic.kind === "regex" ? TEMPLATE_VARIABLE : topic.name);
    let start: StartPosition;
    if (r.start === "latest" || r.start === "earliest") {
      start = { kind: r.start };
    } else {
      const timestampMs = parseTimestamp(r.start);
      if (typeof timestampMs === "string") unreachable(`start ${r.start}`);
      start = { kind: "timestamp", timestampMs, text: r.start };
    }
    return {
      index,
      name: r.name ?? deriveRouteName(r.from.cluster, r.from.topic, r.to.cluster, template),
      from: { cluster: r.from.cluster, topic, tags: r.from.tags },
      to: {
        cluster: r.to.cluster,
        topic: template,
        createTopic: r.to.createTopic,
        targetTopic: (sourceTopic: string) => applyTemplate(template, sourceTopic),
      },
      start,
      ...(r.deadLetterTopic === undefined ? {} : { deadLetterTopic: r.deadLetterTopic }),
      includeSystemTopics: r.includeSystemTopics,
      topicRefreshIntervalMs: r.topicRefreshIntervalMs,
      probes: {
        enabled: r.probes?.enabled ?? raw.probes.enabled,
        intervalMs: r.probes?.intervalMs ?? raw.probes.intervalMs,
      },
    };
  });

  const listen = parseHostPort(raw.metrics.listen, true);
  if (typeof listen === "string") unreachable(`metrics.listen ${raw.metrics.listen}`);

  return deepFreeze({
    source,
    name: raw.name,
    clusters,
    routes,
    delivery: raw.delivery,
    exactlyOnce: { ...raw.exactlyOnce },
    pull: { ...raw.pull },
    send: { ...raw.send },
    limits: { ...raw.limits },
    commit: { ...raw.commit },
    retry: { ...raw.retry },
    log: { ...raw.log },
    metrics: metricsConfig(raw.metrics, listen, files.metricsToken),
    probes: { ...raw.probes },
    topicRefreshIntervalMs: Math.min(...routes.map((r) => r.topicRefreshIntervalMs)),
    lagRefreshIntervalMs: raw.metrics.lagRefreshIntervalMs,
  });
}
