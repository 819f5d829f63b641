/**
 * The client's entry point: one per RocketMQ cluster (set of NameServers). It owns the
 * connections and the route cache that its producers, pull consumers and admin share.
 */
import { hostname } from "node:os";
import { signRequest } from "../protocol/acl.js";
import type { TlsOptions } from "../transport/connection.js";
import { ConnectionPool } from "../transport/pool.js";
import { Admin } from "./admin.js";
import type { ClientContext } from "./context.js";
import { silentLogger, type Logger } from "./logger.js";
import { NameServerClient, parseNamesrvList } from "./name-server.js";
import { Producer, type ProducerOptions } from "./producer.js";
import { PullConsumer, type PullConsumerOptions } from "./pull-consumer.js";

export interface Credentials {
  accessKey: string;
  secretKey: string;
  securityToken?: string;
}

export interface ClientOptions {
  /** NameServer addresses: "host:port;host:port" or a list. */
  namesrv: string | readonly string[];
  /** Default request timeout in ms. Default 3000. */
  requestTimeoutMs?: number;
  /** Connect timeout in ms. Default 3000. */
  connectTimeoutMs?: number;
  /** Speak TLS to NameServers and brokers (true, or node:tls options). */
  tls?: boolean | TlsOptions;
  /** ACL credentials: every request is signed (HmacSHA1). */
  credentials?: Credentials;
  /** How long a topic route is cached, ms. Default 30 000. */
  routeTtlMs?: number;
  logger?: Logger;
  /**
   * Address translation: "host:port" as route data or `namesrv` names it -> "host:port" to
   * connect to instead (a broker behind NAT or a port-forward, a test's fault proxy). Applies to
   * brokers and NameServers; unmapped addresses connect as given. Errors name both addresses.
   * Throws RmqError RMQ_BAD_ADDRESS from the constructor for an entry that is not host:port.
   */
  addressMap?: Readonly<Record<string, string>>;
  /** Instance name in the client id (clientIP@instanceName). Default: pid and a random suffix. */
  instanceName?: string;
}

export class RocketMQClient {
  readonly admin: Admin;
  readonly nameServer: NameServerClient;
  readonly clientId: string;
  readonly #ctx: ClientContext;
  readonly #pool: ConnectionPool;

  constructor(options: ClientOptions) {
    const requestTimeoutMs = options.requestTimeoutMs ?? 3000;
    const logger = options.logger ?? silentLogger;
    const credentials = options.credentials;
    this.#pool = new ConnectionPool({
      requestTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs ?? 3000,
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      ...(options.addressMap === undefined ? {} : { addressMap: options.addressMap }),
      ...(credentials ? { signer: (ext, body) => signRequest(ext, body, credentials) } : {}),
    });
    this.nameServer = new NameServerClient(this.#pool, parseNamesrvList(options.namesrv), {
      requestTimeoutMs,
      logger,
      ...(options.routeTtlMs === undefined ? {} : { routeTtlMs: options.routeTtlMs }),
    });
    this.clientId = `${hostname()}@${options.instanceName ?? `${process.pid}#${Math.random().toString(36).slice(2, 10)}`}`;
    this.#ctx = {
      pool: this.#pool,
      nameServer: this.nameServer,
      logger,
      requestTimeoutMs,
      clientId: this.clientId,
    };
    this.admin = new Admin(this.#ctx);
  }

  /** A producer sharing this client's connections. */
  producer(options: ProducerOptions = {}): Producer {
    return new Producer(this.#ctx, options);
  }

  /** A pull consumer of `group` sharing this client's connections. */
  pullConsumer(options: PullConsumerOptions): PullConsumer {
    return new PullConsumer(this.#ctx, options);
  }

  /** Closes every connection. Pending requests fail with ConnectionError. */
  close(): void {
    this.#pool.close();
  }
}
