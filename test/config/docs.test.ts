// docs/configuration.md and docs/connector.schema.json are generated from the schema: fail when
// the committed files differ from what scripts/gen-config-docs.ts produces now.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { generateConfigDocs, repoRoot } from "../../scripts/gen-config-docs.js";
import { configSchema } from "../../src/config/index.js";

test("committed config docs match the schema (run node dist/scripts/gen-config-docs.js)", async () => {
  const root = repoRoot();
  for (const file of await generateConfigDocs(root)) {
    const committed = readFileSync(join(root, file.path), "utf8");
    assert.ok(
      committed === file.text,
      `${file.path} is out of date: npm run build && node dist/scripts/gen-config-docs.js`,
    );
  }
});

test("every key of the schema is documented with a description", async () => {
  const [schema, markdown] = await generateConfigDocs();
  assert.ok(schema && markdown);
  const missing: string[] = [];
  const visit = (node: unknown, path: string): void => {
    if (typeof node !== "object" || node === null) return;
    const s = node as {
      properties?: Record<string, unknown>;
      items?: unknown;
      additionalProperties?: unknown;
      description?: unknown;
    };
    for (const [key, sub] of Object.entries(s.properties ?? {})) {
      const p = path === "" ? key : `${path}.${key}`;
      if (typeof (sub as { description?: unknown }).description !== "string") missing.push(p);
      if (!markdown.text.includes(`\`${p}\``)) missing.push(`${p} (not in configuration.md)`);
      visit(sub, p);
    }
    if (s.items !== undefined) visit(s.items, `${path}[]`);
    if (typeof s.additionalProperties === "object") visit(s.additionalProperties, `${path}.<name>`);
  };
  visit(JSON.parse(schema.text), "");
  assert.deepEqual(missing, []);
  assert.ok(configSchema.safeParse({}).success === false);
});
