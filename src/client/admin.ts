/**
 * Administrative calls: cluster and topic metadata from the NameServer; queue offsets,
 * topic and subscription-group creation and consumer offsets from brokers.
 */
import { RequestCode, ResponseCode } from "../protocol/codes.js";
import { RmqError } from "../protocol/errors.js";
import {
  Perm,
  defaultSubscriptionGroupConfig,
  type SubscriptionGroupConfig,
} from "../protocol/headers/admin.js";
import { decodeBrokerRuntimeInfo, type BrokerRuntimeInfo } from "../protocol/broker-runtime-info.js";
import { decodeOffsetResponse } from "../protocol/headers/offsets.js";
import { MASTER_ID, type ClusterInfo } from "../protocol/headers/route.js";
import { toExtFields } from "../protocol/remoting-command.js";
import { parseTolerantJson, type JsonValue } from "../protocol/tolerant-json.js";
import { expectCodes } from "./broker-call.js";
import { requestQueueBroker, type ClientContext } from "./context.js";
import type { CallOptions, TopicRoute } from "./name-server.js";
import type { MessageQueue } from "./types.js";

export interface CreateTopicOptions extends CallOptions {
  topic: string;
  /** Read and write queue count per broker. Default 8. */
  queueNums?: number;
  /** Permission bits (R=4, W=2). Default 6. */
  perm?: number;
  /** Create on every master of this cluster. */
  clusterName?: string;
  /** Create on this broker address only. Default: every master the NameServer knows. */
  brokerAddr?: string;
  order?: boolean;
}

export interface CreateSubscriptionGroupOptions extends CallOptions {
  group: string;
  clusterName?: string;
  brokerAddr?: string;
  config?: Partial<SubscriptionGroupConfig>;
}

export type { BrokerRuntimeInfo } from "../protocol/broker-runtime-info.js";

export class Admin {
  readonly #ctx: ClientContext;
  /** brokerName -> master address, from the last cluster info; dropped when a call to it fails. */
  readonly #masterByBroker = new Map<string, string>();

  constructor(ctx: ClientContext) {
    this.#ctx = ctx;
  }

  /** Brokers and clusters registered with the NameServer. */
  getClusterInfo(options: CallOptions = {}): Promise<ClusterInfo> {
    return this.#ctx.nameServer.getClusterInfo(options);
  }

  /** The route of `topic`. Throws BrokerError RMQ_BROKER_TOPIC_NOT_EXIST if unknown. */
  getTopicRoute(topic: string, options: CallOptions & { refresh?: boolean } = {}): Promise<TopicRoute> {
    return this.#ctx.nameServer.getTopicRoute(topic, options);
  }

  /** All topics known to the NameServer, or those of one cluster. */
  getTopicList(options: CallOptions & { clusterName?: string } = {}): Promise<string[]> {
    return options.clusterName === undefined
      ? this.#ctx.nameServer.getAllTopics(options)
      : this.#ctx.nameServer.getTopicsByCluster(options.clusterName, options);
  }

  /** Master addresses selected by cluster name or an explicit address. */
  async masterAddresses(
    options: CallOptions & { clusterName?: string; brokerAddr?: string } = {},
  ): Promise<string[]> {
    if (options.brokerAddr !== undefined) return [options.brokerAddr];
    const info = await this.getClusterInfo(options);
    const brokers = info.brokers.filter(
      (b) => options.clusterName === undefined || b.cluster === options.clusterName,
    );
    const addresses = brokers
      .map((b) => b.brokerAddrs.get(MASTER_ID))
      .filter((a): a is string => a !== undefined);
    if (addresses.length === 0) {
      const which = options.clusterName === undefined ? "" : ` of cluster ${options.clusterName}`;
      throw new RmqError("RMQ_NO_BROKER", `no master broker${which} is registered with the NameServer`, {
        retriable: true,
      });
    }
    return addresses;
  }

  /**
   * The master address of broker `brokerName`, from the NameServer's cluster info (cached until
   * a call to it fails). Throws RmqError RMQ_NO_BROKER when no master of that name is registered.
   */
  async masterAddressOfBroker(brokerName: string, options: CallOptions = {}): Promise<string> {
    const cached = this.#masterByBroker.get(brokerName);
    if (cached !== undefined) return cached;
    const info = await this.getClusterInfo(options);
    for (const b of info.brokers) {
      const address = b.brokerAddrs.get(MASTER_ID);
      if (address !== undefined) this.#masterByBroker.set(b.brokerName, address);
    }
    const address = this.#masterByBroker.get(brokerName);
    if (address === undefined) {
      throw new RmqError(
        "RMQ_NO_BROKER",
        `no master of broker ${brokerName} is registered with the NameServer`,
        {
          retriable: true,
          context: { brokerName },
        },
      );
    }
    return address;
  }

  /**
   * The runtime figures of broker `brokerName`'s master (GET_BROKER_RUNTIME_INFO, 28): commit-log
   * end, dispatch lag, put-lock hold time, send-queue head age, and every other key in `raw`.
   * Throws RMQ_NO_BROKER, BrokerError, ConnectionError / RequestTimeoutError, or ProtocolError
   * when the body is not a KVTable with commitLogMaxOffset.
   */
  async getBrokerRuntimeInfo(brokerName: string, options: CallOptions = {}): Promise<BrokerRuntimeInfo> {
    const address = await this.masterAddressOfBroker(brokerName, options);
    try {
      const response = await this.#ctx.pool.request(
        address,
        { code: RequestCode.GET_BROKER_RUNTIME_INFO },
        { timeoutMs: options.timeoutMs ?? this.#ctx.requestTimeoutMs, signal: options.signal },
      );
      expectCodes(response, `runtime info of broker ${brokerName}`, { address, brokerName });
      return decodeBrokerRuntimeInfo(response.body);
    } catch (err) {
      // A restarted or failed-over master may have a new address: look it up again next time.
      this.#masterByBroker.delete(brokerName);
      throw err;
    }
  }

  /**
   * Creates or updates `topic` on the selected masters (UPDATE_AND_CREATE_TOPIC, idempotent
   * when unchanged) and forgets its cached route.
   */
  async createTopic(options: CreateTopicOptions): Promise<void> {
    const queueNums = options.queueNums ?? 8;
    const header = toExtFields({
      topic: options.topic,
      defaultTopic: "TBW102",
      readQueueNums: queueNums,
      writeQueueNums: queueNums,
      perm: options.perm ?? Perm.READ_WRITE,
      topicFilterType: "SINGLE_TAG",
      topicSysFlag: 0,
      order: options.order ?? false,
    });
    for (const address of await this.masterAddresses(options)) {
      const response = await this.#ctx.pool.request(
        address,
        { code: RequestCode.UPDATE_AND_CREATE_TOPIC, extFields: header },
        { timeoutMs: options.timeoutMs ?? this.#ctx.requestTimeoutMs, signal: options.signal },
      );
      expectCodes(response, `create topic ${options.topic}`, { address, topic: options.topic });
    }
    this.#ctx.nameServer.invalidateRoute(options.topic);
  }

  /** Creates or updates a subscription group on the selected masters. */
  async createSubscriptionGroup(options: CreateSubscriptionGroupOptions): Promise<void> {
    const body = Buffer.from(
      JSON.stringify({ ...defaultSubscriptionGroupConfig(options.group), ...options.config }),
    );
    for (const address of await this.masterAddresses(options)) {
      const response = await this.#ctx.pool.request(
        address,
        { code: RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, body },
        { timeoutMs: options.timeoutMs ?? this.#ctx.requestTimeoutMs, signal: options.signal },
      );
      expectCodes(response, `create subscription group ${options.group}`, { address, group: options.group });
    }
  }

  /** Smallest offset still in the queue. */
  getMinOffset(queue: MessageQueue, options: CallOptions = {}): Promise<bigint> {
    return this.#queueOffset(RequestCode.GET_MIN_OFFSET, "min offset", queue, {}, options);
  }

  /** The offset the next message written to the queue will get. */
  getMaxOffset(queue: MessageQueue, options: CallOptions = {}): Promise<bigint> {
    return this.#queueOffset(RequestCode.GET_MAX_OFFSET, "max offset", queue, {}, options);
  }

  /**
   * The offset of the first message stored at or after `timestampMs` (boundary LOWER), or the
   * last one at or before it (UPPER). Past the end it is the max offset.
   */
  searchOffset(
    queue: MessageQueue,
    timestampMs: number,
    options: CallOptions & { boundary?: "LOWER" | "UPPER" } = {},
  ): Promise<bigint> {
    return this.#queueOffset(
      RequestCode.SEARCH_OFFSET_BY_TIMESTAMP,
      `offset at ${new Date(timestampMs).toISOString()}`,
      queue,
      { timestamp: timestampMs, boundaryType: options.boundary ?? "LOWER" },
      options,
    );
  }

  /**
   * A consumer group's committed offset of a queue, or undefined if the group has none.
   * 4.x brokers cannot say "none": they answer 0 while the queue still starts at offset 0.
   */
  async queryConsumerOffset(
    group: string,
    queue: MessageQueue,
    options: CallOptions = {},
  ): Promise<bigint | undefined> {
    const response = await requestQueueBroker(
      this.#ctx,
      queue,
      {
        code: RequestCode.QUERY_CONSUMER_OFFSET,
        extFields: toExtFields({
          consumerGroup: group,
          topic: queue.topic,
          queueId: queue.queueId,
          setZeroIfNotFound: false,
          bname: queue.brokerName,
        }),
      },
      options,
    );
    const context = { address: response.address, topic: queue.topic, queueId: queue.queueId, group };
    expectCodes(response, `query offset of group ${group}`, context, [
      ResponseCode.SUCCESS,
      ResponseCode.QUERY_NOT_FOUND,
    ]);
    if (response.code === ResponseCode.QUERY_NOT_FOUND) return undefined;
    return decodeOffsetResponse(response.extFields);
  }

  /**
   * Whether the broker holds an offset of `group` for `queue`, read from its whole offset table
   * (GET_ALL_CONSUMER_OFFSET). Exact on every version, unlike queryConsumerOffset on 4.x, which
   * answers 0 for "none"; the table can be large, so call it only to settle that case.
   */
  async hasConsumerOffset(group: string, queue: MessageQueue, options: CallOptions = {}): Promise<boolean> {
    const response = await requestQueueBroker(
      this.#ctx,
      queue,
      { code: RequestCode.GET_ALL_CONSUMER_OFFSET },
      options,
    );
    expectCodes(response, "consumer offset table", { address: response.address, topic: queue.topic });
    const body = response.body ? parseTolerantJson(response.body.toString("utf8")) : null;
    const table = isObject(body) ? body["offsetTable"] : undefined;
    const entry = isObject(table) ? table[`${queue.topic}@${group}`] : undefined;
    return isObject(entry) && entry[String(queue.queueId)] !== undefined;
  }

  /** Stores a consumer group's offset of a queue (the next offset to consume). */
  async updateConsumerOffset(
    group: string,
    queue: MessageQueue,
    nextOffset: bigint,
    options: CallOptions = {},
  ): Promise<void> {
    const response = await requestQueueBroker(
      this.#ctx,
      queue,
      {
        code: RequestCode.UPDATE_CONSUMER_OFFSET,
        extFields: toExtFields({
          consumerGroup: group,
          topic: queue.topic,
          queueId: queue.queueId,
          commitOffset: nextOffset,
          bname: queue.brokerName,
        }),
      },
      options,
    );
    expectCodes(response, `update offset of group ${group}`, {
      address: response.address,
      topic: queue.topic,
      queueId: queue.queueId,
      group,
    });
  }

  async #queueOffset(
    code: number,
    what: string,
    queue: MessageQueue,
    extra: Record<string, unknown>,
    options: CallOptions,
  ): Promise<bigint> {
    const response = await requestQueueBroker(
      this.#ctx,
      queue,
      {
        code,
        extFields: toExtFields({
          topic: queue.topic,
          queueId: queue.queueId,
          bname: queue.brokerName,
          ...extra,
        }),
      },
      options,
    );
    expectCodes(response, `${what} of ${queue.topic} queue ${queue.brokerName}#${queue.queueId}`, {
      address: response.address,
      topic: queue.topic,
      queueId: queue.queueId,
    });
    return decodeOffsetResponse(response.extFields);
  }
}

function isObject(v: JsonValue | undefined): v is { [key: string]: JsonValue } {
  return v !== null && v !== undefined && typeof v === "object" && !Array.isArray(v);
}
