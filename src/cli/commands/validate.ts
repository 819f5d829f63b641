/**
 * `rmq-connector validate --config FILE`: checks a config file without connecting anywhere.
 * Exit 0 and "FILE: ok (N routes, M clusters)" on stdout, or exit 1 and every problem on
 * stderr, one per line as `file:line:col  path  message`.
 */
import { parseArgs } from "node:util";
import { ConfigError, formatIssue, loadConfig } from "../../config/index.js";
import type { Command } from "../command.js";

const HELP = `Usage: rmq-connector validate --config FILE

Checks a connector config file (YAML or JSON) against the schema and the cross-field rules,
with environment interpolation, without connecting to any cluster. Prints every problem at once,
one per line: file:line:col  path  message. Exit 0 when valid, 1 otherwise.

Options:
  --config FILE   the config file
  -h, --help      show this help

Keys: docs/configuration.md.
`;

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

export const validateCommand: Command = {
  summary: "check a config file (every error at once, as file:line:col  path  message)",
  async run(args) {
    let values: { config?: string | undefined; help?: boolean | undefined };
    try {
      ({ values } = parseArgs({
        args: [...args],
        options: { config: { type: "string", short: "c" }, help: { type: "boolean", short: "h" } },
        strict: true,
        allowPositionals: false,
      }));
    } catch (err) {
      process.stderr.write(
        `rmq-connector validate: ${err instanceof Error ? err.message : String(err)}\n\n${HELP}`,
      );
      return 1;
    }
    if (values.help === true) {
      process.stdout.write(HELP);
      return 0;
    }
    if (values.config === undefined) {
      process.stderr.write(`rmq-connector validate: --config FILE is required\n\n${HELP}`);
      return 1;
    }
    try {
      const config = await loadConfig(values.config);
      const clusters = Object.keys(config.clusters).length;
      process.stdout.write(
        `${values.config}: ok (${plural(config.routes.length, "route")}, ${plural(clusters, "cluster")})\n`,
      );
      return 0;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      process.stderr.write(err.issues.map((i) => `${formatIssue(i)}\n`).join(""));
      return 1;
    }
  },
};
