/**
 * Read-only resolution of a route: which source topics it selects, and where each source queue
 * goes. Shared by the engine (which then creates and runs) and by `plan` (which only prints).
 */
import type { Admin } from "../client/admin.js";
import { NameServerClient } from "../client/name-server.js";
import type { MessageQueue } from "../client/types.js";
import { RmqError } from "../protocol/errors.js";
import type { EngineRoute } from "./engine-config.js";
import { mapQueue } from "./queue-mapping.js";
import { isSystemTopic } from "./system-topics.js";

/**
 * The source topics a route selects: its one topic (which must exist: RMQ_SOURCE_TOPIC_MISSING
 * otherwise), or every topic its regex matches, RocketMQ's own topics excluded unless the route
 * includes system topics.
 */
export async function resolveSourceTopics(source: Admin, route: EngineRoute): Promise<string[]> {
  const from = route.from.topic;
  if (from.kind === "name") {
    try {
      await source.getTopicRoute(from.name, { refresh: true });
    } catch (err) {
      if (NameServerClient.isTopicNotExist(err)) {
        throw new RmqError(
          "RMQ_SOURCE_TOPIC_MISSING",
          `source topic ${from.name} does not exist on cluster ${route.from.cluster}`,
          {
            cause: err,
          },
        );
      }
      throw err;
    }
    return [from.name];
  }
  const [all, info] = await Promise.all([source.getTopicList(), source.getClusterInfo()]);
  // Every broker registers topics named after itself and its cluster; they are not user data.
  const ownNames = new Set([...info.brokers.map((b) => b.brokerName), ...info.clusters.keys()]);
  return all
    .filter((t) => from.regex.test(t))
    .filter((t) => route.includeSystemTopics || !isSystemTopic(t, ownNames))
    .sort();
}

/** One source topic of a route as it would run. */
export interface TopicPlan {
  sourceTopic: string;
  targetTopic: string;
  /** False when the target topic is missing (it will be created if the route allows). */
  targetExists: boolean;
  /** Queue count the target topic would be created with (per master). */
  createQueueNums: number | undefined;
  queues: { source: MessageQueue; target: MessageQueue | undefined }[];
}

/**
 * What a route would do, without changing anything: its source topics and queues, and the target
 * queue each maps to (undefined while the target topic does not exist yet).
 */
export async function planRoute(source: Admin, target: Admin, route: EngineRoute): Promise<TopicPlan[]> {
  const out: TopicPlan[] = [];
  for (const sourceTopic of await resolveSourceTopics(source, route)) {
    const sourceQueues = (await source.getTopicRoute(sourceTopic)).readQueues();
    const targetTopic = route.to.targetTopic(sourceTopic);
    let targetQueues: MessageQueue[] | undefined;
    try {
      targetQueues = (await target.getTopicRoute(targetTopic, { refresh: true })).writeQueues();
    } catch (err) {
      if (!NameServerClient.isTopicNotExist(err)) throw err;
    }
    const masters = targetQueues ? undefined : (await target.masterAddresses()).length;
    out.push({
      sourceTopic,
      targetTopic,
      targetExists: targetQueues !== undefined,
      createQueueNums: masters === undefined ? undefined : targetQueueNums(sourceQueues.length, masters),
      queues: sourceQueues.map((q) => ({
        source: q,
        target: targetQueues ? mapQueue(q, sourceQueues, targetQueues) : undefined,
      })),
    });
  }
  return out;
}

/** Queues per target master so that the target topic has at least the source's queue count. */
export function targetQueueNums(sourceQueueCount: number, targetMasters: number): number {
  return Math.max(1, Math.ceil(sourceQueueCount / Math.max(1, targetMasters)));
}
