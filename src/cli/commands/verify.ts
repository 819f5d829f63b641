/**
 * `rmq-connector verify --config F [--route R] [--from ...] [--until ...] [--json] [--verbose]`:
 * compares source and target message by message through provenance (src/connector/verify.ts)
 * and prints the source queues with problems and a summary line. Exit 0 clean, 1 when a problem
 * was found or the check could not run, 2 on bad arguments.
 */
import { silentLogger } from "../../client/logger.js";
import { loadConfig } from "../../config/index.js";
import { parseTimestamp } from "../../config/names.js";
import {
  verifyRoutes,
  type QueueVerifyReport,
  type VerifyFrom,
  type VerifyReport,
  type VerifyUntil,
} from "../../connector/verify.js";
import { parseFlags, required } from "../args.js";
import type { Command } from "../command.js";
import { errorLine, EXIT_USAGE, UsageError } from "../usage.js";

const HELP = `Usage: rmq-connector verify --config FILE [--route NAME] [--from WHERE] [--until WHERE] [--json] [--verbose]

Compares source and target message by message, through the provenance every replicated
message carries (RMQC_SOURCE, RMQC_WRITER = the config's name), and reports per source queue
the messages missing, duplicated, out of order and altered (body, flag, tags, keys or
properties differ from the mapping). Filtered, loop-skipped and dead-lettered messages are
counted, not missing. Read-only: commits no offset, writes nothing. Safe on a live connector.

Options:
  --config FILE    the connector config (required)
  --route NAME     verify this route only (default: every route)
  --from WHERE     first source offset of each queue: "first" (the lowest found in the target,
                   default), "earliest" (the source's min offset), or an ISO-8601 time with a
                   zone (the first message stored at or after it)
  --until WHERE    end of each queue's range: "committed" (the connector's committed offset,
                   default: never counts what it has not committed yet as missing) or "max"
                   (the source's max offset when verify started)
  --json           print the whole report as one JSON object
  --verbose        a line for every source queue, not only those with problems
  -h, --help       show this help

Exit status: 0 clean, 1 problems found or the check could not run, 2 bad arguments.
`;

const FLAGS = {
  config: { type: "string" },
  route: { type: "string" },
  from: { type: "string" },
  until: { type: "string" },
  json: { type: "boolean" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** --from's value; UsageError naming the flag otherwise. */
export function parseVerifyFrom(text: string): VerifyFrom {
  if (text === "first" || text === "earliest") return { kind: text };
  const ms = parseTimestamp(text);
  if (typeof ms === "number") return { kind: "timestamp", timestampMs: ms };
  throw new UsageError(
    `--from: "${text}" is not first, earliest or an ISO-8601 time with a zone, e.g. 2026-11-01T00:00:00Z`,
  );
}

/** --until's value; UsageError naming the flag otherwise. */
export function parseVerifyUntil(text: string): VerifyUntil {
  if (text === "committed" || text === "max") return text;
  throw new UsageError(`--until: "${text}" is not committed or max`);
}

function offsets(list: readonly bigint[], count: number): string {
  return list.join(",") + (count > list.length ? ",..." : "");
}

/** One line for a source queue: its range and every problem kind with its first offsets. */
export function queueLine(q: QueueVerifyReport): string {
  const problems = (["missing", "duplicated", "outOfOrder", "altered"] as const)
    .filter((kind) => q[kind] > 0)
    .map(
      (kind) =>
        `${q[kind]} ${kind === "outOfOrder" ? "out of order" : kind} [${offsets(q.examples[kind], q[kind])}]`,
    );
  const status = problems.length === 0 ? "ok" : problems.join(", ");
  return (
    `${q.route}  ${q.sourceCluster}/${q.sourceTopic} ${q.sourceBroker}#${q.queueId} ` +
    `[${q.fromOffset}, ${q.untilOffset}): ${q.checked} checked, ${status}` +
    ` (${q.filtered} filtered, ${q.loopSkipped} loop-skipped, ${q.deadLettered} dead-lettered)`
  );
}

/** The summary line. */
export function summaryLine(report: VerifyReport): string {
  const t = report.totals;
  return (
    `verify: ${t.checked} checked, ${t.missing} missing, ${t.duplicated} duplicated, ${t.outOfOrder} out of order, ` +
    `${t.altered} altered (${t.filtered} filtered, ${t.loopSkipped} loop-skipped, ${t.deadLettered} dead-lettered) ` +
    `on ${t.sourceQueues} source queue${t.sourceQueues === 1 ? "" : "s"} of ${t.routes} route${t.routes === 1 ? "" : "s"}`
  );
}

export const verifyCommand: Command = {
  summary: "compare source and target message by message: missing, duplicated, out of order, altered",
  async run(args) {
    let config;
    let options;
    let values;
    try {
      values = parseFlags(args, FLAGS, "verify");
      if (values.help) {
        process.stdout.write(HELP);
        return 0;
      }
      const path = required(values.config, "--config");
      options = {
        route: values.route,
        from: parseVerifyFrom(values.from ?? "first"),
        until: parseVerifyUntil(values.until ?? "committed"),
        logger: silentLogger,
      };
      config = await loadConfig(path);
    } catch (err) {
      process.stderr.write(errorLine(err));
      return err instanceof UsageError ? EXIT_USAGE : 1;
    }
    let report: VerifyReport;
    try {
      report = await verifyRoutes(config, options);
    } catch (err) {
      // The check could not run (a cluster unreachable, a route unknown): not "clean".
      process.stderr.write(errorLine(err));
      return 1;
    }
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify(report, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}\n`,
      );
    } else {
      for (const q of report.queues) {
        const problem = q.missing + q.duplicated + q.outOfOrder + q.altered > 0;
        if (problem || values.verbose) process.stdout.write(`${queueLine(q)}\n`);
      }
      process.stdout.write(`${summaryLine(report)}\n`);
    }
    return report.clean ? 0 : 1;
  },
};
