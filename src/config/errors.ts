/**
 * The config layer's error: every problem of a file at once, each with its position in the file
 * as written, so an operator fixes them all in one pass instead of one per restart.
 */
import { RmqError } from "../protocol/errors.js";

/** One problem in a config file. `line` and `col` are 1-based, in the original file. */
export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  /** Where in the config, e.g. `routes[1].from.topic`; `(file)` when no key applies (syntax). */
  path: string;
  message: string;
}

/** `file:line:col  path  message`, the one format of config errors (CLI, logs, tests). */
export function formatIssue(issue: ConfigIssue): string {
  return `${issue.file}:${issue.line}:${issue.col}  ${issue.path}  ${issue.message}`;
}

/**
 * A config file that cannot be used. Code `RMQ_CONFIG`, not retriable; `issues` lists every
 * problem found, in file order, and the message is them formatted one per line.
 */
export class ConfigError extends RmqError {
  override name = "ConfigError";
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options: { cause?: unknown } = {}) {
    super("RMQ_CONFIG", issues.map(formatIssue).join("\n"), { retriable: false, ...options });
    this.issues = Object.freeze([...issues]);
  }
}
