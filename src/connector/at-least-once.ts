/**
 * The at-least-once delivery mode: positions are the connector group's consumer offsets on the
 * source cluster, a queue never saved starts at the route's `start`, and a send whose outcome is
 * unknown is sent again (so the target may hold a message twice, never lose one).
 */
import type { RocketMQClient } from "../client/rocketmq-client.js";
import { ConsumerOffsetCheckpoint } from "./checkpoint.js";
import { atLeastOnce } from "./delivery.js";
import type { DeliveryMode } from "./queue-ownership.js";
import { routeStartOffset } from "./start-position.js";

/** The mode of every at-least-once route reading `source` (one checkpoint per source cluster). */
export function atLeastOnceMode(source: RocketMQClient, group: string): DeliveryMode {
  return {
    checkpoint: new ConsumerOffsetCheckpoint(source.admin, group),
    recover: async (assignment, saved) => ({
      offset:
        saved?.nextSourceOffset ??
        (await routeStartOffset(source, group, assignment.route, assignment.sourceQueue)),
    }),
    policy: () => atLeastOnce,
    refreshIdleMs: 0,
    saveAfterRecovery: false,
  };
}
