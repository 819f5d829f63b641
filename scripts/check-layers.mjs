// Fails when a module imports from a higher layer (or, for a layer with an explicit list, from a
// layer not on it), when src/ has an import cycle between files, when anything but transport/
// touches sockets, or when anything but cli/ reads argv or exits.
//
// Ranks are strict (no two layers share one), so a sideways import between, say, config and
// connector fails like any upward one and no cycle can form between folders. The order is the
// one the code already follows: connector reads config's types, observability reads the
// engine's status and events, and the sandbox (a tool for tests, the demo and people) sits above
// them only so that none of them can import it; its own imports are restricted to the client
// and below.
//
// Cycles: every relative import counts, type-only ones included. `import type` is erased at
// run time, so it cannot cause an evaluation-order bug, but two files that each need the other's
// types are still one module in two files: neither can be read, tested or layered alone.
//
// Usage: node scripts/check-layers.mjs [srcDir]   (default: the repository's src/)
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve, dirname, sep } from "node:path";

/** Layer -> rank (bottom to top) and, optionally, the only layers it may import. */
const LAYERS = {
  protocol: { rank: 0 },
  transport: { rank: 1 },
  client: { rank: 2 },
  config: { rank: 3 },
  connector: { rank: 4 },
  observability: { rank: 5 },
  sandbox: { rank: 6, mayImport: ["protocol", "transport", "client"] },
  cli: { rank: 7 },
};
const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const src = resolve(process.argv[2] ?? join(root, "src"));
const base = dirname(src);

function* walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else if (name.endsWith(".ts")) yield path;
  }
}

const layerOf = (file) => relative(src, file).split(sep)[0];
const show = (file) => relative(base, file);
const problems = [];
/** file -> the src files it imports (NodeNext specifiers name the emitted .js). */
const graph = new Map();
for (const file of walk(src)) {
  const layer = layerOf(file);
  const rel = show(file);
  const edges = [];
  graph.set(file, edges);
  if (LAYERS[layer] === undefined) {
    problems.push(`${rel}: folder src/${layer} is not a known layer (add it to scripts/check-layers.mjs)`);
    continue;
  }
  const { rank, mayImport } = LAYERS[layer];
  const text = readFileSync(file, "utf8");
  for (const m of text.matchAll(
    /(?:import|export)[^"']*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|import\s*["']([^"']+)["']/g,
  )) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (/^(node:)?(net|tls)$/.test(spec) && layer !== "transport") {
      problems.push(`${rel}: imports ${spec}; only src/transport may open sockets`);
    }
    if (!spec.startsWith(".")) continue;
    const target = resolve(dirname(file), spec);
    if (!target.startsWith(src + sep)) continue;
    edges.push(target.replace(/\.js$/, ".ts"));
    const targetLayer = layerOf(target);
    if (targetLayer === layer || LAYERS[targetLayer] === undefined) continue;
    const targetRank = LAYERS[targetLayer].rank;
    if (targetRank > rank) {
      problems.push(
        `${rel}: ${layer} (rank ${rank}) imports ${spec} from ${targetLayer} (rank ${targetRank}); layers import downward only`,
      );
    } else if (mayImport !== undefined && !mayImport.includes(targetLayer)) {
      problems.push(
        `${rel}: ${layer} imports ${spec} from ${targetLayer}; ${layer} may import only ${mayImport.join(", ")}`,
      );
    }
  }
  if (layer !== "cli" && /process\.(argv|exit)\b/.test(text)) {
    problems.push(`${rel}: uses process.argv/process.exit; only src/cli may`);
  }
}

// Depth-first search; an edge back to a file still on the path closes a cycle. Each back edge is
// reported once, as the path from the file it returns to.
const DONE = 2;
const ON_PATH = 1;
const state = new Map();
const path = [];
function visit(file) {
  state.set(file, ON_PATH);
  path.push(file);
  for (const next of graph.get(file)) {
    if (!graph.has(next)) continue; // not a .ts file of src (tsc reports a missing one)
    if (state.get(next) === ON_PATH) {
      const cycle = [...path.slice(path.indexOf(next)), next].map(show);
      problems.push(`import cycle: ${cycle.join(" -> ")}`);
    } else if (state.get(next) !== DONE) {
      visit(next);
    }
  }
  path.pop();
  state.set(file, DONE);
}
for (const file of graph.keys()) if (!state.has(file)) visit(file);

if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log("layers ok");
