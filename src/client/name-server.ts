/**
 * NameServer access: requests with failover across several addresses, and a topic-route cache.
 *
 * Requests go to the last NameServer that answered; on a connection failure or timeout the next
 * address is tried, each at most once per call, so one NameServer that is down in the list costs
 * one failed connect (fast on loopback: refused) and is then skipped. Routes are cached for
 * `routeTtlMs` and refreshed on demand (e.g. after a broker said the topic is not there).
 */
import { RequestCode, ResponseCode } from "../protocol/codes.js";
import { RmqError } from "../protocol/errors.js";
import {
  MASTER_ID,
  decodeClusterInfo,
  decodeTopicList,
  decodeTopicRouteData,
  type ClusterInfo,
  type TopicRouteData,
} from "../protocol/headers/route.js";
import type { RemotingCommand } from "../protocol/remoting-command.js";
import type { RequestCommand } from "../transport/connection.js";
import type { ConnectionPool } from "../transport/pool.js";
import { ConnectionError } from "../transport/errors.js";
import { expectCodes } from "./broker-call.js";
import type { Logger } from "./logger.js";
import type { MessageQueue } from "./types.js";

export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
}

/** Splits "a:9876;b:9876" (RocketMQ's own separator), commas and whitespace also accepted. */
export function parseNamesrvList(namesrv: string | readonly string[]): string[] {
  const list = (typeof namesrv === "string" ? [namesrv] : namesrv)
    .flatMap((s) => s.split(/[;,\s]+/))
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (list.length === 0) throw new RmqError("RMQ_CONFIG", "no NameServer address given");
  return list;
}

/** A topic's route with the lookups the client needs. */
export class TopicRoute {
  readonly topic: string;
  readonly data: TopicRouteData;
  constructor(topic: string, data: TopicRouteData) {
    this.topic = topic;
    this.data = data;
  }

  /** Master address of `brokerName`, or undefined if the route has none. */
  masterAddress(brokerName: string): string | undefined {
    return this.data.brokerDatas.find((b) => b.brokerName === brokerName)?.brokerAddrs.get(MASTER_ID);
  }

  /** Queues a consumer may read: readQueueNums per readable broker, sorted. */
  readQueues(): MessageQueue[] {
    return this.#queues(
      (q) => (q.perm & 4) !== 0,
      (q) => q.readQueueNums,
    );
  }

  /** Queues a producer may write: writeQueueNums per writable broker with a master, sorted. */
  writeQueues(): MessageQueue[] {
    return this.#queues(
      (q) => (q.perm & 2) !== 0 && this.masterAddress(q.brokerName) !== undefined,
      (q) => q.writeQueueNums,
    );
  }

  #queues(
    keep: (q: TopicRouteData["queueDatas"][number]) => boolean,
    count: (q: TopicRouteData["queueDatas"][number]) => number,
  ): MessageQueue[] {
    const out: MessageQueue[] = [];
    const datas = [...this.data.queueDatas].sort((a, b) =>
      a.brokerName < b.brokerName ? -1 : a.brokerName > b.brokerName ? 1 : 0,
    );
    for (const q of datas) {
      if (!keep(q)) continue;
      for (let i = 0; i < count(q); i++)
        out.push({ topic: this.topic, brokerName: q.brokerName, queueId: i });
    }
    return out;
  }
}

export interface NameServerOptions {
  requestTimeoutMs: number;
  /** How long a cached route is used before it is fetched again. Default 30 000 ms. */
  routeTtlMs?: number;
  logger: Logger;
}

export class NameServerClient {
  readonly addresses: readonly string[];
  readonly #pool: ConnectionPool;
  readonly #options: NameServerOptions;
  readonly #routes = new Map<string, { route: TopicRoute; fetchedAt: number }>();
  #current = 0;

  constructor(pool: ConnectionPool, addresses: readonly string[], options: NameServerOptions) {
    this.#pool = pool;
    this.addresses = addresses;
    this.#options = options;
  }

  /**
   * Sends a request to a NameServer, failing over to the next address on connection errors and
   * timeouts. Throws ConnectionError naming every address tried if none answers.
   */
  async request(
    request: RequestCommand,
    options: CallOptions = {},
  ): Promise<RemotingCommand & { address: string }> {
    const failures: string[] = [];
    let lastError: unknown;
    for (let i = 0; i < this.addresses.length; i++) {
      const index = (this.#current + i) % this.addresses.length;
      const address = this.addresses[index] as string;
      try {
        const response = await this.#pool.request(address, request, {
          timeoutMs: options.timeoutMs ?? this.#options.requestTimeoutMs,
          signal: options.signal,
        });
        this.#current = index;
        return Object.assign(response, { address });
      } catch (err) {
        if (!(err instanceof RmqError) || !err.retriable) throw err;
        lastError = err;
        failures.push(`${address}: ${err.message}`);
        this.#options.logger.warn(
          { namesrv: address, err: err.message },
          "NameServer unreachable, trying the next",
        );
        // A timed-out connection may be half-dead; reconnect next time.
        this.#pool.drop(address);
      }
    }
    throw new ConnectionError(`no NameServer answered (${failures.join("; ")})`, {
      cause: lastError,
      context: { address: this.addresses.join(";"), requestCode: request.code },
    });
  }

  /**
   * The route of `topic`, from the cache unless older than the TTL or `refresh` is set.
   * Throws BrokerError RMQ_BROKER_TOPIC_NOT_EXIST when no broker serves the topic.
   */
  async getTopicRoute(topic: string, options: CallOptions & { refresh?: boolean } = {}): Promise<TopicRoute> {
    const cached = this.#routes.get(topic);
    const ttl = this.#options.routeTtlMs ?? 30_000;
    if (cached && !options.refresh && Date.now() - cached.fetchedAt < ttl) return cached.route;
    const response = await this.request(
      { code: RequestCode.GET_ROUTEINFO_BY_TOPIC, extFields: { topic, acceptStandardJsonOnly: "true" } },
      options,
    );
    expectCodes(response, `route of topic ${topic}`, { address: response.address, topic });
    const route = new TopicRoute(topic, decodeTopicRouteData(response.body));
    this.#routes.set(topic, { route, fetchedAt: Date.now() });
    return route;
  }

  /** Forgets the cached route of `topic` (or of every topic). */
  invalidateRoute(topic?: string): void {
    if (topic === undefined) this.#routes.clear();
    else this.#routes.delete(topic);
  }

  /** Brokers and clusters registered with the NameServer. */
  async getClusterInfo(options: CallOptions = {}): Promise<ClusterInfo> {
    const response = await this.request({ code: RequestCode.GET_BROKER_CLUSTER_INFO }, options);
    expectCodes(response, "cluster info", { address: response.address });
    return decodeClusterInfo(response.body);
  }

  /** Every topic the NameServer knows, system topics included. */
  async getAllTopics(options: CallOptions = {}): Promise<string[]> {
    const response = await this.request({ code: RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER }, options);
    expectCodes(response, "topic list", { address: response.address });
    return decodeTopicList(response.body);
  }

  /** Topics of one cluster. */
  async getTopicsByCluster(cluster: string, options: CallOptions = {}): Promise<string[]> {
    const response = await this.request(
      { code: RequestCode.GET_TOPICS_BY_CLUSTER, extFields: { cluster } },
      options,
    );
    expectCodes(response, `topics of cluster ${cluster}`, { address: response.address });
    return decodeTopicList(response.body);
  }

  /** True when `err` says the topic has no route. */
  static isTopicNotExist(err: unknown): boolean {
    return err instanceof RmqError && err.context.responseCode === ResponseCode.TOPIC_NOT_EXIST;
  }
}
