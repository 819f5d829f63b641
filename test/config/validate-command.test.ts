// `rmq-connector validate --config F`, as users run it: exit codes and output.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../../scripts/gen-config-docs.js";

const root = repoRoot();
const main = join(root, "dist", "src", "cli", "main.js");

function validate(
  file: string,
  env: Record<string, string> = {},
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [main, "validate", "--config", file], {
    cwd: root,
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", ...env },
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("a valid file: exit 0 and one summary line", () => {
  const r = validate("examples/east-to-west.yaml");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "examples/east-to-west.yaml: ok (2 routes, 2 clusters)\n");
  assert.equal(r.stderr, "");
});

test("env comes from the process environment", () => {
  const env = { EAST_AK: "a", EAST_SK: "b", WEST_AK: "c", WEST_SK: "d" };
  assert.equal(
    validate("examples/with-secrets.yaml", env).stdout,
    "examples/with-secrets.yaml: ok (1 route, 2 clusters)\n",
  );
  assert.equal(validate("examples/with-secrets.yaml").code, 1);
});

test("a bad file: exit 1 and every error on stderr, one per line", () => {
  const file = "test/fixtures/config/bad-unknown-keys.yaml";
  const r = validate(file);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.deepEqual(r.stderr.trimEnd().split("\n"), [
    `${file}:4:38  clusters.east.acessKey  unknown key "acessKey"`,
    `${file}:9:5  routes[0].strat  unknown key "strat"`,
    `${file}:10:1  deliverySemantics  unknown key "deliverySemantics"`,
  ]);
});

test("a missing file and a missing --config: exit 1 with a clear line", () => {
  const r = validate("no/such/file.yaml");
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "no/such/file.yaml:1:1  (file)  cannot read the config file: no such file\n");
  const none = spawnSync(process.execPath, [main, "validate"], { encoding: "utf8", timeout: 30_000 });
  assert.equal(none.status, 1);
  assert.match(none.stderr, /--config FILE is required/);
});
