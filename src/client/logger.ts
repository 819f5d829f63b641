/**
 * The logging interface library code takes. Fields are stable names (cluster, broker, topic,
 * queueId, nextOffset, err); pino's signature fits, so a pino logger can be passed as is.
 */
export interface Logger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

const noop = (): void => undefined;

/** A logger that drops everything: the default for library users who pass none. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
