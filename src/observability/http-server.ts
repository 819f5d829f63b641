/**
 * The connector's HTTP endpoint (node:http, no framework): Prometheus metrics, liveness,
 * readiness, the status as JSON and the status page. Read-only: every route answers GET and HEAD
 * only, and nothing here can change what the engine does.
 *
 *   GET /metrics     Prometheus text exposition (ConnectorMetrics)
 *   GET /healthz     200 "ok" while the process serves requests (liveness)
 *   GET /readyz      200 "ready" when every route and queue runs and no queue's pull or send is
 *                    failing now, else 503 with reasons (docs/metrics.md)
 *   GET /api/status  engine.status() as JSON, bigints as decimal strings (docs/metrics.md)
 *   GET /            the status page (status-page.ts)
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Logger } from "../client/logger.js";
import type { EngineStatus } from "../connector/engine.js";
import { RmqError } from "../protocol/errors.js";
import type { ConnectorMetrics, StatusSource } from "./metrics.js";
import { statusPageHtml } from "./status-page.js";

/** Options of startHttpServer. */
export interface HttpServerOptions {
  /** "host:port" to bind (config `metrics.listen`, default 127.0.0.1:9464); port 0 picks a free one. */
  listen: string;
  /** The engine (or anything reporting its status). */
  engine: StatusSource;
  metrics: ConnectorMetrics;
  logger: Logger;
  /**
   * Bearer token that /api/status and the page require (config `metrics.token`); /healthz and
   * /readyz stay open for probes. Absent: no token asked.
   */
  token?: string | undefined;
  /** /metrics requires the token too. Default false. */
  protectMetrics?: boolean;
}

/** A running HTTP endpoint. */
export interface HttpServerHandle {
  /** The bound address (with the real port when `listen` asked for port 0). */
  address: { host: string; port: number };
  /** The base URL, e.g. "http://127.0.0.1:9464". */
  url: string;
  /** Stops accepting connections and closes idle and open ones; resolves when closed. */
  close(): Promise<void>;
}

/**
 * Why the connector is not ready: one line per route at fault, per queue not running, and per
 * direction (pull, send) a running queue is failing in. Empty means ready.
 */
export function readinessProblems(status: EngineStatus): string[] {
  const problems: string[] = [];
  for (const r of status.routes) {
    if (r.state === "running") continue;
    const why = r.lastError
      ? `: ${r.lastError.message}`
      : r.state === "resolving"
        ? ": not resolved yet"
        : "";
    problems.push(`route ${r.name} is ${r.state}${why}`);
  }
  for (const q of status.queues) {
    const where = `queue ${q.route} ${q.sourceTopic} ${q.sourceBroker}#${q.queueId}`;
    if (q.state !== "running") {
      const err = q.lastError;
      problems.push(`${where} is ${q.state}${err ? ` (${err.kind}): ${err.message}` : ""}`);
      continue;
    }
    // A retriable failure (target or source down) keeps the queue "running" while it retries.
    // Each direction is judged by its own latest outcome: an idle queue's successful long polls
    // clear a pull failure, but only an acknowledged send clears a send failure (pulls go on
    // succeeding while the target is down). lastError is history and does not count.
    for (const failure of [q.pullFailure, q.sendFailure]) {
      if (failure !== undefined) problems.push(`${where} is failing (${failure.kind}): ${failure.message}`);
    }
  }
  return problems;
}

/** engine.status() as /api/status serves it: bigints as decimal strings, absent values as null. */
export function statusJson(status: EngineStatus, nowMs: number, problems: readonly string[]): string {
  return JSON.stringify(
    { now: nowMs, ready: problems.length === 0, notReady: problems, ...status },
    (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v === undefined ? null : v),
  );
}

/** Splits "host:port" (IPv6 hosts in brackets). Throws RmqError RMQ_CONFIG when malformed. */
function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen);
  const port = Number(m?.[3]);
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RmqError("RMQ_CONFIG", `metrics.listen must be host:port, got ${JSON.stringify(listen)}`);
  }
  const host = m[1] ?? m[2] ?? "";
  return { host: host === "" ? "127.0.0.1" : host, port };
}

/**
 * Starts the HTTP endpoint on `listen`. Resolves once it is bound; throws RmqError
 * RMQ_METRICS_LISTEN when it cannot bind (address in use, not local), so `run` fails at start
 * rather than running unobserved.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServerHandle> {
  const { engine, metrics, logger, token } = options;
  const { host, port } = parseListen(options.listen);
  const page = statusPageHtml();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? "/").split("?", 1)[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(res, 405, "text/plain; charset=utf-8", "method not allowed\n", { allow: "GET, HEAD" });
      return;
    }
    if (
      token !== undefined &&
      !OPEN_PATHS.has(path) &&
      (path !== "/metrics" || options.protectMetrics === true)
    ) {
      if (!authorized(req, token)) {
        // Both schemes: scrapers and scripts send Bearer; a browser asks for Basic (the token as
        // its password) and then sends it with the page's own fetches of /api/status.
        send(
          res,
          401,
          "text/plain; charset=utf-8",
          "unauthorized: this endpoint takes the connector's token\n",
          {
            "www-authenticate": 'Bearer realm="rmq-connector", Basic realm="rmq-connector", charset="UTF-8"',
          },
        );
        return;
      }
    }
    switch (path) {
      case "/metrics":
        send(res, 200, metrics.contentType, await metrics.text());
        return;
      case "/healthz":
        send(res, 200, "text/plain; charset=utf-8", "ok\n");
        return;
      case "/readyz": {
        const problems = readinessProblems(engine.status());
        // The reasons name topics, brokers, ACL users and addresses: with a token, only a caller
        // that gives it reads them; a probe needs the status code alone.
        const detailed = token === undefined || authorized(req, token);
        if (problems.length === 0) send(res, 200, "text/plain; charset=utf-8", "ready\n");
        else
          send(
            res,
            503,
            "text/plain; charset=utf-8",
            detailed ? `not ready\n${problems.join("\n")}\n` : "not ready\n",
          );
        return;
      }
      case "/api/status": {
        const now = Date.now();
        const status = engine.status();
        send(res, 200, "application/json; charset=utf-8", statusJson(status, now, readinessProblems(status)));
        return;
      }
      case "/":
      case "/index.html":
        send(res, 200, "text/html; charset=utf-8", page);
        return;
      default:
        send(res, 404, "text/plain; charset=utf-8", "not found\n");
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.error(
        { url: req.url, err: err instanceof Error ? err.message : String(err) },
        "HTTP request failed",
      );
      if (!res.headersSent) send(res, 500, "text/plain; charset=utf-8", "internal error\n");
      else res.destroy();
    });
  });
  // Scrapers and browsers keep connections alive; without this close() would wait for them.
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      reject(
        new RmqError(
          "RMQ_METRICS_LISTEN",
          `cannot listen on ${options.listen} for metrics and status: ${err.message}`,
          {
            cause: err,
          },
        ),
      );
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  server.on("error", (err) => logger.error({ err: err.message }, "HTTP server error"));

  const bound = server.address();
  // A TCP listen always has an AddressInfo (a string only for pipes and Unix sockets).
  if (bound === null || typeof bound === "string") throw new RmqError("RMQ_METRICS_LISTEN", "no TCP address");
  const address = { host: bound.address, port: bound.port };
  const urlHost = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
  logger.info(
    { listen: `${urlHost}:${bound.port}` },
    "serving /metrics, /healthz, /readyz, /api/status and /",
  );
  let closing: Promise<void> | undefined;
  return {
    address,
    url: `http://${urlHost}:${bound.port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** Paths that never ask for the token: a liveness or readiness probe must not need a secret. */
const OPEN_PATHS: ReadonlySet<string | undefined> = new Set(["/healthz", "/readyz"]);

/**
 * Whether the request carries `token`, as `Authorization: Bearer <token>` or as the password of
 * `Authorization: Basic`. Compared in constant time, on digests so that lengths do not leak.
 */
function authorized(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization ?? "";
  const scheme = /^\S*/.exec(header)?.[0] ?? "";
  const credentials = header.slice(scheme.length).trim();
  let given: string | undefined;
  if (/^bearer$/i.test(scheme)) given = credentials;
  else if (/^basic$/i.test(scheme)) {
    const decoded = Buffer.from(credentials, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    given = colon < 0 ? undefined : decoded.slice(colon + 1);
  }
  if (given === undefined) return false;
  const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest();
  return timingSafeEqual(digest(given), digest(token));
}

function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(res.req.method === "HEAD" ? undefined : body);
}
