/**
 * Which target queue a source queue's messages go to. Deterministic, so every connector process
 * and every restart agrees, and one source queue always feeds one target queue (order per queue
 * is kept).
 *
 * Both sides are sorted like Java's MessageQueue (brokerName, then queueId). The i-th source
 * queue maps to the i-th target queue when the counts match, which with equal broker names and
 * counts is "same broker, same queue id"; otherwise to target queue `i mod targetCount`. With
 * fewer target queues several source queues share one (order within each source queue still
 * holds); with more, some target queues stay unused.
 */
import { compareQueues, type MessageQueue } from "../client/types.js";
import { RmqError } from "../protocol/errors.js";

export function mapQueue(
  source: MessageQueue,
  sourceQueues: readonly MessageQueue[],
  targetQueues: readonly MessageQueue[],
): MessageQueue {
  const sortedSource = [...sourceQueues].sort(compareQueues);
  const sortedTarget = [...targetQueues].sort(compareQueues);
  const index = sortedSource.findIndex(
    (q) => q.brokerName === source.brokerName && q.queueId === source.queueId,
  );
  if (index < 0) {
    throw new RmqError(
      "RMQ_INTERNAL",
      `source queue ${source.brokerName}#${source.queueId} is not among the topic's queues`,
    );
  }
  if (sortedTarget.length === 0) {
    throw new RmqError("RMQ_NO_QUEUE", `target topic ${targetQueues[0]?.topic ?? ""} has no writable queue`);
  }
  return sortedTarget[index % sortedTarget.length] as MessageQueue;
}
