// parseConfig: defaults, resolved types, interpolation rules, templates, freezing; and that the
// result is what the engine reads (EngineConfig), checked by the compiler below.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, parseConfig, type ConnectorConfig } from "../../src/config/index.js";
import { interpolate } from "../../src/config/interpolate.js";
import type { EngineConfig } from "../../src/connector/engine-config.js";

const BASE = `name: t
clusters:
  east: { namesrv: "127.0.0.1:9876;127.0.0.1:9877" }
  west: { namesrv: ["127.0.0.1:9878"] }
`;

function issues(text: string, env: Record<string, string> = {}): string[] {
  try {
    parseConfig(text, "f.yaml", env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.issues.map((i) => `${i.line}:${i.col}  ${i.path}  ${i.message}`);
  }
  assert.fail("expected a ConfigError");
}

test("a minimal config gets every default, typed", () => {
  const c = parseConfig(
    `${BASE}routes:\n  - from: { cluster: east, topic: orders }\n    to: { cluster: west }\n`,
    "f.yaml",
    {},
  );
  assert.deepEqual(c.clusters.east?.namesrv, ["127.0.0.1:9876", "127.0.0.1:9877"]);
  assert.deepEqual(c.clusters.west?.namesrv, ["127.0.0.1:9878"]);
  assert.equal(c.clusters.east?.requestTimeoutMs, 3000);
  assert.equal(c.clusters.east?.tls, false);
  const r = c.routes[0];
  assert.ok(r);
  assert.equal(r.index, 0);
  assert.equal(r.name, "east:orders->west:orders");
  assert.deepEqual(r.from.topic, { kind: "name", name: "orders" });
  assert.equal(r.from.tags, "*");
  assert.equal(r.to.topic, "orders");
  assert.equal(r.to.targetTopic("orders"), "orders");
  assert.equal(r.to.createTopic, true);
  assert.deepEqual(r.start, { kind: "latest" });
  assert.equal(r.deadLetterTopic, undefined);
  assert.equal(r.includeSystemTopics, false);
  assert.equal(c.delivery, "at-least-once");
  assert.deepEqual(c.pull, { batchSize: 32, suspendTimeoutMs: 15000, lingerMs: 0 });
  assert.deepEqual(c.send, { batchMaxMessages: 64, batchMaxBytes: 1024 * 1024, timeoutMs: 5000 });
  assert.deepEqual(c.limits, {
    inFlightMessagesPerQueue: 128,
    inFlightBytesPerQueue: 4 * 1024 * 1024,
    inFlightBytesTotal: 128 * 1024 * 1024,
  });
  assert.deepEqual(c.commit, { intervalMs: 1000 });
  assert.deepEqual(c.retry, { initialBackoffMs: 200, maxBackoffMs: 10000 });
  assert.deepEqual(c.log, { level: "info" });
  assert.deepEqual(c.metrics, {
    listen: "127.0.0.1:9464",
    host: "127.0.0.1",
    port: 9464,
    protectMetrics: false,
    lagRefreshIntervalMs: 5000,
  });
  assert.equal(c.topicRefreshIntervalMs, 30000);
  // What the engine reads: a compile-time check that ConnectorConfig satisfies EngineConfig.
  const engine: EngineConfig = c;
  assert.equal(engine.name, "t");
});

test("regex routes, templates, timestamps and route options resolve to typed values", () => {
  const c = parseConfig(
    `${BASE}routes:
  - from: { cluster: east, topic: "/^pay-.*/i", tags: "TagA || TagB" }
    to: { cluster: west, topic: "east_\${topic}_dr", createTopic: false }
    start: "2026-11-01T08:00:00+08:00"
    deadLetterTopic: dlq
    includeSystemTopics: true
    topicRefreshIntervalMs: 5000
  - name: everything
    from: { cluster: west, topic: "/.*/" }
    to: { cluster: east }
    start: earliest
`,
    "f.yaml",
    {},
  );
  const [a, b] = c.routes;
  assert.ok(a && b);
  assert.equal(a.from.topic.kind, "regex");
  if (a.from.topic.kind === "regex") {
    assert.equal(a.from.topic.pattern, "^pay-.*");
    assert.ok(a.from.topic.regex.test("PAY-1"));
    assert.ok(!a.from.topic.regex.test("orders"));
  }
  assert.equal(a.to.topic, "east_${topic}_dr");
  assert.equal(a.to.targetTopic("pay-1"), "east_pay-1_dr");
  assert.equal(a.to.createTopic, false);
  assert.deepEqual(a.start, {
    kind: "timestamp",
    timestampMs: Date.UTC(2026, 10, 1, 0, 0, 0),
    text: "2026-11-01T08:00:00+08:00",
  });
  assert.equal(a.deadLetterTopic, "dlq");
  assert.equal(a.includeSystemTopics, true);
  assert.equal(a.name, "east:/^pay-.*/i->west:east_${topic}_dr");
  assert.equal(b.name, "everything");
  assert.equal(b.index, 1);
  assert.equal(b.to.topic, "${topic}");
  assert.equal(b.to.targetTopic("x"), "x");
  assert.deepEqual(b.start, { kind: "earliest" });
  // The engine refreshes all routes at the shortest interval.
  assert.equal(c.topicRefreshIntervalMs, 5000);
});

test("the result is frozen, and the secret key does not show in dumps", () => {
  const c: ConnectorConfig = parseConfig(
    `${BASE.replace('east: { namesrv: "127.0.0.1:9876;127.0.0.1:9877" }', 'east: { namesrv: "127.0.0.1:9876", accessKey: "${AK}", secretKey: "${SK}" }')}routes:\n  - from: { cluster: east, topic: orders }\n    to: { cluster: west }\n`,
    "f.yaml",
    { AK: "ak", SK: "s3cret" },
  );
  assert.ok(
    Object.isFrozen(c) &&
      Object.isFrozen(c.routes) &&
      Object.isFrozen(c.routes[0]?.from) &&
      Object.isFrozen(c.clusters.east),
  );
  assert.throws(() => {
    (c as { name: string }).name = "x";
  }, TypeError);
  assert.equal(c.clusters.east?.accessKey, "ak");
  assert.equal(c.clusters.east?.secretKey, "s3cret");
  assert.ok(!JSON.stringify(c).includes("s3cret"));
});

test("JSON is accepted (it is YAML), with positions", () => {
  const json = JSON.stringify({
    name: "j",
    clusters: { a: { namesrv: "h:1" } },
    routes: [{ from: { cluster: "a", topic: "t" }, to: { cluster: "a", topic: "u" } }],
  });
  assert.equal(parseConfig(json, "f.json", {}).routes[0]?.to.targetTopic("t"), "u");
  const bad = `{\n  "name": "j",\n  "clusters": { "a": { "namesrv": "h:1" } },\n  "routes": [{ "from": { "cluster": "b", "topic": "t" }, "to": { "cluster": "a" } }]\n}\n`;
  assert.deepEqual(issues(bad), ['4:37  routes[0].from.cluster  unknown cluster "b" (defined: a)']);
});

test("interpolation: defaults, required, empty, escapes, and ${topic} untouched", () => {
  const env = { SET: "v", EMPTY: "" };
  assert.equal(interpolate("${SET}", env).value, "v");
  assert.equal(interpolate("a${SET}b${SET}", env).value, "avbv");
  assert.equal(interpolate("${UNSET:-d}", env).value, "d");
  assert.equal(interpolate("${EMPTY:-d}", env).value, "d");
  assert.equal(interpolate("${EMPTY-d}", env).value, "");
  assert.equal(interpolate("${UNSET-d}", env).value, "d");
  assert.equal(interpolate("${UNSET:-}", env).value, "");
  assert.equal(interpolate("${EMPTY}", env).value, "");
  assert.deepEqual(interpolate("${EMPTY}", env).errors, []);
  assert.equal(interpolate("$${SET}", env).value, "${SET}");
  assert.equal(interpolate("east_${topic}", env).value, "east_${topic}");
  assert.deepEqual(
    interpolate("x${UNSET}", env).errors.map((e) => [e.index, e.expression, e.message]),
    [[1, "${UNSET}", "environment variable UNSET is not set (a default: ${UNSET:-default})"]],
  );
  assert.equal(
    interpolate("${EMPTY:?give it}", env).errors[0]?.message,
    "environment variable EMPTY is empty: give it",
  );
  assert.deepEqual(interpolate("${EMPTY?give it}", env).errors, []);
  assert.equal(
    interpolate("${UNSET:?}", env).errors[0]?.message,
    "environment variable UNSET is not set and is required",
  );
});

test("an env value cannot change the YAML structure; unquoted values are re-typed like YAML", () => {
  const c = parseConfig(
    `name: \${NAME}
clusters:
  east:
    namesrv: \${NS}
    requestTimeoutMs: \${TIMEOUT:-4000}
    tls: \${TLS:-false}
    accessKey: \${AK}
    secretKey: "\${SK}"
routes:
  - from: { cluster: east, topic: orders }
    to: { cluster: east, topic: "orders_copy" }
# a comment with \${NOT_SET} is not interpolated
`,
    "f.yaml",
    { NAME: "n", NS: "h:1", TLS: "true", AK: "ak", SK: "a: b # c\n- d" },
  );
  assert.equal(c.clusters.east?.requestTimeoutMs, 4000);
  assert.deepEqual(c.clusters.east?.tls, { verify: true, files: {} });
  assert.equal(c.clusters.east?.secretKey, "a: b # c\n- d");
  // A number-looking secret is re-typed as YAML would, and the schema then says it must be a string.
  assert.deepEqual(
    issues(
      `${BASE}    accessKey: \${AK}\n    secretKey: x\nroutes:\n  - from: { cluster: west, topic: o }\n    to: { cluster: east }\n`.replace(
        'west: { namesrv: ["127.0.0.1:9878"] }\n',
        'west:\n    namesrv: "127.0.0.1:9878"\n',
      ),
      { AK: "123" },
    ),
    [
      "6:16  clusters.west.accessKey  must be a string or a mapping, not a number (quote the value to keep it a string)",
    ],
  );
});

test("a lower-case ${name} outside a template is an error, not a silent literal", () => {
  assert.deepEqual(
    issues(
      `${BASE}routes:\n  - from: { cluster: east, topic: orders }\n    to: { cluster: west }\n    deadLetterTopic: "dlq_\${env}"\n`,
    ),
    [
      '8:27  routes[0].deadLetterTopic  ${env} is not interpolated: environment variable names are UPPER_CASE ([A-Z_][A-Z0-9_]*); write $${ for a literal "${"',
    ],
  );
});

test("cross-field rules: duplicate source topic, duplicate route names, key pairs, limits", () => {
  assert.deepEqual(
    issues(`${BASE}  solo: { namesrv: "h:1", accessKey: ak }
routes:
  - { name: r, from: { cluster: east, topic: orders }, to: { cluster: west } }
  - { name: r, from: { cluster: east, topic: orders }, to: { cluster: west, topic: o2 } }
  - from: { cluster: east, topic: a }
    to: { cluster: west }
    deadLetterTopic: a
retry: { initialBackoffMs: 500, maxBackoffMs: 100 }
limits: { inFlightBytesPerQueue: 2097152, inFlightBytesTotal: 1048576 }
`),
    [
      "5:27  clusters.solo.accessKey  accessKey and secretKey go together: give both or neither",
      '8:13  routes[1].name  route name "r" is already used by routes[0]; give each route a unique name',
      '8:46  routes[1].from.topic  topic orders of cluster "east" is already replicated by routes[0]; one source topic, one route (replication progress is per source queue)',
      "11:22  routes[2].deadLetterTopic  is the route's target topic; dead letters need a topic of their own",
      "12:47  retry.maxBackoffMs  must be >= retry.initialBackoffMs (500)",
      "13:63  limits.inFlightBytesTotal  must be >= limits.inFlightBytesPerQueue (2097152)",
    ],
  );
});

test("missing keys, wrong types, bad addresses and the empty file", () => {
  assert.deepEqual(issues(""), [
    "1:1  (root)  the file is empty; a config needs at least name, clusters and routes",
  ]);
  assert.deepEqual(issues("- a\n"), ["1:1  (root)  must be a mapping, not a list"]);
  assert.deepEqual(
    issues(
      `name: t\nclusters:\n  a: { namesrv: "[::1]:9876;host" }\nroutes:\n  - from: { cluster: a }\n    to: { cluster: a, topic: x }\nmetrics: { listen: "0.0.0.0" }\n`,
    ),
    [
      '3:17  clusters.a.namesrv  "host" is not host:port (IPv6 as [::1]:9876)',
      "5:11  routes[0].from.topic  is required (a string)",
      '7:20  metrics.listen  "0.0.0.0" is not host:port (IPv6 as [::1]:9876)',
    ],
  );
});
