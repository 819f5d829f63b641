/**
 * `rmq-connector sandbox --clusters 2 [--version 5.5.0] [--acl] [--tls]`: starts local RocketMQ
 * clusters, prints one JSON line per cluster on stdout (for scripts: `jq -r .namesrv`; secured
 * clusters add the admin credentials and the CA path, so people can try them), logs to stderr,
 * and runs until SIGINT/SIGTERM, then stops every process, removes its files and exits 0.
 */
import { parseArgs } from "node:util";
import type { Logger } from "../../client/logger.js";
import { DEFAULT_ROCKETMQ_VERSION, startSandbox } from "../../sandbox/index.js";
import type { Command } from "../command.js";

const HELP = `Usage: rmq-connector sandbox [--clusters N] [--version V] [--acl] [--tls] [--base-dir DIR]

Starts N independent local RocketMQ clusters (one NameServer and one Broker each, as Java
processes on free loopback ports), prints one JSON line per cluster on stdout, and runs until
Ctrl-C or SIGTERM, then stops them and deletes their files.

Options:
  --clusters N      number of clusters (default 1)
  --version V       RocketMQ version (default env RMQ_VERSION or ${DEFAULT_ROCKETMQ_VERSION})
  --acl             turn ACL on (4.9.x: ACL 1.0, 5.x: ACL 2.0) with an admin account whose
                    random secret is printed as "acl": {"accessKey", "secretKey"} (4.9.x
                    also prints "aclFile", the broker's plain_acl.yml)
  --tls             enforce TLS on every port with a CA made for this run (needs openssl);
                    its path is printed as "tls": {"caFile"}; clients must trust it
  --base-dir DIR    where the sandbox directory is created (default the system temp dir)
  --timeout-ms MS   readiness deadline per process (default 120000)
  -h, --help        show this help

Needs java (17+) and mvn on PATH; jars are cached in $RMQ_CACHE_DIR or ~/.cache/rocketmq-connector.
`;

/** Logs as "sandbox: message key=value ..." lines on stderr. */
function stderrLogger(): Logger {
  const write =
    (level: string) =>
    (fields: object, message: string): void => {
      const kv = Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
        .join(" ");
      process.stderr.write(`sandbox ${level}: ${message}${kv ? ` ${kv}` : ""}\n`);
    };
  return { debug: () => undefined, info: write("info"), warn: write("warn"), error: write("error") };
}

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got "${value}"`);
  return n;
}

export const sandboxCommand: Command = {
  summary: "run local RocketMQ clusters (NameServer + Broker) until Ctrl-C",
  async run(args) {
    const { values } = parseArgs({
      args: [...args],
      options: {
        clusters: { type: "string" },
        version: { type: "string" },
        "base-dir": { type: "string" },
        "timeout-ms": { type: "string" },
        acl: { type: "boolean" },
        tls: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const clusters = positiveInt(values.clusters, "clusters", 1);
    const readyTimeoutMs = positiveInt(values["timeout-ms"], "timeout-ms", 120_000);
    const logger = stderrLogger();

    // Signals abort a start in progress, or end the run once started. We handle them here (not
    // in the sandbox) so that shutdown is the orderly stop() and the exit code is 0.
    const abort = new AbortController();
    const stopRequested = new Promise<NodeJS.Signals>((resolve) => {
      const onSignal = (signal: NodeJS.Signals): void => {
        logger.info({ signal }, "stopping");
        abort.abort();
        resolve(signal);
      };
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
    });

    let sandbox;
    try {
      sandbox = await startSandbox({
        clusters,
        readyTimeoutMs,
        acl: values.acl === true,
        tls: values.tls === true,
        handleSignals: false,
        logger,
        signal: abort.signal,
        ...(values.version === undefined ? {} : { version: values.version }),
        ...(values["base-dir"] === undefined ? {} : { baseDir: values["base-dir"] }),
      });
    } catch (err) {
      // Interrupted while starting: startSandbox already stopped what it had started.
      if (abort.signal.aborted) return 0;
      throw err;
    }
    for (const info of sandbox.info()) process.stdout.write(`${JSON.stringify(info)}\n`);
    logger.info({ clusters }, "running; press Ctrl-C to stop");
    // Keep the process alive (the JVMs are unref'd children) until a signal arrives.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    try {
      await stopRequested;
    } finally {
      clearInterval(keepAlive);
      await sandbox.stop();
    }
    return 0;
  },
};
