/**
 * No command prints a secret. produce, consume, topic and plan run with known secret values (from
 * the environment, or a config file's ${ENV}) against a real broker, on their success paths (so
 * the clients were built signed; the sandbox broker has no ACL and ignores the signature) and on
 * their failure paths (unknown topic, broker refusal, NameServer down, bad arguments), and
 * stdout+stderr never hold the secret key or the token.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RocketMQClient } from "../../src/client/rocketmq-client.js";
import { runCli, type CliRun } from "../helpers/cli.js";
import { useSandbox, uniqueName } from "../helpers/sandbox.js";

const SECRET = "Sk-4f1e9a7c-do-not-print";
const TOKEN = "Tok-b83d20e6-do-not-print";
const ENV = { RMQ_ACCESS_KEY: "cli-test-ak", RMQ_SECRET_KEY: SECRET, RMQ_SECURITY_TOKEN: TOKEN };

function assertNoSecret(what: string, run: CliRun): void {
  const output = run.stdout + run.stderr;
  for (const secret of [SECRET, TOKEN]) {
    assert.ok(!output.includes(secret), `${what} printed a secret:\n${output}`);
    // Not even a fragment long enough to matter.
    assert.ok(!output.includes(secret.slice(0, 12)), `${what} printed part of a secret:\n${output}`);
  }
}

describe("no secret in any command's output", () => {
  const sandbox = useSandbox(1);
  const dir = mkdtempSync(join(tmpdir(), "rmq-secrets-test-"));
  let namesrv: string;
  let client: RocketMQClient;

  before(async () => {
    const [c] = await sandbox.clusters();
    assert.ok(c);
    namesrv = c.namesrv;
    client = new RocketMQClient({ namesrv, requestTimeoutMs: 5000 });
  });
  after(() => {
    client?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("produce, consume and topic, signed from RMQ_*, succeeding and failing", async () => {
    const topic = uniqueName("cli-secret");
    const missing = uniqueName("cli-secret-missing");
    const run = (args: string[], input = "", env: Record<string, string> = ENV): Promise<CliRun> =>
      runCli(args, input, 30_000, env);

    const succeeding: Array<[string, string[], string]> = [
      ["topic create", ["topic", "create", "--namesrv", namesrv, "--topic", topic, "--queues", "2"], ""],
      ["topic list", ["topic", "list", "--namesrv", namesrv], ""],
      ["topic describe", ["topic", "describe", "--namesrv", namesrv, "--topic", topic], ""],
      ["produce", ["produce", "--namesrv", namesrv, "--topic", topic, "--key", "k"], "one\ntwo\n"],
      [
        "consume",
        ["consume", "--namesrv", namesrv, "--topic", topic, "--count", "2", "--timeout", "10s"],
        "",
      ],
    ];
    for (const [what, args, input] of succeeding) {
      const r = await run(args, input);
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
      assertNoSecret(what, r);
    }

    const failing: Array<[string, string[], number]> = [
      ["produce to a missing topic", ["produce", "--namesrv", namesrv, "--topic", missing], 1],
      ["consume of a missing topic", ["consume", "--namesrv", namesrv, "--topic", missing], 1],
      [
        "topic describe of a missing topic",
        ["topic", "describe", "--namesrv", namesrv, "--topic", missing],
        1,
      ],
      [
        "topic create refused",
        ["topic", "create", "--namesrv", namesrv, "--topic", topic, "--queues", "5"],
        1,
      ],
      ["produce, NameServer down", ["produce", "--namesrv", "127.0.0.1:1", "--topic", topic], 1],
      ["consume, NameServer down", ["consume", "--namesrv", "127.0.0.1:1", "--topic", topic], 1],
      ["topic list, NameServer down", ["topic", "list", "--namesrv", "127.0.0.1:1"], 1],
      ["consume, bad flag", ["consume", "--namesrv", namesrv, "--topic", topic, "--from", "soon"], 2],
      [
        "produce, secret as a flag",
        ["produce", "--namesrv", namesrv, "--topic", topic, "--secret-key", SECRET],
        2,
      ],
    ];
    for (const [what, args, code] of failing) {
      const r = await run(args, "x\n");
      assert.equal(r.code, code, `${what}: ${r.stderr}`);
      assert.match(r.stderr, /^rmq-connector: RMQ_/m, what);
      assertNoSecret(what, r);
    }
    // Half the credentials: the error names the variables, not the value.
    const half = await run(["produce", "--namesrv", namesrv, "--topic", topic], "x\n", {
      RMQ_ACCESS_KEY: "",
      RMQ_SECRET_KEY: SECRET,
      RMQ_SECURITY_TOKEN: TOKEN,
    });
    assert.equal(half.code, 2, half.stderr);
    assert.match(half.stderr, /RMQ_SECRET_KEY is set but RMQ_ACCESS_KEY is not/);
    assertNoSecret("half credentials", half);
  });

  it("plan, with the config's ${ENV} credentials, succeeding and failing", async () => {
    const topic = uniqueName("plan-secret");
    await client.admin.createTopic({ topic, queueNums: 2 });
    const config = (name: string, sourceNamesrv: string): string => {
      const path = join(dir, `${name}.yaml`);
      writeFileSync(
        path,
        `name: ${name}
clusters:
  east:
    namesrv: "${sourceNamesrv}"
    accessKey: \${PLAN_AK}
    secretKey: \${PLAN_SK}
    securityToken: \${PLAN_TOKEN}
    requestTimeoutMs: 2000
  west: { namesrv: "${namesrv}", accessKey: "\${PLAN_AK}", secretKey: "\${PLAN_SK}" }
routes:
  - from: { cluster: east, topic: ${topic} }
    to: { cluster: west, topic: ${topic}_dr }
  - from: { cluster: east, topic: ${uniqueName("plan-missing")} }
    to: { cluster: west, createTopic: false }
`,
      );
      return path;
    };
    const env = { PLAN_AK: "plan-ak", PLAN_SK: SECRET, PLAN_TOKEN: TOKEN };
    // The first route plans; the second's source topic is missing: printed as an error, exit 1.
    const ok = await runCli(["plan", "--config", config(uniqueName("planner"), namesrv)], "", 30_000, env);
    assert.equal(ok.code, 1, ok.stderr);
    assert.match(ok.stdout, new RegExp(`${topic} -> ${topic}_dr`), ok.stderr);
    assert.match(ok.stdout, /: ERROR /);
    assertNoSecret("plan", ok);
    const down = await runCli(
      ["plan", "--config", config(uniqueName("planner"), "127.0.0.1:1")],
      "",
      30_000,
      env,
    );
    assert.equal(down.code, 1, down.stderr);
    assert.match(down.stdout, /ERROR .*127\.0\.0\.1:1/);
    assertNoSecret("plan, source down", down);
    // A config whose credentials are incomplete once interpolated.
    const lone = await runCli(["plan", "--config", config(uniqueName("planner"), namesrv)], "", 30_000, {
      PLAN_AK: "plan-ak",
      PLAN_SK: SECRET,
    });
    assert.equal(lone.code, 1, lone.stderr);
    assert.match(lone.stderr, /PLAN_TOKEN/);
    assertNoSecret("plan, config error", lone);
  });
});
