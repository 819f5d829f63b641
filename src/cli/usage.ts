/** Bad command-line arguments, and how the CLI commands turn failures into one stderr line. */
import { RmqError } from "../protocol/errors.js";

/** Exit code of a command given bad arguments (the shell convention for usage errors). */
export const EXIT_USAGE = 2;

/**
 * Bad command-line arguments; the message starts with the flag at fault ("--count: ...").
 * Code `RMQ_USAGE`, not retriable.
 */
export class UsageError extends RmqError {
  override name = "UsageError";
  constructor(message: string) {
    super("RMQ_USAGE", message);
  }
}

/**
 * node:util parseArgs errors are TypeErrors with a long hint after the first sentence
 * ("Unknown option '--bogus'. To specify a positional argument ..."); this keeps the sentence
 * that names the flag and says where to look.
 */
export function toUsageError(err: unknown, command: string): unknown {
  if (!(err instanceof TypeError) || !("code" in err) || typeof err.code !== "string") return err;
  if (!err.code.startsWith("ERR_PARSE_ARGS")) return err;
  const first = err.message.split(/\.\s/)[0] ?? err.message;
  return new UsageError(`${first.replace(/\.$/, "")} (see "rmq-connector ${command} --help")`);
}

/** An error on one line: the stable code first for RmqErrors, so scripts can match it. */
export function errorText(err: unknown): string {
  const message =
    err instanceof RmqError
      ? `${err.code}: ${err.message}`
      : err instanceof Error
        ? err.message
        : String(err);
  // Multi-line messages (a broker remark with a stack) would break "one line per error".
  return message.replace(/\s*\n\s*/g, " | ");
}

/** The one stderr line for an error: `rmq-connector: CODE: message`. */
export function errorLine(err: unknown): string {
  return `rmq-connector: ${errorText(err)}\n`;
}
