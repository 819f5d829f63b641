/**
 * A secured sandbox (ACL and TLS together, one cluster) against real JVMs, with the default
 * RocketMQ version and again with 4.x (RMQ_VERSION, set by the driver): plaintext and unsigned
 * clients are refused, the admin credentials and the CA from ClusterInfo are enough to work,
 * a client that trusts no CA fails verification, test accounts get exactly what setAccount
 * grants until removeAccount, and mqadmin signs and speaks TLS.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { RocketMQClient, type ClientOptions } from "../../src/client/rocketmq-client.js";
import { BrokerError } from "../../src/protocol/errors.js";
import {
  removeAccount,
  sandboxClientOptions,
  sandboxTlsOptions,
  setAccount,
  startSandbox,
  SandboxError,
  type ClusterInfo,
  type Sandbox,
} from "../../src/sandbox/index.js";
import { uniqueName } from "../helpers/sandbox.js";

/** How each line refuses a request ACL does not allow (see docs/testing.md). */
function assertAclDenied(err: unknown, version: string): true {
  assert.ok(err instanceof BrokerError, `expected a BrokerError, got ${String(err)}`);
  if (Number.parseInt(version, 10) >= 5) {
    assert.equal(err.responseCode, 16, err.message); // NO_PERMISSION
  } else {
    assert.equal(err.responseCode, 1, err.message); // SYSTEM_ERROR
    assert.match(err.remark ?? "", /^org\.apache\.rocketmq\.acl\.common\.AclException: /);
  }
  return true;
}

describe("sandbox with ACL and TLS", () => {
  let sandbox: Sandbox;
  let info: ClusterInfo;
  let startMs = 0;
  const clients: RocketMQClient[] = [];
  const client = (options: Partial<ClientOptions> = {}): RocketMQClient => {
    const c = new RocketMQClient({
      ...sandboxClientOptions(info),
      requestTimeoutMs: 5000,
      connectTimeoutMs: 5000,
      ...options,
    });
    clients.push(c);
    return c;
  };

  before(async () => {
    const t = Date.now();
    sandbox = await startSandbox({ clusters: 1, acl: true, tls: true });
    startMs = Date.now() - t;
    const first = sandbox.info()[0];
    assert.ok(first);
    info = first;
  });
  after(async () => {
    for (const c of clients) c.close();
    await sandbox?.stop();
  });

  it("describes the credentials and the CA in JSON-friendly ClusterInfo", (t) => {
    t.diagnostic(`secured sandbox (RocketMQ ${info.version}) started in ${startMs} ms`);
    const copy = JSON.parse(JSON.stringify(info)) as ClusterInfo;
    assert.deepEqual(copy, info);
    assert.ok(info.acl);
    assert.ok(info.acl.accessKey.length >= 7 && info.acl.secretKey.length >= 7);
    assert.ok(info.tls);
    assert.match(readFileSync(info.tls.caFile, "utf8"), /^-----BEGIN CERTIFICATE-----/);
    if (Number.parseInt(info.version, 10) < 5) {
      assert.ok(info.aclFile && existsSync(info.aclFile));
      // Never a whitelist: on loopback it would skip every check.
      const acl = JSON.parse(readFileSync(info.aclFile, "utf8")) as { globalWhiteRemoteAddresses: unknown };
      assert.deepEqual(acl.globalWhiteRemoteAddresses, []);
    } else {
      assert.equal(info.aclFile, undefined);
    }
  });

  it("lets a client with the CA and the admin credentials get routes and create a topic", async () => {
    const admin = client();
    const cluster = await admin.admin.getClusterInfo();
    assert.deepEqual(
      cluster.brokers.map((b) => b.brokerName),
      [info.brokerName],
    );
    const topic = uniqueName("secured");
    await admin.admin.createTopic({ topic, queueNums: 2 });
    const route = await admin.admin.getTopicRoute(topic, { refresh: true });
    assert.equal(route.masterAddress(info.brokerName), info.brokerAddr);
    assert.equal(route.writeQueues().length, 2);
  });

  it("refuses plaintext connections on the NameServer and the broker", async () => {
    // TLS is enforced: 5.x closes a plaintext connection at once, 4.9.7 lets it time out.
    const plain = client({ tls: false, requestTimeoutMs: 3000 });
    await assert.rejects(plain.admin.getClusterInfo());
    await assert.rejects(
      plain.admin.createTopic({ topic: uniqueName("plain"), queueNums: 1, brokerAddr: info.brokerAddr }),
    );
  });

  it("fails TLS verification for a client that trusts no CA", async () => {
    const untrusting = client({ tls: { rejectUnauthorized: true } });
    await assert.rejects(untrusting.admin.getClusterInfo(), /certificate/i);
  });

  it("refuses unsigned and wrongly signed requests to the broker", async () => {
    const tls = sandboxTlsOptions(info);
    assert.ok(tls);
    const topic = uniqueName("unsigned");
    const unsigned = new RocketMQClient({ namesrv: info.namesrv, tls, requestTimeoutMs: 5000 });
    clients.push(unsigned);
    await assert.rejects(
      unsigned.admin.createTopic({ topic, queueNums: 1, brokerAddr: info.brokerAddr }),
      (err) => assertAclDenied(err, info.version),
    );
    assert.ok(info.acl);
    const forged = client({ credentials: { accessKey: info.acl.accessKey, secretKey: "not-the-secret" } });
    await assert.rejects(
      forged.admin.createTopic({ topic, queueNums: 1, brokerAddr: info.brokerAddr }),
      (err) => assertAclDenied(err, info.version),
    );
  });

  it("grants an account exactly what setAccount says, until removeAccount", async () => {
    const admin = client();
    const granted = uniqueName("granted");
    const other = uniqueName("other");
    for (const topic of [granted, other]) await admin.admin.createTopic({ topic, queueNums: 1 });
    const account = { accessKey: uniqueName("user"), secretKey: "secret-1234567" };
    await setAccount(info, { ...account, topics: { [granted]: "pub", [other]: "deny" } });

    const user = client({ credentials: account });
    const sent = await user.producer().send({ topic: granted, body: Buffer.from("allowed") });
    assert.equal(sent.status, "SEND_OK");
    await assert.rejects(user.producer().send({ topic: other, body: Buffer.from("denied") }), (err) =>
      assertAclDenied(err, info.version),
    );

    // Replacing the account replaces its permissions: now the other topic only.
    await setAccount(info, { ...account, topics: { [other]: "pub" } });
    await user.producer().send({ topic: other, body: Buffer.from("now allowed") });
    await assert.rejects(user.producer().send({ topic: granted, body: Buffer.from("now denied") }), (err) =>
      assertAclDenied(err, info.version),
    );

    await removeAccount(info, account.accessKey);
    await assert.rejects(user.producer().send({ topic: other, body: Buffer.from("removed") }), (err) =>
      assertAclDenied(err, info.version),
    );
  });

  it("lets a sub account pull and commit offsets of its group", async () => {
    const admin = client();
    const topic = uniqueName("source");
    const group = uniqueName("g");
    await admin.admin.createTopic({ topic, queueNums: 1 });
    const [queue] = (await admin.admin.getTopicRoute(topic, { refresh: true })).writeQueues();
    assert.ok(queue);
    await admin.producer().send({ topic, body: Buffer.from("to read") }, { queue });
    const account = { accessKey: uniqueName("reader"), secretKey: "reader-secret" };
    await setAccount(info, { ...account, topics: { [topic]: "sub" }, groups: { [group]: "sub" } });

    const reader = client({ credentials: account });
    assert.equal(await reader.admin.getMaxOffset(queue), 1n);
    const pulled = await reader.pullConsumer({ group }).pull({ queue, offset: 0n, suspendTimeoutMs: 1000 });
    assert.deepEqual(
      pulled.messages.map((m) => m.body?.toString()),
      ["to read"],
    );
    await reader.admin.updateConsumerOffset(group, queue, 1n);
    // A group it was not granted is refused.
    await assert.rejects(
      reader.pullConsumer({ group: uniqueName("g") }).pull({ queue, offset: 0n, suspendTimeoutMs: 1000 }),
      (err) => assertAclDenied(err, info.version),
    );
    await removeAccount(info, account.accessKey);
  });

  it("refuses to change accounts on the admin itself or with short keys", async () => {
    assert.ok(info.acl);
    await assert.rejects(
      setAccount(info, { accessKey: info.acl.accessKey, secretKey: "whatever-secret" }),
      (err) => err instanceof SandboxError && err.code === "RMQ_SANDBOX_ACL_FAILED",
    );
    await assert.rejects(
      setAccount(info, { accessKey: "short", secretKey: "long-enough-secret" }),
      /at least 7 characters/,
    );
  });

  it("runs mqadmin signed and over TLS", async () => {
    const clusters = await sandbox.mqadmin(["clusterList", "-n", info.namesrv]);
    assert.match(clusters, new RegExp(info.brokerName));
    const topics = await sandbox.mqadmin(["topicList", "-n", info.namesrv]);
    assert.match(topics, /rmq-sandbox-probe/);
  });
});
