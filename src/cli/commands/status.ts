/**
 * `rmq-connector status [--url URL]`: asks a running connector for /api/status and prints it as
 * tables (routes, then queues, then the last errors) — the status page for a terminal or an
 * ssh session. Exit 0 when the connector answered (whatever its state), 1 with one line on stderr
 * when it could not be reached or did not answer a status, 2 on bad arguments.
 */
import type { Command } from "../command.js";
import { parseFlags } from "../args.js";
import { parseDuration } from "../durations.js";
import { errorLine, EXIT_USAGE, UsageError } from "../usage.js";

/** Where `run` serves its HTTP endpoint unless the config's metrics.listen says otherwise. */
export const DEFAULT_STATUS_URL = "http://127.0.0.1:9464";

const HELP = `Usage: rmq-connector status [--url URL] [--json]

Asks a running connector (rmq-connector run) for its status over HTTP (GET URL/api/status) and
prints routes (state, replicated, lag, last sync, last error), then every queue (positions, lag
in messages and time, last sync, replicated, errors), then the last errors. The same data as the
status page at URL/ in a browser.

Options:
  --url URL       the connector's HTTP endpoint, its config's metrics.listen
                  (default ${DEFAULT_STATUS_URL})
  --json          print the JSON of /api/status as it came
  --timeout D     give up when no answer came within D (default 5s)
  -h, --help      show this help

When the connector has a token (metrics.token), give it in the environment: RMQ_STATUS_TOKEN
(a flag would show in ps).

Exit codes: 0 the connector answered, 1 it could not be reached, 2 bad arguments.
`;

/** The environment variable holding the connector's HTTP token (config metrics.token). */
export const STATUS_TOKEN_ENV = "RMQ_STATUS_TOKEN";

/** A route as /api/status reports it (engine RouteStatus; absent values are null). */
export interface ApiRoute {
  name: string;
  sourceCluster: string;
  targetCluster: string;
  state: string;
  sourceTopics: string[];
  lastError: { message: string; atMs: number } | null | undefined;
}

/** A queue as /api/status reports it (engine QueueStatus; bigints as decimal strings). */
export interface ApiQueue {
  route: string;
  state: string;
  sourceTopic: string;
  sourceBroker: string;
  queueId: number;
  targetCluster: string;
  targetTopic: string;
  targetBroker: string;
  targetQueueId: number;
  ackedOffset: string;
  committedOffset: string | null | undefined;
  lagMessages: string | null | undefined;
  lagMs: number;
  lastSyncAtMs: number | null | undefined;
  replicatedMessages: number;
  inFlightMessages: number;
  errorsByKind: Record<string, number>;
  /** Directions ("pull", "send") failing now, as /readyz reports them; empty when none. */
  failing: string[];
  lastError: { kind: string; message: string; atMs: number } | null | undefined;
}

/** The body of GET /api/status, as far as this command reads it. */
export interface ApiStatus {
  name: string;
  startedAtMs: number;
  /** Server time of the snapshot (ms); ages are computed against it, not the local clock. */
  now: number;
  ready: boolean | undefined;
  notReady: string[];
  routes: ApiRoute[];
  queues: ApiQueue[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown, fallback = ""): string =>
  typeof v === "string" ? v : typeof v === "number" || typeof v === "bigint" ? String(v) : fallback;
const num = (v: unknown, fallback = 0): number =>
  typeof v === "number" && Number.isFinite(v) ? v : fallback;
const optNum = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const optStr = (v: unknown): string | null =>
  typeof v === "string" || typeof v === "number" ? String(v) : null;

function errorOf(v: unknown): { kind: string; message: string; atMs: number } | null {
  if (!isObject(v)) return null;
  return { kind: str(v["kind"]), message: str(v["message"]), atMs: num(v["atMs"]) };
}

/**
 * Reads the JSON of /api/status. Tolerant of fields it does not know and of missing optional
 * ones; throws an Error when the body is not a connector status at all (another service on the
 * port).
 */
export function parseApiStatus(body: unknown, fallbackNowMs = Date.now()): ApiStatus {
  if (!isObject(body) || !Array.isArray(body["routes"]) || !Array.isArray(body["queues"])) {
    throw new Error("the answer is not a connector status (no routes and queues)");
  }
  const routes = (body["routes"] as unknown[]).filter(isObject).map((r): ApiRoute => ({
    name: str(r["name"]),
    sourceCluster: str(r["sourceCluster"]),
    targetCluster: str(r["targetCluster"]),
    state: str(r["state"], "unknown"),
    sourceTopics: Array.isArray(r["sourceTopics"]) ? r["sourceTopics"].map((t) => str(t)) : [],
    lastError: errorOf(r["lastError"]),
  }));
  const queues = (body["queues"] as unknown[]).filter(isObject).map((q): ApiQueue => {
    const kinds = isObject(q["errorsByKind"]) ? q["errorsByKind"] : {};
    return {
      route: str(q["route"]),
      state: str(q["state"], "unknown"),
      sourceTopic: str(q["sourceTopic"]),
      sourceBroker: str(q["sourceBroker"]),
      queueId: num(q["queueId"]),
      targetCluster: str(q["targetCluster"]),
      targetTopic: str(q["targetTopic"]),
      targetBroker: str(q["targetBroker"]),
      targetQueueId: num(q["targetQueueId"]),
      ackedOffset: str(q["ackedOffset"], "?"),
      committedOffset: optStr(q["committedOffset"]),
      lagMessages: optStr(q["lagMessages"]),
      lagMs: num(q["lagMs"]),
      lastSyncAtMs: optNum(q["lastSyncAtMs"]),
      replicatedMessages: num(q["replicatedMessages"]),
      inFlightMessages: num(q["inFlightMessages"]),
      errorsByKind: Object.fromEntries(Object.entries(kinds).map(([k, n]) => [k, num(n)])),
      failing: (["pull", "send"] as const).filter((d) => isObject(q[`${d}Failure`])),
      lastError: errorOf(q["lastError"]),
    };
  });
  return {
    name: str(body["name"]),
    startedAtMs: num(body["startedAtMs"]),
    now: num(body["now"], fallbackNowMs),
    ready: typeof body["ready"] === "boolean" ? body["ready"] : undefined,
    notReady: Array.isArray(body["notReady"]) ? body["notReady"].map((p) => str(p)) : [],
    routes,
    queues,
  };
}

/** 1234567 -> "1,234,567"; works on decimal strings of any length (bigint offsets). */
export function groupDigits(value: string | number): string {
  const s = String(value);
  const m = /^(-?)(\d+)$/.exec(s);
  if (!m) return s;
  return `${m[1] ?? ""}${(m[2] ?? "").replace(/\B(?=(\d{3})+(?!\d))/g, ",")}`;
}

/** A duration for people: "850 ms", "4.2 s", "12 s", "3m05s", "2h07m", "3d4h". */
export function humanDuration(ms: number): string {
  const t = Math.max(0, ms);
  if (t < 1000) return `${Math.round(t)} ms`;
  const s = t / 1000;
  if (s < 60) return s < 10 ? `${s.toFixed(1)} s` : `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d${h % 24}h`;
}

const ago = (atMs: number | null | undefined, now: number): string =>
  atMs === null || atMs === undefined ? "never" : `${humanDuration(now - atMs)} ago`;

/** Columns padded to their widest cell; `right` columns (numbers) aligned right. */
function table(header: readonly string[], rows: readonly string[][], right: ReadonlySet<number>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => {
        const w = widths[i] ?? 0;
        return right.has(i) ? c.padStart(w) : c.padEnd(w);
      })
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** Keeps one line, at most `max` characters: error messages can carry a broker's stack. */
function oneLine(text: string, max = 100): string {
  const flat = text.replace(/\s*\n\s*/g, " | ");
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

const lagSum = (queues: readonly ApiQueue[]): string => {
  const known = queues.filter((q) => q.lagMessages !== null && q.lagMessages !== undefined);
  if (known.length === 0) return "-";
  return groupDigits(known.reduce((n, q) => n + BigInt(q.lagMessages ?? "0"), 0n).toString());
};

const errorCount = (q: ApiQueue): number => Object.values(q.errorsByKind).reduce((n, k) => n + k, 0);

/**
 * The tables `status` prints: a header line, routes, queues (sorted by route, topic, broker,
 * queue id), and the last errors, newest first. Ages are relative to the status's own `now`.
 */
export function formatStatus(status: ApiStatus, source?: string): string {
  const now = status.now;
  const out: string[] = [];
  const readiness = status.ready === undefined ? "" : status.ready ? "  ready" : "  NOT READY";
  out.push(
    `connector ${status.name || "?"}  up ${humanDuration(now - status.startedAtMs)}${readiness}` +
      (source === undefined ? "" : `  (${source})`),
  );
  for (const p of status.notReady) out.push(`  not ready: ${oneLine(p, 160)}`);
  out.push("");

  const routeRows = status.routes.map((r) => {
    const qs = status.queues.filter((q) => q.route === r.name);
    const lastSync = qs.reduce<number | null>(
      (m, q) => (q.lastSyncAtMs != null && (m === null || q.lastSyncAtMs > m) ? q.lastSyncAtMs : m),
      null,
    );
    return [
      r.name,
      r.state,
      `${r.sourceCluster} -> ${r.targetCluster}`,
      String(qs.length),
      groupDigits(qs.reduce((n, q) => n + q.replicatedMessages, 0)),
      groupDigits(qs.reduce((n, q) => n + q.inFlightMessages, 0)),
      lagSum(qs),
      humanDuration(qs.reduce((m, q) => Math.max(m, q.lagMs), 0)),
      ago(lastSync, now),
      r.lastError ? oneLine(r.lastError.message, 80) : "",
    ];
  });
  out.push(
    status.routes.length === 0
      ? "no routes"
      : table(
          [
            "ROUTE",
            "STATE",
            "CLUSTERS",
            "QUEUES",
            "REPLICATED",
            "IN FLIGHT",
            "LAG MSGS",
            "LAG TIME",
            "LAST SYNC",
            "LAST ERROR",
          ],
          routeRows,
          new Set([3, 4, 5, 6, 7, 8]),
        ),
  );
  out.push("");

  const queues = [...status.queues].sort(
    (a, b) =>
      a.route.localeCompare(b.route) ||
      a.sourceTopic.localeCompare(b.sourceTopic) ||
      a.sourceBroker.localeCompare(b.sourceBroker) ||
      a.queueId - b.queueId,
  );
  out.push(
    queues.length === 0
      ? "no queues"
      : table(
          [
            "ROUTE",
            "TOPIC",
            "QUEUE",
            "TARGET",
            "STATE",
            "ACKED",
            "COMMITTED",
            "LAG MSGS",
            "LAG TIME",
            "LAST SYNC",
            "REPLICATED",
            "ERRORS",
          ],
          queues.map((q) => [
            q.route,
            q.sourceTopic,
            `${q.sourceBroker}#${q.queueId}`,
            `${q.targetCluster} ${q.targetTopic} ${q.targetBroker}#${q.targetQueueId}`,
            // A running queue retrying a failing pull or send says so, as the status page does.
            q.state === "running" && q.failing.length > 0 ? `failing (${q.failing.join(", ")})` : q.state,
            groupDigits(q.ackedOffset),
            q.committedOffset == null ? "-" : groupDigits(q.committedOffset),
            q.lagMessages == null ? "-" : groupDigits(q.lagMessages),
            humanDuration(q.lagMs),
            ago(q.lastSyncAtMs, now),
            groupDigits(q.replicatedMessages),
            groupDigits(errorCount(q)),
          ]),
          new Set([5, 6, 7, 8, 9, 10, 11]),
        ),
  );

  const errors = [
    ...status.routes.flatMap((r) =>
      r.lastError ? [{ at: r.lastError.atMs, where: `route ${r.name}`, message: r.lastError.message }] : [],
    ),
    ...queues.flatMap((q) =>
      q.lastError
        ? [
            {
              at: q.lastError.atMs,
              where: `${q.route} ${q.sourceTopic} ${q.sourceBroker}#${q.queueId} (${q.lastError.kind})`,
              message: q.lastError.message,
            },
          ]
        : [],
    ),
  ].sort((a, b) => b.at - a.at);
  if (errors.length > 0) {
    out.push("", "LAST ERRORS");
    for (const e of errors.slice(0, 20)) {
      out.push(`  ${ago(e.at, now).padStart(12)}  ${e.where}: ${oneLine(e.message, 160)}`);
    }
  }
  return `${out.join("\n")}\n`;
}

/** Why a fetch failed, in a few words: the system error of its cause when there is one. */
function fetchFailure(err: unknown): string {
  if (err instanceof Error && err.name === "TimeoutError") return "no answer in time";
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause instanceof Error) {
    const code = "code" in cause && typeof cause.code === "string" ? cause.code : undefined;
    return code !== undefined && !cause.message.includes(code) ? `${code}: ${cause.message}` : cause.message;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * GETs `<url>/api/status` and parses it. Throws an Error with one line that names the URL and
 * the reason when the connector cannot be reached, answers an HTTP error, or answers something
 * else than a status.
 */
export async function fetchStatus(
  url: string,
  timeoutMs: number,
  token: string | undefined = process.env[STATUS_TOKEN_ENV] || undefined,
): Promise<{ status: ApiStatus; body: unknown; url: string }> {
  let endpoint: string;
  try {
    endpoint = new URL("api/status", url.endsWith("/") ? url : `${url}/`).href;
  } catch {
    throw new UsageError(`--url: "${url}" is not a URL (example: ${DEFAULT_STATUS_URL})`);
  }
  const hint = "is the connector running, and is this its metrics.listen address?";
  let res: Response;
  try {
    res = await fetch(endpoint, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: {
        accept: "application/json",
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
    });
  } catch (err) {
    throw new Error(`cannot reach the connector at ${endpoint} (${fetchFailure(err)}); ${hint}`);
  }
  if (res.status === 401) {
    await res.body?.cancel();
    throw new Error(
      token === undefined
        ? `${endpoint} asks for the connector's token: set ${STATUS_TOKEN_ENV}`
        : `${endpoint} refused the token in ${STATUS_TOKEN_ENV}`,
    );
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`${endpoint} answered HTTP ${res.status} ${res.statusText}; ${hint}`);
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch (err) {
    throw new Error(`${endpoint} did not answer JSON (${fetchFailure(err)}); ${hint}`);
  }
  try {
    return { status: parseApiStatus(body), body, url: endpoint };
  } catch (err) {
    throw new Error(`${endpoint}: ${err instanceof Error ? err.message : String(err)}; ${hint}`);
  }
}

export const statusCommand: Command = {
  summary: "show a running connector's routes and queues (lag, last sync, errors) as tables",
  async run(args) {
    try {
      const v = parseFlags(
        args,
        {
          url: { type: "string", short: "u" },
          json: { type: "boolean" },
          timeout: { type: "string" },
          help: { type: "boolean", short: "h" },
        },
        "status",
      );
      if (v.help === true) {
        process.stdout.write(HELP);
        return 0;
      }
      const timeoutMs = v.timeout === undefined ? 5000 : parseDuration(v.timeout, "--timeout");
      const { status, body, url } = await fetchStatus(v.url ?? DEFAULT_STATUS_URL, timeoutMs);
      process.stdout.write(
        v.json === true ? `${JSON.stringify(body, null, 2)}\n` : formatStatus(status, url),
      );
      return 0;
    } catch (err) {
      if (err instanceof UsageError) {
        process.stderr.write(errorLine(err));
        return EXIT_USAGE;
      }
      const message = err instanceof Error ? err.message : String(err);
      process.stderr.write(`rmq-connector status: ${message.replace(/\s*\n\s*/g, " | ")}\n`);
      return 1;
    }
  },
};
