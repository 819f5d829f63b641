#!/usr/bin/env -S node --max-semi-space-size=4
/**
 * The `rmq-connector` command. The shebang caps V8's young generation at 4 MiB per semi-space:
 * under a pull-heavy load V8 otherwise grows it to 16 MiB per half, which costs ~30 MiB of RSS
 * for no throughput (bench --rss-1m: 164 MiB -> 137 MiB pulling 1M messages, and faster). Subcommands are rows of COMMANDS: to add one, write
 * src/cli/commands/<name>.ts exporting a `Command` and add a line below.
 */
import { RmqError } from "../protocol/errors.js";
import type { Command } from "./command.js";
import { consumeCommand } from "./commands/consume.js";
import { demoCommand } from "./commands/demo.js";
import { produceCommand } from "./commands/produce.js";
import { planCommand } from "./commands/plan.js";
import { runCommand } from "./commands/run.js";
import { sandboxCommand } from "./commands/sandbox.js";
import { statusCommand } from "./commands/status.js";
import { topicCommand } from "./commands/topic.js";
import { validateCommand } from "./commands/validate.js";
import { verifyCommand } from "./commands/verify.js";

const COMMANDS: Record<string, Command> = {
  run: runCommand,
  status: statusCommand,
  demo: demoCommand,
  plan: planCommand,
  validate: validateCommand,
  verify: verifyCommand,
  sandbox: sandboxCommand,
  produce: produceCommand,
  consume: consumeCommand,
  topic: topicCommand,
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Usage: rmq-connector <command> [options]

Commands:
${lines.join("\n")}

Run "rmq-connector <command> --help" for the options of a command.
`;
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage());
    return name === undefined ? 1 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`rmq-connector: unknown command "${name}"\n\n${usage()}`);
    return 1;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // One clear line; the stable code first so scripts can match on it. RmqError messages may
    // carry a log tail on following lines, which is the point of them, so those are kept.
    const message =
      err instanceof RmqError
        ? `${err.code}: ${err.message}`
        : err instanceof Error
          ? err.message
          : String(err);
    process.stderr.write(`rmq-connector: ${message}\n`);
    process.exit(1);
  },
);
