/**
 * Writes docs/configuration.md and docs/connector.schema.json from the config schema
 * (src/config/schema.ts), formatted by Prettier as `npm run lint` expects them.
 *
 *   npm run build && node dist/scripts/gen-config-docs.js          # write
 *   npm run build && node dist/scripts/gen-config-docs.js --check  # exit 1 if they drifted
 *
 * test/config/docs.test.ts runs the same comparison, so a schema change without regenerating fails.
 */
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as prettier from "prettier";
import { configJsonSchema, configMarkdown, SCHEMA_FILE } from "../src/config/docs.js";

/** The repository root: the nearest directory above this file holding package.json (works from dist/ too). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("gen-config-docs: no package.json above this script");
    dir = parent;
  }
  return dir;
}

/** The generated files: path relative to the root, and the exact text to commit. */
export async function generateConfigDocs(root = repoRoot()): Promise<{ path: string; text: string }[]> {
  const files = [
    { path: SCHEMA_FILE, text: `${JSON.stringify(configJsonSchema(), null, 2)}\n`, parser: "json" },
    { path: "docs/configuration.md", text: configMarkdown(), parser: "markdown" },
  ];
  return Promise.all(
    files.map(async (f) => {
      const options = (await prettier.resolveConfig(join(root, f.path))) ?? {};
      return { path: f.path, text: await prettier.format(f.text, { ...options, parser: f.parser }) };
    }),
  );
}

async function main(args: readonly string[]): Promise<number> {
  const root = repoRoot();
  const check = args.includes("--check");
  let drifted = 0;
  for (const file of await generateConfigDocs(root)) {
    const target = join(root, file.path);
    const current = existsSync(target) ? await readFile(target, "utf8") : undefined;
    if (current === file.text) continue;
    if (check) {
      process.stderr.write(`${file.path} is out of date: run "node dist/scripts/gen-config-docs.js"\n`);
      drifted++;
    } else {
      await writeFile(target, file.text);
      process.stdout.write(`wrote ${file.path}\n`);
    }
  }
  return drifted === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`gen-config-docs: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
