/**
 * Where a route starts a source queue that has no saved position: the route's `start` (earliest,
 * latest, or the first message stored at or after a time).
 */
import { findOffsetByStoreTime } from "../client/offset-search.js";
import type { RocketMQClient } from "../client/rocketmq-client.js";
import type { MessageQueue } from "../client/types.js";
import type { EngineRoute } from "./engine-config.js";

export async function routeStartOffset(
  source: RocketMQClient,
  group: string,
  route: EngineRoute,
  queue: MessageQueue,
): Promise<bigint> {
  switch (route.start.kind) {
    case "earliest":
      return source.admin.getMinOffset(queue);
    case "latest":
      return source.admin.getMaxOffset(queue);
    case "timestamp":
      // The broker's own search is a guess (inexact on 4.x); this one checks store times.
      return findOffsetByStoreTime(
        source.admin,
        source.pullConsumer({ group }),
        queue,
        route.start.timestampMs,
      );
  }
}
