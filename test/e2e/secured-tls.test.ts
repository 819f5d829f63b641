/**
 * Replication between two TLS-enforcing clusters (NameServer and broker refuse plain TCP; the
 * sandbox makes a CA and certificates for the run), exactly-once, with the CA given in the
 * config. Then what goes wrong with TLS must say so clearly: plain TCP to a TLS port, a
 * certificate of an unknown CA, a certificate without the expected name, and TLS to a port that
 * does not speak it. produce, consume and plan reach the clusters with --tls-ca and the config.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import type { MessageQueue } from "../../src/client/types.js";
import { clientOptions } from "../../src/config/client-options.js";
import { parseConfig } from "../../src/config/index.js";
import type { EngineConfig } from "../../src/connector/engine-config.js";
import { ReplicationEngine } from "../../src/connector/engine.js";
import { verifyRoutes } from "../../src/connector/verify.js";
import { resolveVersion, startSandbox, type ClusterInfo, type Sandbox } from "../../src/sandbox/index.js";
import { consumedBodies, runCli } from "../helpers/cli.js";
import { startRawPeer } from "../helpers/fake-peer.js";
import { recordingLogger, waitForStatus } from "../helpers/replication.js";
import { uniqueName } from "../helpers/sandbox.js";

const QUEUES = 4;
const MESSAGES = 200;

describe("replication between TLS-enforcing clusters", { timeout: 600_000 }, () => {
  let sandbox: Sandbox | undefined;
  let a: ClusterInfo;
  let b: ClusterInfo;
  let caFile: string;
  const dir = mkdtempSync(join(tmpdir(), "rmq-tls-test-"));
  const clients: RocketMQClient[] = [];

  before(async () => {
    sandbox = await startSandbox({ clusters: 2, tls: true, version: resolveVersion(), namePrefix: "tls" });
    [a, b] = sandbox.info() as [ClusterInfo, ClusterInfo];
    assert.ok(a.tls && b.tls, "the sandbox hands out its CA");
    caFile = a.tls.caFile;
  });
  after(async () => {
    for (const c of clients) c.close();
    await sandbox?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A config file of the two clusters, TLS as given (YAML), and its path. */
  const writeConfig = (name: string, topic: string, tls: string): string => {
    const path = join(dir, `${name}.yaml`);
    writeFileSync(
      path,
      `name: ${name}
delivery: exactly-once
clusters:
  a: { namesrv: "${a.namesrv}", tls: ${tls} }
  b: { namesrv: "${b.namesrv}", tls: ${tls} }
routes:
  - from: { cluster: a, topic: ${topic} }
    to: { cluster: b }
    start: earliest
probes: { enabled: false }
`,
    );
    return path;
  };
  /** A client of cluster a (or `namesrv`) with TLS as a config file writes it. */
  const client = (tls: string, namesrv = a.namesrv): RocketMQClient => {
    const config = parseConfig(
      `name: x\nclusters:\n  a: { namesrv: "${namesrv}", tls: ${tls}, requestTimeoutMs: 4000 }\nroutes:\n  - { from: { cluster: a, topic: t }, to: { cluster: a, topic: u } }\n`,
      join(dir, "client.yaml"),
      {},
    );
    const c = new RocketMQClient(
      clientOptions(config.clusters.a as NonNullable<(typeof config.clusters)["a"]>),
    );
    clients.push(c);
    return c;
  };

  it("replicates exactly once over verified TLS; produce, consume and plan take the CA", async () => {
    const topic = uniqueName("tls");
    const name = uniqueName("tlsc");
    const source = client(`{ ca: "${caFile}" }`);
    await source.admin.createTopic({ topic, queueNums: QUEUES });
    const queues = (await source.admin.getTopicRoute(topic, { refresh: true })).writeQueues();
    for (let i = 0; i < MESSAGES; i++)
      await source
        .producer()
        .send({ topic, body: Buffer.from(`tls-${i}`) }, { queue: queues[i % QUEUES] as MessageQueue });

    const path = writeConfig(name, topic, `{ ca: "${caFile}" }`);
    const loaded = parseConfig(readFileSync(path, "utf8"), path, {});
    const config: EngineConfig = { ...loaded, commit: { intervalMs: 200 } };
    const engine = new ReplicationEngine(config, recordingLogger());
    try {
      await engine.start();
      await waitForStatus(
        engine,
        (s) => s.queues.reduce((n, q) => n + q.replicatedMessages, 0) === MESSAGES,
        60_000,
      );
    } finally {
      await engine.stop();
    }
    const report = await verifyRoutes(config, {
      from: { kind: "earliest" },
      until: "max",
      logger: recordingLogger(),
    });
    assert.ok(report.clean, `verify: ${JSON.stringify(report.totals)}`);
    assert.equal(report.totals.checked, MESSAGES);

    const plan = await runCli(["plan", "--config", path], "", 60_000);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, new RegExp(`${topic} -> ${topic}`));
    const cliTopic = uniqueName("tls-cli");
    await source.admin.createTopic({ topic: cliTopic, queueNums: 1 });
    const tlsFlags = ["--namesrv", a.namesrv, "--tls-ca", caFile];
    const produced = await runCli(["produce", ...tlsFlags, "--topic", cliTopic], "one\ntwo\n", 60_000);
    assert.equal(produced.code, 0, produced.stderr);
    const consumed = await runCli(
      ["consume", ...tlsFlags, "--topic", cliTopic, "--count", "2", "--timeout", "20s"],
      "",
      60_000,
    );
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.deepEqual(consumedBodies(consumed.stdout), ["one", "two"]);
  });

  it("says what is wrong: plain TCP to a TLS port, an unknown CA, a wrong name, TLS to a plain port", async () => {
    const failure = async (c: RocketMQClient): Promise<string> => {
      try {
        await c.admin.getClusterInfo();
      } catch (err) {
        return err instanceof Error ? err.message : String(err);
      }
      return assert.fail("the request succeeded");
    };
    const plain = client("false");
    assert.match(await failure(plain), /if the server only speaks TLS, set tls/);
    const unknownCa = client("true");
    assert.match(
      await failure(unknownCa),
      /over TLS: .*not signed by a trusted CA; give the CA that signed it, tls\.ca/,
    );
    const wrongName = client(`{ ca: "${caFile}", serverName: wrong.example }`);
    assert.match(await failure(wrongName), /over TLS: .*does not name this host/);
    const http = await startRawPeer((socket) => socket.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
    try {
      const toPlain = client(`{ ca: "${caFile}" }`, http.address);
      assert.match(await failure(toPlain), /over TLS: .*the server may not speak TLS on this port/);
    } finally {
      http.close();
    }
  });
});
