/**
 * What `run` and `demo` share: the structured logger and the two-stage shutdown on signals.
 */
import { pino } from "pino";
import type { Logger } from "../client/logger.js";
import type { ReplicationEngine } from "../connector/engine.js";

/**
 * JSON logs, one object per line, with stable field names (cluster, broker, topic, queueId,
 * nextOffset, err) and `time` in ISO-8601.
 */
export function createLogger(
  level: string,
  destination: NodeJS.WritableStream = process.stdout,
  base: object = {},
): Logger {
  return pino(
    { level, base: { pid: process.pid, ...base }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: destination === process.stderr ? 2 : 1, sync: true }),
  );
}

/**
 * The first SIGINT/SIGTERM drains in-flight sends and commits (bounded by drainTimeoutMs); a
 * second one exits at once, with code 130. Resolves when the engine has stopped.
 */
export function stopOnSignals(
  engine: ReplicationEngine,
  logger: Logger,
  drainTimeoutMs = 15_000,
): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, "second signal: exiting now without draining");
        process.exit(130);
      }
      stopping = true;
      logger.info(
        { signal, drainTimeoutMs },
        "stopping: draining in-flight messages and committing (signal again to exit at once)",
      );
      engine
        .stop({ drain: true, drainTimeoutMs })
        .catch((err: unknown) =>
          logger.error({ err: err instanceof Error ? err.message : String(err) }, "stop failed"),
        )
        .finally(resolve);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}
