/**
 * The sandbox harness against real JVMs: N clusters that are independent and ready over the
 * protocol, distinct ports, a broker restart that keeps its store, a stop() that leaves no
 * process and no file, cleanup when the Node process is interrupted, and clear, fast failures.
 * Runs with the default RocketMQ version (RMQ_VERSION to choose another).
 *
 * @rmq-test default-version-only: on 4.x, what this file proves of the harness is used in pass 2
 * by the files that need it and fail without it: every file starts clusters, the restart that
 * keeps the store is client.test's broker restart, a SIGKILLed broker started again is the
 * exactly-once kill test's broker crashes, and mqadmin is replication.test's consumerProgress.
 * What is left (a NameServer SIGKILL, cleanup on SIGINT, the failure messages) is the harness's
 * own code, the same for every version.
 * RMQ_TEST_ALL_VERSIONS=1 runs it on 4.x too.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import { MASTER_ID } from "../../src/protocol/headers/route.js";
import {
  describeMavenFailure,
  ensureDistribution,
  probeCluster,
  resolveVersion,
  startSandbox,
  SandboxError,
  type Sandbox,
} from "../../src/sandbox/index.js";
import { uniqueName } from "../helpers/sandbox.js";

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until none of `pids` runs (killed processes take a moment to be reaped). */
async function waitGone(pids: number[], timeoutMs = 10_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let left = pids.filter(alive);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    left = left.filter(alive);
  }
  return left;
}

/** A loopback port nobody listens on: bound by us, then closed. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  assert.ok(address && typeof address === "object");
  await new Promise<void>((r) => server.close(() => r()));
  return address.port;
}

describe("sandbox with two clusters", () => {
  let sandbox: Sandbox;
  const clients: RocketMQClient[] = [];
  const clientFor = (namesrv: string): RocketMQClient => {
    const c = new RocketMQClient({ namesrv, requestTimeoutMs: 5000 });
    clients.push(c);
    return c;
  };

  before(async () => {
    sandbox = await startSandbox({ clusters: 2 });
  });
  after(async () => {
    for (const c of clients) c.close();
    await sandbox?.stop();
  });

  it("starts independent clusters that are ready over the protocol", async () => {
    assert.equal(sandbox.clusters.length, 2);
    assert.equal(sandbox.distribution.version, resolveVersion());
    for (const cluster of sandbox.clusters) {
      const client = clientFor(cluster.namesrv);
      const info = await client.admin.getClusterInfo();
      // Each NameServer knows its own broker only: the clusters are independent.
      assert.deepEqual(
        info.brokers.map((b) => b.brokerName),
        [cluster.brokerName],
      );
      assert.equal(info.brokers[0]?.brokerAddrs.get(MASTER_ID), cluster.brokerAddr);
      assert.deepEqual(info.clusters.get(cluster.clusterName), [cluster.brokerName]);
      const topic = uniqueName("sandbox");
      await client.admin.createTopic({ topic, queueNums: 2 });
      const route = await client.admin.getTopicRoute(topic, { refresh: true });
      assert.equal(route.masterAddress(cluster.brokerName), cluster.brokerAddr);
      assert.equal(route.writeQueues().length, 2);
    }
  });

  it("uses distinct loopback ports and names", () => {
    const ports = sandbox.clusters.flatMap((c) => c.ports);
    assert.equal(new Set(ports).size, ports.length, `ports collide: ${ports.join(",")}`);
    for (const c of sandbox.clusters) {
      assert.match(c.namesrv, /^127\.0\.0\.1:\d+$/);
      assert.match(c.brokerAddr, /^127\.0\.0\.1:\d+$/);
    }
    const names = sandbox.clusters.flatMap((c) => [c.name, c.clusterName, c.brokerName]);
    assert.equal(new Set(names).size, names.length);
    assert.deepEqual(
      sandbox.info().map((i) => i.name),
      ["c1", "c2"],
    );
  });

  it("restarts a broker on the same address with its store kept", async () => {
    const cluster = sandbox.clusters[0];
    assert.ok(cluster);
    const client = clientFor(cluster.namesrv);
    const topic = uniqueName("restart");
    await client.admin.createTopic({ topic, queueNums: 1 });
    const [queue] = (await client.admin.getTopicRoute(topic, { refresh: true })).writeQueues();
    assert.ok(queue);
    const producer = client.producer();
    await producer.send({ topic, body: Buffer.from("before restart") }, { queue });

    const before = { pid: cluster.brokerPid, addr: cluster.brokerAddr };
    await cluster.restartBroker();
    assert.equal(cluster.brokerAddr, before.addr);
    assert.notEqual(cluster.brokerPid, before.pid);
    assert.equal(alive(before.pid), false);

    // Ready again: the harness proved it over the protocol; sending and pulling prove it too.
    await producer.send({ topic, body: Buffer.from("after restart") }, { queue });
    const consumer = client.pullConsumer({ group: uniqueName("g") });
    const bodies: string[] = [];
    let offset = 0n;
    const deadline = Date.now() + 20_000;
    while (bodies.length < 2 && Date.now() < deadline) {
      const r = await consumer.pull({ queue, offset, suspendTimeoutMs: 1000 });
      bodies.push(...r.messages.map((m) => m.body?.toString() ?? ""));
      offset = r.nextBeginOffset;
    }
    assert.deepEqual(bodies, ["before restart", "after restart"]);
  });

  it("starts a broker and a NameServer again after a SIGKILL, by another hand or its own", async () => {
    const cluster = sandbox.clusters[0];
    assert.ok(cluster);
    const client = clientFor(cluster.namesrv);
    const topic = uniqueName("killed");
    await client.admin.createTopic({ topic, queueNums: 1 });
    const [queue] = (await client.admin.getTopicRoute(topic, { refresh: true })).writeQueues();
    assert.ok(queue);
    const producer = client.producer();
    await producer.send({ topic, body: Buffer.from("before the kills") }, { queue });

    // A crash the harness did not cause: SIGKILL from outside, seen once Node reaps the JVM.
    const killed = cluster.brokerPid;
    assert.ok(killed !== undefined);
    process.kill(killed, "SIGKILL");
    for (const deadline = Date.now() + 10_000; cluster.brokerPid !== undefined;) {
      assert.ok(Date.now() < deadline, "the killed broker still counts as running");
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(alive(killed), false);
    await cluster.startBroker();
    assert.ok(cluster.brokerPid !== undefined && cluster.brokerPid !== killed, "a new broker runs");

    // The harness's own SIGKILL (graceMs 0), of the NameServer and then of the broker.
    const namesrvBefore = cluster.namesrvPid;
    await cluster.restartNamesrv({ graceMs: 0 });
    assert.ok(cluster.namesrvPid !== undefined && cluster.namesrvPid !== namesrvBefore);
    assert.equal(alive(namesrvBefore), false);
    const brokerBefore = cluster.brokerPid;
    await cluster.restartBroker({ graceMs: 0 });
    assert.ok(cluster.brokerPid !== undefined && cluster.brokerPid !== brokerBefore);
    assert.equal(alive(brokerBefore), false);

    // Serving again with its store: what was sent before the kills is still there, once.
    await client.admin.getTopicRoute(topic, { refresh: true });
    await producer.send({ topic, body: Buffer.from("after the kills") }, { queue });
    const consumer = client.pullConsumer({ group: uniqueName("g") });
    const bodies: string[] = [];
    let offset = 0n;
    for (const deadline = Date.now() + 20_000; bodies.length < 2 && Date.now() < deadline;) {
      const r = await consumer.pull({ queue, offset, suspendTimeoutMs: 1000 });
      bodies.push(...r.messages.map((m) => m.body?.toString() ?? ""));
      offset = r.nextBeginOffset;
    }
    assert.deepEqual(bodies, ["before the kills", "after the kills"]);
  });

  it("runs mqadmin of the same version", async () => {
    const cluster = sandbox.clusters[1];
    assert.ok(cluster);
    const out = await sandbox.mqadmin(["clusterList", "-n", cluster.namesrv]);
    assert.match(out, new RegExp(cluster.clusterName));
    assert.match(out, new RegExp(cluster.brokerName));
  });

  it("stop() leaves no process and no directory behind", async () => {
    const pids = sandbox.clusters.flatMap((c) => [c.namesrvPid, c.brokerPid]).filter((p) => p !== undefined);
    assert.equal(pids.length, 4);
    assert.ok(existsSync(sandbox.dir));
    await sandbox.stop();
    assert.deepEqual(await waitGone(pids), []);
    assert.equal(existsSync(sandbox.dir), false);
    await sandbox.stop(); // idempotent
  });
});

describe("sandbox failures", () => {
  it("fails fast and clearly on a dead NameServer address", async () => {
    const port = await deadPort();
    const t = Date.now();
    await assert.rejects(
      probeCluster({ namesrv: `127.0.0.1:${port}`, brokerName: "b", timeoutMs: 60_000 }),
      (err: unknown) => {
        assert.ok(err instanceof SandboxError);
        assert.equal(err.code, "RMQ_SANDBOX_NOT_READY");
        assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
        assert.match(err.message, /unreachable/);
        return true;
      },
    );
    assert.ok(Date.now() - t < 5000, `took ${Date.now() - t} ms`);
  });

  it("names the version and the artifact when Maven cannot resolve it", async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), "rmq-cache-test-"));
    try {
      await assert.rejects(ensureDistribution({ version: "0.0.1", cacheDir }), (err: unknown) => {
        assert.ok(err instanceof SandboxError);
        assert.equal(err.code, "RMQ_SANDBOX_FETCH_FAILED");
        assert.match(err.message, /RocketMQ 0\.0\.1/);
        assert.match(err.message, /org\.apache\.rocketmq:rocketmq-\w+:jar:0\.0\.1/);
        return true;
      });
      // The failed fetch's temporary directory is gone: nothing can pass for a complete one.
      assert.deepEqual(readdirSync(cacheDir), []);
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it("extracts the failing artifact from Maven's output", () => {
    const output =
      "\u001b[0m[ERROR] Failed to execute goal on project rmq-5.5.1: Could not resolve dependencies for project " +
      "local:rmq-5.5.1:pom:1: The following artifacts could not be resolved: org.apache.rocketmq:rocketmq-namesrv:jar:5.5.1, " +
      "org.apache.rocketmq:rocketmq-tools:jar:5.5.1: Could not find artifact org.apache.rocketmq:rocketmq-namesrv:jar:5.5.1 " +
      "in central (https://repo.maven.apache.org/maven2) -> [Help 1]\n[ERROR] \n";
    const why = describeMavenFailure(output);
    assert.match(why, /^artifact org\.apache\.rocketmq:rocketmq-namesrv:jar:5\.5\.1 could not be resolved/);
    assert.match(why, /rocketmq-tools:jar:5\.5\.1/);
  });

  it("rejects a version that is not a Maven version", () => {
    assert.throws(() => resolveVersion("5.5.0/../x"), /invalid RocketMQ version/);
    assert.equal(resolveVersion(undefined, { RMQ_VERSION: "4.9.7" }), "4.9.7");
  });
});

describe("sandbox cleanup when Node is interrupted", () => {
  it("kills the JVMs and removes the directory on SIGINT", async () => {
    const harness = fileURLToPath(new URL("../../src/sandbox/index.js", import.meta.url));
    const script = `
      const { startSandbox } = await import(${JSON.stringify(harness)});
      const sb = await startSandbox({ clusters: 1 });
      const [c] = sb.clusters;
      process.stdout.write(JSON.stringify({ dir: sb.dir, pids: [c.namesrvPid, c.brokerPid] }) + "\\n");
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("\n")) resolve(out.split("\n")[0] ?? "");
      });
      child.once("exit", (code) => reject(new Error(`child exited early with ${code}: ${out}`)));
    });
    const { dir, pids } = JSON.parse(line) as { dir: string; pids: number[] };
    assert.equal(pids.length, 2);
    assert.ok(pids.every(alive));
    const exited = new Promise<NodeJS.Signals | null>((r) =>
      child.once("exit", (_code, signal) => r(signal)),
    );
    child.kill("SIGINT");
    // Re-raised after cleanup, so the process ends as a SIGINT would end it.
    assert.equal(await exited, "SIGINT");
    assert.deepEqual(await waitGone(pids), []);
    assert.equal(existsSync(dir), false);
  });
});
