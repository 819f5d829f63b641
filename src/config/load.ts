/**
 * Config loading: read the file, parse YAML keeping positions (JSON is YAML), interpolate the
 * environment into string values, check the schema and the cross-field rules, and resolve into
 * a frozen ConnectorConfig, or throw one ConfigError listing every problem at its line:col.
 *
 * Interpolation runs on the parsed string values, not on the raw text: a secret containing `#`,
 * `: ` or a quote cannot change the structure of the file, `${...}` in comments means nothing,
 * and positions are those of the file as written without a source map. A plain (unquoted)
 * scalar that was interpolated is re-typed as YAML would, so `requestTimeoutMs: ${TIMEOUT:-3000}`
 * is a number. Keys are not interpolated.
 */
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parse as parseYamlValue,
  parseDocument,
  type Document,
  type Node,
} from "yaml";
import type * as z from "zod";
import { ConfigError, type ConfigIssue } from "./errors.js";
import { readClusterFiles, readSecret } from "./files.js";
import { interpolate } from "./interpolate.js";
import { configSchema } from "./schema.js";
import type { ConnectorConfig } from "./types.js";
import { buildConfig, crossCheck, type ConfigPath } from "./validate.js";

/** Renders a path as `routes[0].from.topic`; `(root)` for the top level. */
export function formatPath(path: ConfigPath): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else
      out += /^[A-Za-z_$][\w$-]*$/.test(part)
        ? out === ""
          ? part
          : `.${part}`
        : `[${JSON.stringify(part)}]`;
  }
  return out === "" ? "(root)" : out;
}

/** Which string values are target topic templates, where `${lowercase}` is expected. */
const isTemplatePath = (path: ConfigPath): boolean =>
  path.length === 4 && path[0] === "routes" && path[2] === "to" && path[3] === "topic";

/** Finds the YAML node at `path`: the deepest node that exists (and its key node when asked). */
function nodeAt(doc: Document, path: ConfigPath, at: "key" | "value"): Node | undefined {
  let node: unknown = doc.contents;
  let key: Node | undefined;
  for (const part of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : p.key) === String(part));
      if (pair === undefined) return node;
      key = isScalar(pair.key) ? pair.key : undefined;
      // A key with no value (`topic:`) has a null value node without a useful range: use the key.
      node =
        pair.value === null || (isScalar(pair.value) && pair.value.range?.[0] === pair.value.range?.[1])
          ? key
          : pair.value;
    } else if (isSeq(node) && typeof part === "number") {
      const item: unknown = node.items[part];
      if (item === undefined) return node;
      node = item;
      key = undefined;
    } else {
      return node as Node | undefined;
    }
  }
  if (at === "key" && key !== undefined) return key;
  return node as Node | undefined;
}

/**
 * Parses and validates config text. `fileName` only labels the issues. Throws ConfigError with
 * every problem found; never throws anything else for bad input.
 */
export function parseConfig(
  text: string,
  fileName: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ConnectorConfig {
  const lineCounter = new LineCounter();
  const issues: ConfigIssue[] = [];
  const push = (offset: number, path: string, message: string): void => {
    const { line, col } = lineCounter.linePos(offset);
    issues.push({ file: fileName, line, col, path, message });
  };

  // uniqueKeys: a duplicate key is an error, not a silent "last one wins". merge: YAML 1.1 `<<`
  // merge keys, which ops teams use to share cluster or route settings.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true });
  for (const err of doc.errors) {
    if (err.code === "DUPLICATE_KEY") {
      const path = pathOfKeyAt(doc.contents, err.pos[0], []);
      push(
        err.pos[0],
        path === undefined ? "(file)" : formatPath(path),
        "duplicate key: a key may appear once in a mapping",
      );
    } else {
      push(err.pos[0], "(file)", err.message);
    }
  }
  // Past a syntax error the tree is a guess; a duplicate key leaves it sound, so go on then.
  if (doc.errors.some((e) => e.code !== "DUPLICATE_KEY")) throw new ConfigError(sortIssues(issues));
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    push(0, "(root)", "the file is empty; a config needs at least name, clusters and routes");
    throw new ConfigError(issues);
  }

  // A value whose interpolation failed is empty: what the schema says about it would only repeat that.
  const interpolationFailed = new Set<string>();
  const offsetOf = (node: Node | undefined | null): number => node?.range?.[0] ?? 0;
  const walk = (node: unknown, path: ConfigPath): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = isScalar(pair.key) ? pair.key.value : undefined;
        walk(pair.value, [
          ...path,
          typeof key === "number" ? String(key) : typeof key === "string" ? key : "?",
        ]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...path, i]));
    } else if (isScalar(node) && typeof node.value === "string") {
      const original = node.value;
      const result = interpolate(original, env);
      const source = text.slice(offsetOf(node), node.range?.[1] ?? offsetOf(node));
      const where = (index: number, expression: string): number => {
        // Offsets in the value equal those in the file for plain scalars only (quotes, escapes and
        // folding shift them): find the expression as written within the node's source instead.
        const found = source.indexOf(expression, Math.max(0, Math.min(index, source.length)));
        const first = found >= 0 ? found : source.indexOf(expression);
        return offsetOf(node) + Math.max(0, first);
      };
      for (const e of result.errors) push(where(e.index, e.expression), formatPath(path), e.message);
      if (result.errors.length > 0) interpolationFailed.add(formatPath(path));
      if (!isTemplatePath(path)) {
        if (result.leftovers.length > 0) interpolationFailed.add(formatPath(path));
        for (const l of result.leftovers) {
          push(
            where(l.index, l.expression),
            formatPath(path),
            `${l.expression} is not interpolated: environment variable names are UPPER_CASE ([A-Z_][A-Z0-9_]*); write $\${ for a literal "\${"`,
          );
        }
      }
      if (result.value !== original)
        node.value = retype(result.value, result.substituted && node.type === "PLAIN");
    }
  };
  walk(doc.contents, []);

  const report = (path: ConfigPath, message: string, at: "key" | "value" = "value"): void => {
    if (interpolationFailed.has(formatPath(path))) return;
    push(offsetOf(nodeAt(doc, path, at)), formatPath(path), message);
  };
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    push(0, "(file)", err instanceof Error ? err.message : String(err));
    throw new ConfigError(sortIssues(issues));
  }

  const parsed = configSchema.safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) reportZodIssue(issue, data, report);
  }
  crossCheck(data, report);
  if (issues.length > 0 || !parsed.success) throw new ConfigError(sortIssues(dedupe(issues)));
  const baseDir = dirname(resolve(fileName));
  const files = {
    clusters: readClusterFiles(parsed.data, baseDir, report),
    metricsToken: readSecret(parsed.data.metrics.token, baseDir, ["metrics", "token"], report),
  };
  // HTTP trims a header's trailing blanks and splits on inner ones: such a token could never match.
  if (files.metricsToken !== undefined && /\s/.test(files.metricsToken))
    report(["metrics", "token"], "the token must not contain spaces or other blanks");
  if (issues.length > 0) throw new ConfigError(sortIssues(dedupe(issues)));
  return buildConfig(parsed.data, fileName, files);
}

/** Reads, parses and validates a config file; throws ConfigError (code RMQ_CONFIG) listing every problem. */
export async function loadConfig(
  path: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<ConnectorConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const reason =
      err instanceof Error && "code" in err && err.code === "ENOENT"
        ? "no such file"
        : err instanceof Error
          ? err.message
          : String(err);
    throw new ConfigError(
      [{ file: path, line: 1, col: 1, path: "(file)", message: `cannot read the config file: ${reason}` }],
      { cause: err },
    );
  }
  return parseConfig(text, path, env);
}

/** The path of the mapping key that starts at `offset` (to name a duplicate key). */
function pathOfKeyAt(node: unknown, offset: number, path: ConfigPath): ConfigPath | undefined {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : "?";
      if (isScalar(pair.key) && pair.key.range?.[0] === offset) return [...path, key];
      const found = pathOfKeyAt(pair.value, offset, [...path, key]);
      if (found !== undefined) return found;
    }
  } else if (isSeq(node)) {
    for (const [i, item] of node.items.entries()) {
      const found = pathOfKeyAt(item, offset, [...path, i]);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** An interpolated plain scalar is typed as YAML would have typed it: numbers and booleans. */
function retype(value: string, plain: boolean): unknown {
  if (!plain) return value;
  try {
    const typed: unknown = parseYamlValue(value);
    return typeof typed === "number" || typeof typed === "boolean" ? typed : value;
  } catch {
    return value;
  }
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.col - b.col);
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.line}:${i.col}:${i.path}:${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const typeName = (v: unknown): string =>
  v === null
    ? "null"
    : Array.isArray(v)
      ? "a list"
      : typeof v === "object"
        ? "a mapping"
        : typeof v === "string"
          ? "a string"
          : `a ${typeof v}`;

const expectedName: Record<string, string> = {
  object: "a mapping",
  array: "a list",
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
};

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let v = data;
  for (const part of path) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[part];
  }
  return v;
}

/** Reports one zod issue in the project's words (zod's defaults name types, not config keys). */
function reportZodIssue(
  issue: z.core.$ZodIssue,
  data: unknown,
  report: (path: ConfigPath, message: string, at?: "key" | "value") => void,
): void {
  const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
  switch (issue.code) {
    case "unrecognized_keys":
      for (const key of issue.keys) report([...path, key], `unknown key "${key}"`, "key");
      return;
    case "invalid_type": {
      const actual = valueAt(data, path);
      const expected = expectedName[issue.expected] ?? issue.expected;
      // An unquoted `123` or `true` (written, or from an env value) is YAML's number or boolean.
      const hint =
        issue.expected === "string" && (typeof actual === "number" || typeof actual === "boolean")
          ? " (quote the value to keep it a string)"
          : "";
      report(
        path,
        actual === undefined
          ? `is required (${expected})`
          : `must be ${expected}, not ${typeName(actual)}${hint}`,
      );
      return;
    }
    case "invalid_union": {
      // A union fails as a whole; when one branch had the right type, its own issue says more.
      const typed = issue.errors.find((branch) =>
        branch.every((i) => i.code !== "invalid_type" || i.path.length > 0),
      );
      if (typed !== undefined) {
        for (const inner of typed)
          reportZodIssue({ ...inner, path: [...issue.path, ...inner.path] }, data, report);
      } else {
        // No branch had the right type: name every type the union takes.
        const actual = valueAt(data, path);
        const expected = [
          ...new Set(
            issue.errors.flatMap((branch) =>
              branch.flatMap((i) =>
                i.code === "invalid_type" && i.path.length === 0
                  ? [expectedName[i.expected] ?? i.expected]
                  : [],
              ),
            ),
          ),
        ];
        const hint =
          expected.includes("a string") && (typeof actual === "number" || typeof actual === "boolean")
            ? " (quote the value to keep it a string)"
            : "";
        report(path, `must be ${expected.join(" or ")}, not ${typeName(actual)}${hint}`);
      }
      return;
    }
    case "invalid_key":
      // A record key that its key schema refused (addressMap's host:port): zod says only
      // "Invalid key in record"; the key schema's own issue says what is wrong, at the key.
      for (const inner of issue.issues) report(path, `key ${inner.message}`, "key");
      return;
    case "invalid_value":
      report(path, `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`);
      return;
    case "too_small":
      report(
        path,
        issue.origin === "array"
          ? Number(issue.minimum) === 1
            ? "must not be empty"
            : `must list at least ${String(issue.minimum)} items`
          : issue.origin === "string"
            ? "must not be empty"
            : `must be >= ${String(issue.minimum)}`,
      );
      return;
    case "too_big":
      report(
        path,
        issue.origin === "array"
          ? `has more than ${String(issue.maximum)} items`
          : issue.origin === "string"
            ? `is longer than ${String(issue.maximum)} characters`
            : `must be <= ${String(issue.maximum)}`,
      );
      return;
    default:
      report(path, issue.message);
  }
}
