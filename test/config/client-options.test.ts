// clientOptions: the one builder of RocketMQClient options from a cluster's settings, used by the
// engine and every command. What a config file says must reach the client whole: namesrv,
// credentials (token included), TLS, the request timeout and the address map.
import { test } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { clientOptions, credentialsProblem } from "../../src/config/client-options.js";
import { ConfigError, parseConfig } from "../../src/config/index.js";
import { RmqError } from "../../src/protocol/errors.js";
import { silentLogger } from "../../src/client/logger.js";

const SECRET = "s3cr3t-value-9f2c";
const TOKEN = "t0ken-value-77ab";

test("every setting of a cluster reaches the client options", () => {
  assert.deepEqual(
    clientOptions({
      namesrv: ["10.0.0.1:9876", "10.0.0.2:9876"],
      accessKey: "AK",
      secretKey: SECRET,
      securityToken: TOKEN,
      tls: true,
      requestTimeoutMs: 4500,
      addressMap: { "10.0.0.5:10911": "127.0.0.1:30911" },
    }),
    {
      namesrv: ["10.0.0.1:9876", "10.0.0.2:9876"],
      requestTimeoutMs: 4500,
      // `tls: true` verifies the servers' certificates against the system's CAs.
      tls: { rejectUnauthorized: true },
      addressMap: { "10.0.0.5:10911": "127.0.0.1:30911" },
      credentials: { accessKey: "AK", secretKey: SECRET, securityToken: TOKEN },
    },
  );
  // Nothing configured, nothing added: the client's own defaults apply.
  assert.deepEqual(clientOptions({ namesrv: "ns:9876" }), { namesrv: "ns:9876" });
  assert.deepEqual(clientOptions({ namesrv: "ns:9876", tls: false, accessKey: "AK", secretKey: SECRET }), {
    namesrv: "ns:9876",
    credentials: { accessKey: "AK", secretKey: SECRET },
  });
  const identity = clientOptions({ namesrv: "ns:9876" }, { logger: silentLogger, instanceName: "c-1" });
  assert.equal(identity.logger, silentLogger);
  assert.equal(identity.instanceName, "c-1");
});

test("a config file's cluster, ${ENV} credentials included, becomes the same options", () => {
  const config = parseConfig(
    `name: t
clusters:
  east:
    namesrv: "127.0.0.1:9876;127.0.0.1:9877"
    accessKey: \${AK}
    secretKey: \${SK}
    securityToken: \${TOKEN}
    tls: true
    requestTimeoutMs: 7000
    addressMap:
      "10.0.0.5:10911": "127.0.0.1:30911"
      10.0.0.1:9876: 127.0.0.1:39876
  west: { namesrv: "127.0.0.1:9878" }
routes:
  - from: { cluster: east, topic: orders }
    to: { cluster: west }
`,
    "f.yaml",
    { AK: "AK", SK: SECRET, TOKEN },
  );
  const east = config.clusters.east;
  const west = config.clusters.west;
  assert.ok(east && west);
  assert.deepEqual(clientOptions(east), {
    namesrv: ["127.0.0.1:9876", "127.0.0.1:9877"],
    requestTimeoutMs: 7000,
    tls: { rejectUnauthorized: true },
    addressMap: { "10.0.0.5:10911": "127.0.0.1:30911", "10.0.0.1:9876": "127.0.0.1:39876" },
    credentials: { accessKey: "AK", secretKey: SECRET, securityToken: TOKEN },
  });
  assert.deepEqual(clientOptions(west), { namesrv: ["127.0.0.1:9878"], requestTimeoutMs: 3000 });
  // The secrets are in the config but never in a dump of it.
  for (const dump of [JSON.stringify(config), inspect(config, { depth: 10 })]) {
    assert.ok(!dump.includes(SECRET) && !dump.includes(TOKEN), dump);
  }
});

test("a config with a token but no keys is refused, naming the key", () => {
  try {
    parseConfig(
      `name: t
clusters:
  east: { namesrv: "127.0.0.1:9876", securityToken: "${TOKEN}" }
routes:
  - from: { cluster: east, topic: orders }
    to: { cluster: east, topic: copy }
`,
      "f.yaml",
      {},
    );
    assert.fail("expected a ConfigError");
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.deepEqual(
      err.issues.map((i) => `${i.path}  ${i.message}`),
      ["clusters.east.securityToken  securityToken needs accessKey and secretKey"],
    );
    assert.ok(!err.message.includes(TOKEN));
  }
});

test("incomplete credentials are refused, naming what is missing and never a value", () => {
  const cases: Array<[Parameters<typeof clientOptions>[0], RegExp]> = [
    [{ namesrv: "ns:1", accessKey: "AK" }, /accessKey is set but secretKey is not/],
    [{ namesrv: "ns:1", secretKey: SECRET }, /secretKey is set but accessKey is not/],
    [{ namesrv: "ns:1", securityToken: TOKEN }, /securityToken is set without accessKey and secretKey/],
  ];
  for (const [cluster, message] of cases) {
    assert.throws(
      () => clientOptions(cluster),
      (err: unknown) => {
        assert.ok(err instanceof RmqError);
        assert.equal(err.code, "RMQ_CONFIG");
        assert.match(err.message, message);
        assert.ok(!err.message.includes(SECRET) && !err.message.includes(TOKEN), err.message);
        return true;
      },
    );
  }
  const envNames = { accessKey: "A_ENV", secretKey: "S_ENV", securityToken: "T_ENV" };
  assert.equal(
    credentialsProblem({ namesrv: "ns:1", accessKey: "AK" }, envNames),
    "A_ENV is set but S_ENV is not: give both or neither",
  );
  assert.equal(credentialsProblem({ namesrv: "ns:1", accessKey: "AK", secretKey: SECRET }), undefined);
});
