/**
 * `rmq-connector run --config F`: loads the config (refusing to start on any problem), starts the
 * replication engine and logs JSON lines to stdout until SIGINT/SIGTERM (first: drain and
 * commit; second: exit at once).
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../../config/index.js";
import { ReplicationEngine } from "../../connector/engine.js";
import { startHttpServer } from "../../observability/http-server.js";
import { ConnectorMetrics } from "../../observability/metrics.js";
import type { Command } from "../command.js";
import { createLogger, stopOnSignals } from "../runtime.js";

const HELP = `Usage: rmq-connector run --config FILE [--log-level LEVEL]

Runs the connector described by FILE (YAML or JSON; see docs/configuration.md). Logs are JSON
lines on stdout. Metrics, health, readiness, status (JSON) and a status page are served on the
config's metrics.listen (default 127.0.0.1:9464; see docs/metrics.md). The first SIGINT/SIGTERM
drains in-flight messages and commits progress; a second exits at once.

Options:
  --config FILE       the connector config (required)
  --log-level LEVEL   debug | info | warn | error (default: the config's log.level, else info)
  -h, --help          show this help
`;

export const runCommand: Command = {
  summary: "run the connector described by a config file",
  async run(args) {
    const { values } = parseArgs({
      args: [...args],
      options: {
        config: { type: "string" },
        "log-level": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (values.config === undefined) throw new Error("--config FILE is required");
    // The full config (not only what the engine reads): run also needs metrics.listen.
    const config = await loadConfig(values.config);
    const logger = createLogger(values["log-level"] ?? config.log?.level ?? "info", process.stdout, {
      connector: config.name,
    });
    const metrics = new ConnectorMetrics({ name: config.name });
    // Exactly-once counts its wait for an earlier process's last sends (Assumption D) from this
    // process's start, which came after that process ended; Node's own start overlaps the wait.
    const engine = new ReplicationEngine(
      { ...config, startedAtMs: Math.ceil(performance.timeOrigin) },
      logger,
      metrics.events,
    );
    metrics.bind(engine);
    // Bound before the engine starts: a taken port fails the start instead of running unobserved,
    // and /readyz answers "resolving" while routes resolve.
    const http = await startHttpServer({
      listen: config.metrics.listen,
      token: config.metrics.token,
      protectMetrics: config.metrics.protectMetrics,
      engine,
      metrics,
      logger,
    });
    const stopped = stopOnSignals(engine, logger);
    logger.info({ config: values.config, routes: config.routes.length }, "starting");
    await engine.start();
    logger.info({ queues: engine.status().queues.length }, "running");
    const keepAlive = setInterval(() => undefined, 1 << 30);
    await stopped;
    clearInterval(keepAlive);
    await http.close();
    logger.info({}, "stopped");
    return 0;
  },
};
