/**
 * The RocketMQ remoting client as a library: what `import ... from "rocketmq-connector"` gives.
 * It knows nothing of replication.
 */
export { RocketMQClient, type ClientOptions, type Credentials } from "./rocketmq-client.js";
export { Producer, type ProducerOptions, type SendOptions } from "./producer.js";
export {
  LONG_POLL_TIMEOUT_MARGIN_MS,
  PullConsumer,
  type PullConsumerOptions,
  type PullOptions,
  type PullResult,
} from "./pull-consumer.js";
export { findOffsetByStoreTime } from "./offset-search.js";
export {
  Admin,
  type BrokerRuntimeInfo,
  type CreateTopicOptions,
  type CreateSubscriptionGroupOptions,
} from "./admin.js";
export { NameServerClient, TopicRoute, parseNamesrvList, type CallOptions } from "./name-server.js";
export { silentLogger, type Logger } from "./logger.js";
export {
  compareQueues,
  queueKey,
  type Message,
  type MessageQueue,
  type PullStatus,
  type SendResult,
  type SendStatus,
} from "./types.js";
export type { MessageExt } from "../protocol/message.js";
export { EncodedProperties, rewriteProperties } from "../protocol/properties.js";
export { RmqError, ProtocolError, BrokerError } from "../protocol/errors.js";
export { ConnectionError, RequestTimeoutError, AbortedError } from "../transport/errors.js";
