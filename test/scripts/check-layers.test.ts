/**
 * scripts/check-layers.mjs against small fake src/ trees: it must pass a tree that follows the
 * layers and report, line by line, every upward or off-list import and every import cycle.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// Compiled to dist/test/scripts/; the script itself is not compiled.
const CHECKER = fileURLToPath(new URL("../../../scripts/check-layers.mjs", import.meta.url));

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Writes `files` (path under src/ -> text) into a fresh temp dir; returns its src/. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "check-layers-"));
  dirs.push(dir);
  const src = join(dir, "src");
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(src, path)), { recursive: true });
    writeFileSync(join(src, path), text);
  }
  return src;
}

function check(src: string): { status: number | null; stdout: string; problems: string[] } {
  const run = spawnSync(process.execPath, [CHECKER, src], { encoding: "utf8", timeout: 30_000 });
  const problems = run.stderr.split("\n").filter((line) => line !== "");
  return { status: run.status, stdout: run.stdout, problems: problems.sort() };
}

describe("check-layers", () => {
  it("passes a tree whose imports go downward, type-only and re-exports included", () => {
    const src = tree({
      "protocol/codes.ts": "export const OK = 0;\n",
      "client/producer.ts": 'import { OK } from "../protocol/codes.js";\nexport const sent = OK;\n',
      "config/load.ts": 'import type { sent } from "../client/producer.js";\nexport type S = typeof sent;\n',
      "connector/engine.ts":
        'import type { S } from "../config/load.js";\nexport const engine = 1 as unknown as S;\n',
      "observability/metrics.ts": 'export { engine } from "../connector/engine.js";\n',
      "sandbox/cluster.ts": 'import { sent } from "../client/producer.js";\nexport const c = sent;\n',
      "cli/main.ts":
        'import "../sandbox/cluster.js";\nimport { engine } from "../observability/metrics.js";\nprocess.exit(engine);\n',
    });
    const result = check(src);
    assert.deepEqual(result.problems, []);
    assert.equal(result.status, 0);
    assert.match(result.stdout, /layers ok/);
  });

  it("fails on a sideways import between former equals, on the sandbox reaching past the client, and on cycles", () => {
    const src = tree({
      "protocol/codes.ts": "export const OK = 0;\n",
      // config and connector shared rank 3 before; config importing connector is now upward.
      "config/load.ts": 'import { engine } from "../connector/engine.js";\nexport const load = engine;\n',
      "connector/engine.ts": 'import { OK } from "../protocol/codes.js";\nexport const engine = OK;\n',
      // Below the sandbox by rank, but not on its list.
      "sandbox/cluster.ts": 'import { engine } from "../connector/engine.js";\nexport const c = engine;\n',
      // A three-file cycle, one edge of it type-only, and a two-file one made of re-exports.
      "connector/a.ts": 'import { b } from "./b.js";\nexport const a = b;\n',
      "connector/b.ts": 'import { c } from "./c.js";\nexport const b = c;\n',
      "connector/c.ts": 'import type { a } from "./a.js";\nexport const c = 1 as unknown as typeof a;\n',
      "client/x.ts": 'export * from "./y.js";\n',
      "client/y.ts": 'export { z } from "./x.js";\nexport const y = 1;\n',
    });
    const result = check(src);
    assert.equal(result.status, 1);
    assert.deepEqual(result.problems, [
      "import cycle: src/client/x.ts -> src/client/y.ts -> src/client/x.ts",
      "import cycle: src/connector/a.ts -> src/connector/b.ts -> src/connector/c.ts -> src/connector/a.ts",
      "src/config/load.ts: config (rank 3) imports ../connector/engine.js from connector (rank 4); layers import downward only",
      "src/sandbox/cluster.ts: sandbox imports ../connector/engine.js from connector; sandbox may import only protocol, transport, client",
    ]);
  });

  it("fails on an unknown folder, sockets outside transport and process.exit outside cli", () => {
    const src = tree({
      "util/strings.ts": "export const s = 1;\n",
      "client/conn.ts": 'import { connect } from "node:net";\nexport const c = connect;\n',
      "connector/engine.ts": "export function stop(): void {\n  process.exit(1);\n}\n",
    });
    const result = check(src);
    assert.equal(result.status, 1);
    assert.deepEqual(result.problems, [
      "src/client/conn.ts: imports node:net; only src/transport may open sockets",
      "src/connector/engine.ts: uses process.argv/process.exit; only src/cli may",
      "src/util/strings.ts: folder src/util is not a known layer (add it to scripts/check-layers.mjs)",
    ]);
  });
});
