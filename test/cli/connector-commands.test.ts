/**
 * `rmq-connector run`, `plan` and `demo` as an operator runs them: real processes against real
 * clusters, judged by what lands in the target, the exit codes and the output.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import type { MessageQueue } from "../../src/client/types.js";
import { useSandbox, uniqueName } from "../helpers/sandbox.js";
import { readTopic } from "../helpers/replication.js";
import { CLI_MAIN as MAIN } from "../helpers/cli.js";

interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function start(args: readonly string[]): Proc {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (s: string) => (stdout += s));
  child.stderr?.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

describe("connector commands", () => {
  const sandbox = useSandbox(2);
  let a: RocketMQClient;
  let b: RocketMQClient;
  let east: string;
  let west: string;
  const dir = mkdtempSync(join(tmpdir(), "rmq-cmd-test-"));
  const running: Proc[] = [];

  before(async () => {
    const [ca, cb] = await sandbox.clusters();
    assert.ok(ca && cb);
    east = ca.namesrv;
    west = cb.namesrv;
    a = new RocketMQClient({ namesrv: east });
    b = new RocketMQClient({ namesrv: west });
  });
  after(() => {
    for (const p of running) p.child.kill("SIGKILL");
    a?.close();
    b?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function writeConfig(name: string, topic: string, extra = ""): string {
    const path = join(dir, `${name}.yaml`);
    writeFileSync(
      path,
      `name: ${name}
clusters:
  east: { namesrv: "${east}" }
  west: { namesrv: "${west}" }
routes:
  - from: { cluster: east, topic: ${topic} }
    to: { cluster: west, topic: ${topic}_dr }
    start: earliest
metrics: { listen: "127.0.0.1:0" }
${extra}`,
    );
    return path;
  }

  it("run replicates, logs JSON lines, and on SIGTERM drains, commits and exits 0", async () => {
    const topic = uniqueName("run");
    await a.admin.createTopic({ topic, queueNums: 4 });
    const queues = (await a.admin.getTopicRoute(topic, { refresh: true })).writeQueues();
    for (let i = 0; i < 40; i++)
      await a
        .producer()
        .send({ topic, body: Buffer.from(`m${i}`) }, { queue: queues[i % 4] as MessageQueue });
    const name = uniqueName("runner");
    const proc = start(["run", "--config", writeConfig(name, topic)]);
    running.push(proc);
    const got = await readTopic(b, `${topic}_dr`, { expected: 40, timeoutMs: 60_000 });
    assert.equal([...got.values()].flat().length, 40);
    proc.child.kill("SIGTERM");
    assert.equal(await proc.exited, 0, proc.stderr());
    const logs = proc
      .stdout()
      .split("\n")
      .filter((l) => l !== "")
      .map(
        (l) =>
          JSON.parse(l) as {
            level: number;
            msg: string;
            time: string;
            connector: string;
            topic?: string;
            queueId?: number;
          },
      );
    assert.ok(logs.length > 0);
    assert.ok(
      logs.every((l) => typeof l.time === "string" && l.connector === name && typeof l.msg === "string"),
    );
    assert.ok(
      logs.some((l) => l.msg === "queue assigned" && l.topic === topic && typeof l.queueId === "number"),
    );
    assert.ok(logs.some((l) => l.msg.startsWith("stopping")));
    for (const q of queues)
      assert.equal(await a.admin.queryConsumerOffset(name, q), 10n, "progress committed on stop");
  });

  it("run refuses a bad config with every problem as file:line:col and exits 1", async () => {
    const path = join(dir, "bad.yaml");
    writeFileSync(
      path,
      `name: bad\nclusters:\n  east: { namesrv: "${east}" }\nroutes:\n  - from: { cluster: nowhere, topic: t }\n    to: { cluster: east }\n    colour: blue\n`,
    );
    const proc = start(["run", "--config", path]);
    assert.equal(await proc.exited, 1);
    assert.match(proc.stderr(), new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:5:\\d+`));
    assert.match(proc.stderr(), /nowhere/);
    assert.match(proc.stderr(), /colour/);
    assert.equal(proc.stdout(), "", "nothing was started");
  });

  it("plan prints topics, queue mapping and the topics it would create, changing nothing", async () => {
    const topic = uniqueName("plan");
    await a.admin.createTopic({ topic, queueNums: 2 });
    const proc = start(["plan", "--config", writeConfig(uniqueName("planner"), topic)]);
    assert.equal(await proc.exited, 0, proc.stderr());
    const out = proc.stdout();
    assert.match(
      out,
      new RegExp(`${topic} -> ${topic}_dr  \\[will create ${topic}_dr with 2 queues per master\\]`),
    );
    assert.match(out, /#0 -> \(new topic, same index\)/);
    assert.match(out, /#1 -> \(new topic, same index\)/);
    await assert.rejects(
      b.admin.getTopicRoute(`${topic}_dr`, { refresh: true }),
      /TOPIC_NOT_EXIST|does not exist|not exist/i,
    );
    await b.admin.createTopic({ topic: `${topic}_dr`, queueNums: 2 });
    const again = start(["plan", "--config", writeConfig(uniqueName("planner"), topic)]);
    assert.equal(await again.exited, 0);
    assert.match(again.stdout(), /#1 -> \S+#1/);
  });
});

describe("demo", () => {
  it("starts two clusters, replicates sample traffic with live figures, and cleans up", async () => {
    const proc = start(["demo", "--duration", "8s", "--rate", "40"]);
    const code = await proc.exited;
    const out = proc.stdout();
    assert.equal(code, 0, `${out}\n${proc.stderr()}`);
    const figures = [...out.matchAll(/replicated (\d+)/g)].map((m) => Number(m[1]));
    assert.ok(figures.length >= 4, `expected live lines, got:\n${out}`);
    assert.ok(Math.max(...figures) > 0, "nothing was replicated");
    assert.match(out, /orders->west:orders_dr/);
    assert.match(out, /demo: stopped; clusters removed\./);
  });
});
