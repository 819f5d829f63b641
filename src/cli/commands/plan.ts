/**
 * `rmq-connector plan --config F`: connects read-only to every cluster and prints, per route, the
 * source topics and queues it selects, the target queue each one maps to, and the target topics
 * that would be created. Changes nothing.
 */
import { parseArgs } from "node:util";
import { RocketMQClient } from "../../client/rocketmq-client.js";
import { clientOptions } from "../../config/client-options.js";
import { planRoute } from "../../connector/route-resolver.js";
import type { Command } from "../command.js";
import { loadConfig } from "../../config/index.js";

const HELP = `Usage: rmq-connector plan --config FILE [--json]

Connects read-only to the clusters of FILE and prints what each route would replicate: source
topics and queues, the target queue of each, and target topics that would be created. Clients
are built as \`run\` builds them: each cluster's credentials (accessKey, secretKey and
securityToken, usually \${ENV} references), tls and requestTimeoutMs.

Options:
  --config FILE   the connector config (required)
  --json          one JSON object per route instead of text
  -h, --help      show this help
`;

export const planCommand: Command = {
  summary: "show what each route would replicate, read-only",
  async run(args) {
    const { values } = parseArgs({
      args: [...args],
      options: {
        config: { type: "string" },
        json: { type: "boolean" },
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
    const config = await loadConfig(values.config);
    const clients = new Map<string, RocketMQClient>();
    const client = (name: string): RocketMQClient => {
      let c = clients.get(name);
      if (!c) {
        const cluster = config.clusters[name];
        if (!cluster) throw new Error(`unknown cluster ${name}`);
        // The engine's own builder: credentials, TLS and the request timeout as `run` uses them.
        c = new RocketMQClient(clientOptions(cluster));
        clients.set(name, c);
      }
      return c;
    };
    let failed = false;
    try {
      for (const route of config.routes) {
        const out = (line: string): void => void process.stdout.write(`${line}\n`);
        try {
          const plans = await planRoute(
            client(route.from.cluster).admin,
            client(route.to.cluster).admin,
            route,
          );
          if (values.json) {
            out(
              JSON.stringify({
                route: route.name,
                topics: plans.map((p) => ({
                  ...p,
                  queues: p.queues.map((q) => ({ source: q.source, target: q.target ?? null })),
                })),
              }),
            );
            continue;
          }
          out(
            `route ${route.name}  (${route.from.cluster} -> ${route.to.cluster}, tags "${route.from.tags}", start ${route.start.kind})`,
          );
          if (plans.length === 0) out("  no source topic matches");
          for (const p of plans) {
            const create = p.targetExists
              ? ""
              : route.to.createTopic
                ? `  [will create ${p.targetTopic} with ${p.createQueueNums} queues per master]`
                : "  [MISSING: route has createTopic: false]";
            out(`  ${p.sourceTopic} -> ${p.targetTopic}${create}`);
            for (const q of p.queues) {
              const target = q.target
                ? `${q.target.brokerName}#${q.target.queueId}`
                : "(new topic, same index)";
              out(`    ${q.source.brokerName}#${q.source.queueId} -> ${target}`);
            }
          }
        } catch (err) {
          failed = true;
          out(`route ${route.name}: ERROR ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    } finally {
      for (const c of clients.values()) c.close();
    }
    return failed ? 1 : 0;
  },
};
