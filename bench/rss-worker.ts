/**
 * Child process of `npm run bench -- --rss-1m`: pulls a whole backlog with our client (one pull
 * loop per queue, as in the main pull phase) and prints one JSON line with its figures and its
 * peak resident set. A fresh process, so the figure is the pull's own footprint and not that of
 * the bench's bookkeeping or earlier phases.
 *
 * Usage: node dist/bench/rss-worker.js <namesrv> <topic> <group> <count> <maxMessages> <deadlineMs>
 */
import { RocketMQClient } from "../src/client/index.js";
import { pullPhase } from "./ours.js";

async function main(argv: readonly string[]): Promise<void> {
  const [namesrv, topic, group, count, maxMessages, deadlineMs] = argv;
  if (!namesrv || !topic || !group || !count || !maxMessages || !deadlineMs) {
    throw new Error("usage: rss-worker <namesrv> <topic> <group> <count> <maxMessages> <deadlineMs>");
  }
  const client = new RocketMQClient({ namesrv, requestTimeoutMs: 10_000 });
  try {
    const queues = (await client.admin.getTopicRoute(topic)).readQueues();
    const result = await pullPhase(client.pullConsumer({ group }), client.admin, {
      queues,
      count: Number(count),
      maxMessages: Number(maxMessages),
      deadlineMs: Number(deadlineMs),
    });
    // maxRSS is the kernel's high-water mark (KiB on Linux): exact, unlike sampling.
    const maxRssMiB = process.resourceUsage().maxRSS / 1024;
    process.stdout.write(`${JSON.stringify({ ...result, maxRssMiB })}\n`);
  } finally {
    client.close();
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`rss-worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
