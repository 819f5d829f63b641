/**
 * Helpers for the observability tests: a parser for the Prometheus text exposition (enough of
 * format 0.0.4 for what prom-client writes), the metric table of docs/metrics.md, and HTTP GET.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  /** Metric family name -> type, from `# TYPE` lines. */
  types: Map<string, string>;
  samples: Sample[];
}

/** Parses the text exposition; throws on a line it does not understand. */
export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("# HELP ")) continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      types.set(type[1] as string, type[2] as string);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_s, c: string) => (c === "n" ? "\n" : c));
    const raw = m[3] as string;
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
    samples.push({ name: m[1] as string, labels, value });
  }
  return { types, samples };
}

/** Samples of one series name whose labels include `match`. */
export function series(e: Exposition, name: string, match: Record<string, string> = {}): Sample[] {
  return e.samples.filter(
    (s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v),
  );
}

/** Sum of the values of `series(e, name, match)`. */
export function total(e: Exposition, name: string, match: Record<string, string> = {}): number {
  return series(e, name, match).reduce((n, s) => n + s.value, 0);
}

/** Process and Node.js metrics of prom-client's default collectors (not documented one by one). */
export function isProcessDefault(name: string): boolean {
  return /^rmq_connector_(process|nodejs)_/.test(name);
}

export interface DocumentedMetric {
  name: string;
  type: string;
  /** The labels column: "queue", "route", "queue, kind", "name, version". */
  labels: string;
}

/** The metric table of docs/metrics.md (rows whose first cell is a backquoted metric name). */
export function documentedMetrics(): DocumentedMetric[] {
  const path = fileURLToPath(new URL("../../../docs/metrics.md", import.meta.url));
  const out: DocumentedMetric[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const m = /^\|\s*`(rmq_connector_[a-z0-9_]+)`\s*\|\s*([a-z]+)\s*\|\s*([^|]+?)\s*\|/.exec(line);
    if (m) out.push({ name: m[1] as string, type: m[2] as string, labels: m[3] as string });
  }
  return out;
}

/** Label names a documented labels column stands for. */
export function labelNames(column: string): string[] {
  return column
    .split(",")
    .map((s) => s.trim())
    .flatMap((l) =>
      l === "queue"
        ? ["route", "source_cluster", "target_cluster", "topic", "broker", "queue_id"]
        : l === "route"
          ? ["route", "source_cluster", "target_cluster"]
          : [l],
    );
}

/** GET (or another method) with a timeout; resolves with status, content type and body. */
export async function httpGet(
  url: string,
  method = "GET",
  headers: Record<string, string> = {},
): Promise<{ status: number; contentType: string; body: string }> {
  const res = await fetch(url, { method, headers, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, contentType: res.headers.get("content-type") ?? "", body: await res.text() };
}

/** Scrapes `${base}/metrics` and parses it. */
export async function scrape(base: string): Promise<Exposition> {
  const res = await httpGet(`${base}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${res.body}`);
  return parseExposition(res.body);
}
