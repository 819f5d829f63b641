/**
 * `rmq-connector run` serves metrics, health, readiness and status on the config's
 * metrics.listen, as an operator starts it, and stops serving when it stops.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import type { MessageQueue } from "../../src/client/types.js";
import { useSandbox, uniqueName } from "../helpers/sandbox.js";
import { httpGet, parseExposition, series, total } from "./exposition.js";
import { CLI_MAIN as MAIN } from "../helpers/cli.js";

/** A port free right now on 127.0.0.1 (the child binds it a moment later). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("run serves monitoring", () => {
  const sandbox = useSandbox(2);
  let a: RocketMQClient;
  let east: string;
  let west: string;
  const dir = mkdtempSync(join(tmpdir(), "rmq-run-metrics-"));
  const children: ReturnType<typeof spawn>[] = [];

  before(async () => {
    const [ca, cb] = await sandbox.clusters();
    assert.ok(ca && cb);
    east = ca.namesrv;
    west = cb.namesrv;
    a = new RocketMQClient({ namesrv: east });
  });
  after(() => {
    for (const c of children) c.kill("SIGKILL");
    a?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves /metrics, /healthz, /readyz and /api/status on metrics.listen until stopped", async () => {
    const topic = uniqueName("runm");
    await a.admin.createTopic({ topic, queueNums: 2 });
    const queues = (await a.admin.getTopicRoute(topic, { refresh: true })).writeQueues();
    const N = 24;
    for (let i = 0; i < N; i++)
      await a
        .producer()
        .send({ topic, body: Buffer.from(`m${i}`) }, { queue: queues[i % 2] as MessageQueue });
    const port = await freePort();
    const name = uniqueName("runm");
    const config = join(dir, "connector.yaml");
    writeFileSync(
      config,
      `name: ${name}
clusters:
  east: { namesrv: "${east}" }
  west: { namesrv: "${west}" }
routes:
  - from: { cluster: east, topic: ${topic} }
    to: { cluster: west, topic: ${topic}_dr }
    start: earliest
metrics: { listen: "127.0.0.1:${port}", lagRefreshIntervalMs: 500 }
`,
    );
    const child = spawn(process.execPath, [MAIN, "run", "--config", config], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr?.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    const base = `http://127.0.0.1:${port}`;

    const deadline = Date.now() + 90_000;
    let text = "";
    for (;;) {
      assert.equal(child.exitCode, null, `run exited early: ${stderr}`);
      try {
        const r = await httpGet(`${base}/metrics`);
        text = r.body;
        const e = parseExposition(text);
        if (
          total(e, "rmq_connector_replicated_messages_total") === N &&
          total(e, "rmq_connector_lag_messages") === 0 &&
          series(e, "rmq_connector_lag_messages").length === 2
        )
          break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) assert.fail(`metrics never showed ${N} replicated:\n${text}\n${stderr}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    // Probes are on by default in a config file: the link is measured even with no user traffic.
    for (;;) {
      const e = parseExposition((await httpGet(`${base}/metrics`)).body);
      const age = series(e, "rmq_connector_last_probe_age_seconds");
      if (age.length === 1 && series(e, "rmq_connector_probe_latency_seconds").length === 1) {
        assert.ok((age[0]?.value ?? Infinity) < 30, "a recent probe");
        break;
      }
      if (Date.now() > deadline) assert.fail(`no probe metrics:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const e = parseExposition(text);
    assert.deepEqual(series(e, "rmq_connector_info")[0]?.labels.name, name);
    assert.ok(e.types.has("rmq_connector_process_resident_memory_bytes"), "process metrics are on in run");
    assert.equal(total(e, "rmq_connector_route_up"), 1);
    assert.equal((await httpGet(`${base}/healthz`)).body, "ok\n");
    const ready = await httpGet(`${base}/readyz`);
    assert.equal(ready.status, 200, ready.body);
    const status = JSON.parse((await httpGet(`${base}/api/status`)).body) as {
      name: string;
      ready: boolean;
      queues: { replicatedMessages: number; ackedOffset: string }[];
    };
    assert.equal(status.name, name);
    assert.equal(status.ready, true);
    assert.equal(
      status.queues.reduce((n, q) => n + q.replicatedMessages, 0),
      N,
    );
    assert.ok(status.queues.every((q) => q.ackedOffset === String(N / 2)));
    assert.match((await httpGet(`${base}/`)).contentType, /^text\/html/);
    assert.ok(stdout.includes(`127.0.0.1:${port}`), "the listen address is logged");

    child.kill("SIGTERM");
    assert.equal(await exited, 0, stderr);
    await assert.rejects(httpGet(`${base}/healthz`), "stopped serving");
  });

  it("refuses to start when the metrics port is taken", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const config = join(dir, "taken.yaml");
      writeFileSync(
        config,
        `name: ${uniqueName("taken")}
clusters:
  east: { namesrv: "${east}" }
  west: { namesrv: "${west}" }
routes:
  - from: { cluster: east, topic: anything }
    to: { cluster: west }
metrics: { listen: "127.0.0.1:${port}" }
`,
      );
      const child = spawn(process.execPath, [MAIN, "run", "--config", config], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.push(child);
      let stderr = "";
      child.stderr?.setEncoding("utf8").on("data", (s: string) => (stderr += s));
      const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
      assert.equal(code, 1);
      assert.match(
        stderr,
        new RegExp(`RMQ_METRICS_LISTEN: cannot listen on 127\\.0\\.0\\.1:${port}.*EADDRINUSE`),
      );
    } finally {
      blocker.close();
    }
  });
});
