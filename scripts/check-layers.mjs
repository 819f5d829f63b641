// Fails when a module imports from a higher layer, when anything but transport/ touches sockets,
// or when anything but cli/ reads argv or exits. Layers, bottom to top, are listed in LAYERS;
// modules of the same rank may import each other.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve, dirname, sep } from "node:path";

const LAYERS = {
  protocol: 0,
  transport: 1,
  client: 2,
  config: 3,
  connector: 3,
  observability: 3,
  sandbox: 3,
  cli: 4,
};
const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const src = join(root, "src");

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else if (name.endsWith(".ts")) yield path;
  }
}

const layerOf = (file) => relative(src, file).split(sep)[0];
const problems = [];
for (const file of walk(src)) {
  const layer = layerOf(file);
  const rank = LAYERS[layer];
  const rel = relative(root, file);
  if (rank === undefined) {
    problems.push(`${rel}: folder src/${layer} is not a known layer (add it to scripts/check-layers.mjs)`);
    continue;
  }
  const text = readFileSync(file, "utf8");
  for (const m of text.matchAll(
    /(?:import|export)[^"']*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g,
  )) {
    const spec = m[1] ?? m[2];
    if (/^(node:)?(net|tls)$/.test(spec) && layer !== "transport") {
      problems.push(`${rel}: imports ${spec}; only src/transport may open sockets`);
    }
    if (!spec.startsWith(".")) continue;
    const target = resolve(dirname(file), spec);
    if (!target.startsWith(src + sep)) continue;
    const targetLayer = layerOf(target);
    const targetRank = LAYERS[targetLayer];
    if (targetRank !== undefined && targetRank > rank) {
      problems.push(
        `${rel}: ${layer} (rank ${rank}) imports ${spec} from ${targetLayer} (rank ${targetRank}); layers import downward only`,
      );
    }
  }
  if (layer !== "cli" && /process\.(argv|exit)\b/.test(text)) {
    problems.push(`${rel}: uses process.argv/process.exit; only src/cli may`);
  }
}
if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log("layers ok");
