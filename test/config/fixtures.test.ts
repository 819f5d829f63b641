// Every bad-config fixture gives exactly its expected problems (line:col of the original file,
// path, message), all at once; every file in examples/ is valid.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../src/config/index.js";
import { repoRoot } from "../../scripts/gen-config-docs.js";

const root = repoRoot();
const fixtures = join(root, "test", "fixtures", "config");

/** `line:col  path  message`, or a RegExp for messages that quote the JS engine's own wording. */
type Expected = string | RegExp;

const EXPECTED: Record<string, Expected[]> = {
  "bad-unknown-keys.yaml": [
    '4:38  clusters.east.acessKey  unknown key "acessKey"',
    '9:5  routes[0].strat  unknown key "strat"',
    '10:1  deliverySemantics  unknown key "deliverySemantics"',
  ],
  "bad-unknown-cluster.yaml": ['8:20  routes[0].to.cluster  unknown cluster "wets" (defined: east, west)'],
  "bad-regex.yaml": [
    /^7:35 {2}routes\[0\]\.from\.topic {2}is not a valid regular expression: .*\/\^pay-\(\.\*\//,
  ],
  "bad-timestamp.yaml": [
    '9:12  routes[0].start  "2026-02-30T00:00:00Z" is not a valid date and time',
    '12:12  routes[1].start  "2026-11-01 00:00" is not latest, earliest or an ISO-8601 timestamp with a zone, e.g. 2026-11-01T00:00:00Z',
  ],
  "bad-env-required.yaml": [
    "6:17  clusters.east.accessKey  environment variable EAST_AK is not set: set EAST_AK to the east access key",
    "7:17  clusters.east.secretKey  environment variable EAST_SK is not set: set EAST_SK to the east secret key",
  ],
  "bad-env-unset.yaml": [
    "4:21  clusters.east.namesrv  environment variable EAST_NAMESRV is not set (a default: ${EAST_NAMESRV:-default})",
  ],
  "bad-yaml-syntax.yaml": [
    "5:3  (file)  Flow map in block collection must be sufficiently indented and end with a }",
  ],
  "bad-exactly-once.yaml": [
    "10:29  exactlyOnce.deadAfterMs  must be >= 100",
    '10:33  exactlyOnce.fencing  unknown key "fencing"',
  ],
  "bad-tags.yaml": [
    '7:49  routes[0].from.tags  tag "TagA | TagB" contains "|"; separate tags with "||"',
    '9:51  routes[1].from.tags  "||" names no tag and would match nothing; use "*" for all',
  ],
  "bad-target-topic.yaml": [
    '8:33  routes[0].to.topic  for a source topic "t" gives target topic "east.t", which contains "."; RocketMQ topic names allow only letters, digits, %, |, _ and -',
    '10:33  routes[1].to.topic  gives target topic "orders/dr", which contains "/"; RocketMQ topic names allow only letters, digits, %, |, _ and -',
    "12:33  routes[2].to.topic  unknown template variable ${Topic}; the only one is ${topic} (environment variables are UPPER_CASE)",
  ],
  "bad-no-routes.yaml": ["6:9  routes  must not be empty"],
  "bad-duplicate-cluster.yaml": ["6:3  clusters.east  duplicate key: a key may appear once in a mapping"],
  "bad-loop.yaml": [
    '7:20  routes[0].to.cluster  replicates cluster "east" topic orders onto itself: messages would loop; give a different target topic or cluster',
    '9:33  routes[1].to.topic  replicates cluster "east" topic /^pay-.*/ onto itself: messages would loop; give a different target topic or cluster',
  ],
  "bad-address-map.yaml": [
    '8:7  clusters.east.addressMap["10.0.0.6"]  key "10.0.0.6" is not host:port (IPv6 as [::1]:9876)',
    '9:25  clusters.east.addressMap["10.0.0.7:10911"]  "127.0.0.1:99999" has port 99999, outside 1-65535',
    '10:25  clusters.east.addressMap["10.0.0.8:10911"]  must be a string, not a number (quote the value to keep it a string)',
  ],
  "bad-many.yaml": [
    "2:7  name  must be 1-120 of letters, digits, _ and - (it is the consumer group name)",
    '4:20  clusters.east.namesrv  "127.0.0.1:99999" has port 99999, outside 1-65535',
    "5:50  clusters.west.secretKey  environment variable WEST_SK is not set (a default: ${WEST_SK:-default})",
    /^7:35 {2}routes\[0\]\.from\.topic {2}is not a valid regular expression: /,
    '8:20  routes[0].to.cluster  unknown cluster "north" (defined: east, west)',
    '9:12  routes[0].start  "yesterday" is not latest, earliest or an ISO-8601 timestamp with a zone, e.g. 2026-11-01T00:00:00Z',
    '10:49  routes[1].from.tags  tag "A | B" contains "|"; separate tags with "||"',
    '12:5  routes[1].createTopic  unknown key "createTopic"',
    '13:11  delivery  must be one of "at-least-once", "exactly-once"',
    "14:20  pull.batchSize  must be >= 1",
  ],
};

/** Env the examples need (each example documents its variables at the top). */
const EXAMPLE_ENV = { EAST_AK: "east-ak", EAST_SK: "east-sk", WEST_AK: "west-ak", WEST_SK: "west-sk" };

async function issuesOf(file: string): Promise<ConfigError> {
  const err = await loadConfig(file, {}).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError, `${file} should be refused`);
  return err;
}

test("every bad-*.yaml fixture has expectations, and every expectation a fixture", () => {
  const files = readdirSync(fixtures).filter((f) => f.startsWith("bad-"));
  assert.deepEqual(files.sort(), Object.keys(EXPECTED).sort());
});

for (const [name, expected] of Object.entries(EXPECTED)) {
  test(`${name}: every problem, at its line:col, at once`, async () => {
    const file = join(fixtures, name);
    const err = await issuesOf(file);
    assert.equal(err.code, "RMQ_CONFIG");
    assert.equal(err.retriable, false);
    const lines = err.issues.map((i) => `${i.line}:${i.col}  ${i.path}  ${i.message}`);
    assert.equal(lines.length, expected.length, `got:\n${lines.join("\n")}`);
    expected.forEach((e, i) => {
      const line = lines[i] ?? "";
      if (typeof e === "string") assert.equal(line, e);
      else assert.match(line, e);
    });
    // The message is the issues, one per line, each prefixed with the file name.
    assert.deepEqual(
      err.message.split("\n"),
      lines.map((l) => `${file}:${l}`),
    );
    for (const issue of err.issues) assert.equal(issue.file, file);
  });
}

test("every file in examples/ is a valid config (with the env its header documents)", async () => {
  const dir = join(root, "examples");
  const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f));
  assert.ok(files.length >= 4, `examples: ${files.join(", ")}`);
  for (const f of files) {
    const config = await loadConfig(join(dir, f), EXAMPLE_ENV);
    assert.ok(config.routes.length > 0, f);
    assert.ok(Object.isFrozen(config), f);
  }
});

test("examples/with-secrets.yaml names the variables it needs, and fails without them", async () => {
  const err = await issuesOf(join(root, "examples", "with-secrets.yaml"));
  assert.deepEqual(
    err.issues.map((i) => i.message.split(" ")[2]),
    ["EAST_AK", "EAST_SK", "WEST_AK", "WEST_SK"],
  );
});
