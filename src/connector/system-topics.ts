/**
 * RocketMQ's own topics, which a regex route never replicates unless it asks to: the default
 * template, scheduling, transactions, tracing, retries and dead letters, the connector's own
 * probe and checkpoint topics, and the broker-named
 * and cluster-named topics every broker registers.
 */
const SYSTEM_PREFIXES = [
  "rmq_sys_",
  "RMQ_SYS_",
  "%RETRY%",
  "%DLQ%",
  "%LMQ%",
  "rocketmq-connector-",
  // Exactly-once checkpoints (checkpoint-store.ts): never replicated as data.
  "RMQC_CHECKPOINT_",
];
const SYSTEM_NAMES = new Set([
  "TBW102",
  "SCHEDULE_TOPIC_XXXX",
  "BenchmarkTest",
  "OFFSET_MOVED_EVENT",
  "SELF_TEST_TOPIC",
  "RMQ_SYS_TRANS_HALF_TOPIC",
  "RMQ_SYS_TRACE_TOPIC",
  "RMQ_SYS_TRANS_OP_HALF_TOPIC",
  "TRANS_CHECK_MAX_TIME_TOPIC",
]);

/** True for RocketMQ system topics (by name or prefix). Broker- and cluster-named topics are passed in. */
export function isSystemTopic(
  topic: string,
  brokerAndClusterNames: ReadonlySet<string> = new Set(),
): boolean {
  return (
    SYSTEM_NAMES.has(topic) ||
    SYSTEM_PREFIXES.some((p) => topic.startsWith(p)) ||
    brokerAndClusterNames.has(topic)
  );
}
