/** What the client's producer, consumer and admin share: connections, routing, settings. */
import { RmqError } from "../protocol/errors.js";
import type { RemotingCommand } from "../protocol/remoting-command.js";
import type { RequestCommand } from "../transport/connection.js";
import type { ConnectionPool } from "../transport/pool.js";
import type { Logger } from "./logger.js";
import type { CallOptions, NameServerClient } from "./name-server.js";
import type { MessageQueue } from "./types.js";

export interface ClientContext {
  readonly pool: ConnectionPool;
  readonly nameServer: NameServerClient;
  readonly logger: Logger;
  readonly requestTimeoutMs: number;
  /** clientIP@instance, as Java's buildMQClientId. */
  readonly clientId: string;
}

/**
 * The master address serving `queue`. Looks in the cached route first and refreshes it once if
 * the broker is missing (a broker that restarted or a topic created since). Throws RmqError
 * RMQ_NO_BROKER when no master serves the queue's broker.
 */
export async function masterAddressOf(
  ctx: ClientContext,
  queue: MessageQueue,
  options: CallOptions = {},
): Promise<string> {
  let route = await ctx.nameServer.getTopicRoute(queue.topic, options);
  let address = route.masterAddress(queue.brokerName);
  if (address === undefined) {
    route = await ctx.nameServer.getTopicRoute(queue.topic, { ...options, refresh: true });
    address = route.masterAddress(queue.brokerName);
  }
  if (address === undefined) {
    throw new RmqError(
      "RMQ_NO_BROKER",
      `no master of broker ${queue.brokerName} serves topic ${queue.topic}`,
      {
        retriable: true,
        context: { topic: queue.topic, brokerName: queue.brokerName, queueId: queue.queueId },
      },
    );
  }
  return address;
}

/** Sends `request` to the master of `queue`'s broker. */
export async function requestQueueBroker(
  ctx: ClientContext,
  queue: MessageQueue,
  request: RequestCommand,
  options: CallOptions & { resetOnTimeout?: boolean | undefined } = {},
): Promise<RemotingCommand & { address: string }> {
  const address = await masterAddressOf(ctx, queue, options);
  const response = await ctx.pool.request(address, request, {
    timeoutMs: options.timeoutMs ?? ctx.requestTimeoutMs,
    signal: options.signal,
    ...(options.resetOnTimeout === true ? { resetOnTimeout: true } : {}),
  });
  return Object.assign(response, { address });
}
