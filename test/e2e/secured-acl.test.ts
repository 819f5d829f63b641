/**
 * Replication between two ACL-secured clusters (RocketMQ 5.x ACL 2.0, 4.x ACL 1.0: the sandbox
 * sets up either), exactly-once, with a least-privileged access key on each cluster. While it
 * runs, each permission it needs is taken away in turn (the target topic, the source topic, the
 * consumer group) and the secret is made wrong: each refusal must show as its own error kind,
 * "denied", on the queue, /readyz, the status and the metrics, naming the cluster and what was
 * refused, while the queue keeps its position; once the permission is back, everything arrives
 * once, in order (verify). Nothing may print the secret.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import type { MessageQueue } from "../../src/client/types.js";
import type { EngineConfig } from "../../src/connector/engine-config.js";
import type { QueueStatus, ReplicationEngine } from "../../src/connector/engine.js";
import { checkpointTopic, CheckpointStore } from "../../src/connector/checkpoint-store.js";
import { verifyRoutes } from "../../src/connector/verify.js";
import {
  resolveVersion,
  setAccount,
  startSandbox,
  type ClusterInfo,
  type Sandbox,
  type SandboxAccount,
} from "../../src/sandbox/index.js";
import { httpGet, scrape, total } from "../observability/exposition.js";
import {
  observedEngine,
  readTopic,
  recordingLogger,
  testConfig,
  waitForStatus,
} from "../helpers/replication.js";
import { consumedBodies, runCli, startCli } from "../helpers/cli.js";
import { uniqueName } from "../helpers/sandbox.js";

const ACCESS_KEY = "connector-ak";
const SECRET = "connector-Sk-5e0d1b77-never-print";
const SECURITY_TOKEN = "security-Tok-9a4c02e1-never-print";
const HTTP_TOKEN = "http-Tok-71f3bb08-never-print";
const QUEUES = 4;
const PER_PHASE = 40;

describe("replication between ACL-secured clusters", { timeout: 600_000 }, () => {
  let sandbox: Sandbox | undefined;
  let a: ClusterInfo;
  let b: ClusterInfo;
  const clients: RocketMQClient[] = [];
  const engines: ReplicationEngine[] = [];

  before(async () => {
    sandbox = await startSandbox({ clusters: 2, acl: true, version: resolveVersion(), namePrefix: "acl" });
    [a, b] = sandbox.info() as [ClusterInfo, ClusterInfo];
    assert.ok(a.acl && b.acl, "the sandbox hands out its admin credentials");
  });
  after(async () => {
    await Promise.all(engines.map((e) => e.stop({ drain: false })));
    for (const c of clients) c.close();
    await sandbox?.stop();
  });

  const admin = (cluster: ClusterInfo): RocketMQClient => {
    assert.ok(cluster.acl);
    const client = new RocketMQClient({
      namesrv: cluster.namesrv,
      credentials: cluster.acl,
      requestTimeoutMs: 5000,
    });
    clients.push(client);
    return client;
  };

  it("replicates exactly once with a least-privileged key, and each refusal is 'denied' until granted, losing nothing", async () => {
    const topic = uniqueName("acl");
    const name = uniqueName("aclc");
    const source = admin(a);
    const target = admin(b);
    await source.admin.createTopic({ topic, queueNums: QUEUES });
    await target.admin.createTopic({ topic, queueNums: QUEUES });
    // A least-privileged key creates nothing: the operator creates the checkpoint topic.
    await new CheckpointStore({
      client: target,
      connectorName: name,
      logger: recordingLogger(),
    }).ensureTopic();
    const queues = (await source.admin.getTopicRoute(topic, { refresh: true })).writeQueues();
    assert.equal(queues.length, QUEUES);

    // What the connector needs (docs/security.md): on the source, reading the topic in its group;
    // on the target, writing and (exactly-once) reading the topic and its checkpoint topic.
    const sourceAccount = (over: Partial<SandboxAccount> = {}): SandboxAccount => ({
      accessKey: ACCESS_KEY,
      secretKey: SECRET,
      topics: { [topic]: "sub" },
      groups: { [name]: "sub" },
      ...over,
    });
    const targetAccount = (over: Partial<SandboxAccount> = {}): SandboxAccount => ({
      accessKey: ACCESS_KEY,
      secretKey: SECRET,
      topics: { [topic]: "pub|sub", [checkpointTopic(name)]: "pub|sub" },
      groups: { [name]: "sub", rmq_connector_checkpoint_reader: "sub" },
      ...over,
    });
    // Phase 1 starts with the target topic not writable.
    await setAccount(a, sourceAccount());
    await setAccount(b, targetAccount({ topics: { [topic]: "sub", [checkpointTopic(name)]: "pub|sub" } }));

    const base = testConfig(name, { a: a.namesrv, b: b.namesrv }, [
      { from: "a", to: "b", topic, createTopic: false },
    ]);
    const config: EngineConfig = {
      ...base,
      clusters: Object.fromEntries(
        Object.entries(base.clusters).map(([k, c]) => [
          k,
          { ...c, accessKey: ACCESS_KEY, secretKey: SECRET },
        ]),
      ),
      delivery: "exactly-once",
      exactlyOnce: { deadAfterMs: 1500 },
      // 4.x ACL 1.0 checks no topic permission on SEND_BATCH_MESSAGE (PlainAccessValidator maps
      // no resource for code 320): batches reach a topic the key may not write. Single sends are
      // checked, so 4.x runs send one message at a time here to see the refusal at all.
      ...(resolveVersion().startsWith("4.") ? { send: { ...base.send, batchMaxMessages: 1 } } : {}),
    };
    const logger = recordingLogger();
    const { engine, server } = await observedEngine(config, logger, (e) => {
      engines.push(e);
      return e;
    });
    try {
      await engine.start();
      let sent = 0;
      const produce = async (): Promise<void> => {
        for (let i = 0; i < PER_PHASE; i++) {
          const queue = queues[i % QUEUES] as MessageQueue;
          await source.producer().send({ topic, body: Buffer.from(`m-${sent}`) }, { queue });
          sent++;
        }
      };
      const replicated = (): number => engine.status().queues.reduce((n, q) => n + q.replicatedMessages, 0);

      /**
       * Takes a permission away, produces, waits for a queue to fail `direction` with "denied",
       * checks every view of it, gives the permission back and waits for everything to arrive.
       */
      const phase = async (
        what: string,
        direction: "pull" | "send",
        expected: RegExp,
        revoke: () => Promise<void>,
        grant: () => Promise<void>,
      ): Promise<void> => {
        await revoke();
        const before = replicated();
        await produce();
        const failing = (q: QueueStatus): boolean =>
          (direction === "pull" ? q.pullFailure : q.sendFailure)?.kind === "denied";
        await waitForStatus(engine, (s) => s.queues.some(failing), 60_000);
        const queue = engine.status().queues.find(failing);
        const failure = direction === "pull" ? queue?.pullFailure : queue?.sendFailure;
        assert.ok(failure);
        assert.match(
          failure.message,
          expected,
          `${what}: the error names the cluster, the resource and the refusal`,
        );
        assert.ok(replicated() < before + PER_PHASE, `${what}: not everything went through while refused`);
        const ready = await httpGet(`${server.url}/readyz`);
        assert.equal(ready.status, 503, what);
        assert.match(ready.body, /is failing \(denied\): cluster [ab] denied/, what);
        assert.ok(
          total(await scrape(server.url), "rmq_connector_errors_total", { kind: "denied" }) > 0,
          what,
        );
        assert.match((await httpGet(`${server.url}/api/status`)).body, /"kind":"denied"/, what);
        await grant();
        await waitForStatus(engine, () => replicated() === sent, 60_000);
        await waitForStatus(
          engine,
          (s) => s.queues.every((q) => q.pullFailure === undefined && q.sendFailure === undefined),
          30_000,
        );
        console.log(`# ${what}: "${failure.message}"`);
      };

      // Phase 1 runs with the target topic not writable from the start.
      await phase(
        "target topic not writable",
        "send",
        new RegExp(`^cluster b denied sending to topic ${topic}: .+[^.]\\. Grant`),
        async () => undefined,
        () => setAccount(b, targetAccount()),
      );
      await phase(
        "source topic not readable",
        "pull",
        new RegExp(`^cluster a denied reading topic ${topic} \\(\\S+#\\d\\): .+[^.]\\. Grant`),
        () => setAccount(a, sourceAccount({ topics: { [topic]: "deny" } })),
        () => setAccount(a, sourceAccount()),
      );
      await phase(
        "consumer group not allowed",
        "pull",
        new RegExp(`^cluster a denied reading topic ${topic} \\(\\S+#\\d\\): .*${name}`),
        () => setAccount(a, sourceAccount({ groups: { [name]: "deny" } })),
        () => setAccount(a, sourceAccount()),
      );
      await phase(
        "wrong secret",
        "send",
        /^cluster b denied sending to topic .*: .*signature/i,
        () => setAccount(b, targetAccount({ secretKey: "another-Secret-of-the-broker" })),
        () => setAccount(b, targetAccount()),
      );
      for (const s of [SECRET]) for (const e of logger.entries) assert.ok(!JSON.stringify(e).includes(s));
    } finally {
      await engine.stop();
      await server.close();
    }
    const report = await verifyRoutes(config, {
      from: { kind: "earliest" },
      until: "max",
      logger: recordingLogger(),
    });
    assert.ok(report.clean, `verify: ${JSON.stringify(report.totals)}`);
    assert.equal(report.totals.checked, 4 * PER_PHASE);
    const got = await readTopic(target, topic, { expected: 4 * PER_PHASE, quietMs: 500 });
    assert.equal(
      [...got.values()].reduce((n, ms) => n + ms.length, 0),
      4 * PER_PHASE,
    );
  });

  it("prints no secret anywhere: run's log, every endpoint, validate, plan, status, verify, consume and produce, with a refused secret", async () => {
    const topic = uniqueName("acl-grep");
    const name = uniqueName("aclg");
    const source = admin(a);
    await source.admin.createTopic({ topic, queueNums: 2 });
    await admin(b).admin.createTopic({ topic, queueNums: 2 });
    await source.producer().send({ topic, body: Buffer.from("to be refused") });
    await setAccount(a, {
      accessKey: ACCESS_KEY,
      secretKey: SECRET,
      topics: { [topic]: "sub" },
      groups: { [name]: "sub" },
    });
    // The target knows the key with another secret: every send is refused and logged.
    await setAccount(b, {
      accessKey: ACCESS_KEY,
      secretKey: "the-Broker-knows-another",
      topics: { [topic]: "pub" },
    });
    const dir = mkdtempSync(join(tmpdir(), "rmq-acl-grep-"));
    const secretFile = join(dir, "secret-key");
    writeFileSync(secretFile, `${SECRET}\n`);
    const path = join(dir, "connector.yaml");
    writeFileSync(
      path,
      `name: ${name}
clusters:
  a: { namesrv: "${a.namesrv}", accessKey: ${ACCESS_KEY}, secretKey: { file: ${secretFile} }, securityToken: "\${GREP_TOKEN}" }
  b: { namesrv: "${b.namesrv}", accessKey: ${ACCESS_KEY}, secretKey: "\${GREP_SK}" }
routes:
  - from: { cluster: a, topic: ${topic} }
    to: { cluster: b, createTopic: false }
    start: earliest
probes: { enabled: false }
metrics: { listen: "127.0.0.1:0", token: "\${GREP_HTTP_TOKEN}", protectMetrics: true }
retry: { initialBackoffMs: 100, maxBackoffMs: 1000 }
`,
    );
    const env = {
      GREP_SK: SECRET,
      GREP_TOKEN: SECURITY_TOKEN,
      GREP_HTTP_TOKEN: HTTP_TOKEN,
      RMQ_STATUS_TOKEN: HTTP_TOKEN,
    };
    const outputs: Array<[string, string]> = [];
    const run = startCli(["run", "--config", path, "--log-level", "debug"], env, 180_000);
    try {
      await run.waitFor((out) => /"msg":"serving \/metrics/.test(out), 60_000);
      const url = /"listen":"([^"]+)"/.exec(run.stdout())?.[1];
      assert.ok(url, run.stdout());
      const base = `http://${url}`;
      const auth = { authorization: `Bearer ${HTTP_TOKEN}` };
      // Wait until the refusal is what /readyz reports (its reasons are given only with the token).
      for (const deadline = Date.now() + 60_000; ;) {
        const ready = await httpGet(`${base}/readyz`, "GET", auth);
        if (/\(denied\): cluster b denied sending/.test(ready.body)) break;
        assert.ok(Date.now() < deadline, `no denied send reported: ${ready.body}`);
        await new Promise((r) => setTimeout(r, 300));
      }
      assert.equal(
        (await httpGet(`${base}/readyz`)).body.trim(),
        "not ready",
        "no reasons without the token",
      );
      for (const endpoint of ["/readyz", "/healthz", "/api/status", "/metrics", "/", "/nowhere"]) {
        const res = await fetch(`${base}${endpoint}`, { headers: auth, signal: AbortSignal.timeout(10_000) });
        outputs.push([`GET ${endpoint}`, `${JSON.stringify([...res.headers])}${await res.text()}`]);
      }
      const status = await runCli(["status", "--url", base], "", 30_000, env);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /denied/);
      outputs.push(["status", status.stdout + status.stderr]);
      const statusJson = await runCli(["status", "--url", base, "--json"], "", 30_000, env);
      outputs.push(["status --json", statusJson.stdout + statusJson.stderr]);
      const refused = await runCli(["status", "--url", base], "", 30_000, { RMQ_STATUS_TOKEN: "wrong" });
      assert.equal(refused.code, 1);
      outputs.push(["status, wrong token", refused.stdout + refused.stderr]);
    } finally {
      run.kill();
    }
    const ran = await run.exited;
    outputs.push(["run", ran.stdout + ran.stderr]);
    assert.match(ran.stdout, /"kind":"denied"/, "the log says denied");
    for (const args of [
      ["validate", "--config", path],
      ["plan", "--config", path],
      ["verify", "--config", path],
    ]) {
      const r = await runCli(args, "", 60_000, env);
      outputs.push([args[0] as string, r.stdout + r.stderr]);
    }
    // A config error with the secrets in it (an unknown key beside them).
    writeFileSync(path, readFileSync(path, "utf8").replace("probes: {", "probez: {"));
    const bad = await runCli(["validate", "--config", path], "", 30_000, env);
    assert.equal(bad.code, 1);
    outputs.push(["validate, bad config", bad.stdout + bad.stderr]);
    // The commands sign with RMQ_*: the connector's key reads its topic in its group, and may not write it.
    const keyEnv = { RMQ_ACCESS_KEY: ACCESS_KEY, RMQ_SECRET_KEY: SECRET, RMQ_SECURITY_TOKEN: SECURITY_TOKEN };
    const consumed = await runCli(
      [
        "consume",
        "--namesrv",
        a.namesrv,
        "--topic",
        topic,
        "--group",
        name,
        "--count",
        "1",
        "--timeout",
        "20s",
      ],
      "",
      60_000,
      keyEnv,
    );
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.deepEqual(consumedBodies(consumed.stdout), ["to be refused"]);
    outputs.push(["consume, signed", consumed.stdout + consumed.stderr]);
    const produced = await runCli(
      ["produce", "--namesrv", a.namesrv, "--topic", topic],
      "x\n",
      60_000,
      keyEnv,
    );
    assert.equal(produced.code, 1, `produce without PUB is refused: ${produced.stderr}`);
    outputs.push(["produce, refused", produced.stdout + produced.stderr]);
    rmSync(dir, { recursive: true, force: true });
    for (const [what, output] of outputs) {
      for (const secret of [SECRET, SECURITY_TOKEN, HTTP_TOKEN]) {
        assert.ok(!output.includes(secret), `${what} printed a secret`);
        assert.ok(!output.includes(secret.slice(0, 12)), `${what} printed part of a secret`);
      }
    }
    console.log(
      `# secret grep: ${outputs.length} outputs, ${outputs.reduce((n, [, o]) => n + o.length, 0)} bytes, no secret`,
    );
  });
});
