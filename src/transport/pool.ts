/**
 * One connection per address, opened on first use and reopened on demand after it drops
 * (brokers close idle connections after 120 s; a broker restart closes them all). Concurrent
 * callers share one connect attempt.
 *
 * Address translation (`addressMap`): route data carries the addresses brokers announce
 * (brokerIP1:listenPort), which a client behind NAT, across a port-forward or behind a proxy
 * cannot reach. The map rewrites each address just before dialling; everything above the pool
 * (route caches, error context, logs) keeps the announced address, so broker names, routes and
 * broker-side logs still line up, and errors name both ("10.0.0.5:10911 (via 127.0.0.1:30911)").
 */
import type { RemotingCommand } from "../protocol/remoting-command.js";
import {
  Connection,
  parseAddress,
  type ConnectionOptions,
  type RequestCommand,
  type RequestOptions,
  type ServerRequestHandler,
} from "./connection.js";
import { ConnectionError } from "./errors.js";
import { RmqError } from "../protocol/errors.js";

export interface PoolOptions extends Omit<ConnectionOptions, "signal" | "via"> {
  /**
   * "host:port" as route data or the config names it -> "host:port" to dial instead. Applied to
   * every address the pool connects to, brokers and NameServers alike; an address not in the
   * map is dialled as given. Keys must match the announced address exactly (no DNS resolution).
   */
  addressMap?: Readonly<Record<string, string>> | undefined;
}

export class ConnectionPool {
  readonly #options: Omit<PoolOptions, "addressMap">;
  readonly #addressMap: ReadonlyMap<string, string>;
  readonly #connections = new Map<string, Connection>();
  readonly #connecting = new Map<string, Promise<Connection>>();
  #handler: ServerRequestHandler | undefined;
  #closed = false;

  constructor(options: PoolOptions = {}) {
    const { addressMap, ...connectionOptions } = options;
    this.#options = connectionOptions;
    // A Map, not the record itself: a key like "constructor" or "__proto__" must not find
    // Object.prototype's members.
    this.#addressMap = new Map(Object.entries(addressMap ?? {}));
    for (const [from, to] of this.#addressMap) checkMapEntry(from, to);
  }

  /** The address dialled for `address`: its addressMap entry, or itself. */
  dialAddress(address: string): string {
    return this.#addressMap.get(address) ?? address;
  }

  /** Handler for requests any broker sends on any pooled connection. */
  setRequestHandler(handler: ServerRequestHandler | undefined): void {
    this.#handler = handler;
    for (const c of this.#connections.values()) c.setRequestHandler(handler);
  }

  /** The open connection to `address`, connecting if needed. Throws ConnectionError. */
  async get(address: string, signal?: AbortSignal): Promise<Connection> {
    if (this.#closed) throw new ConnectionError("connection pool is closed", { context: { address } });
    const existing = this.#connections.get(address);
    if (existing && !existing.closed) return existing;
    let connecting = this.#connecting.get(address);
    if (!connecting) {
      connecting = Connection.connect(address, {
        ...this.#options,
        signal,
        via: this.dialAddress(address),
      }).then(
        (conn) => {
          this.#connecting.delete(address);
          if (this.#closed) {
            conn.close();
            throw new ConnectionError("connection pool is closed", { context: { address } });
          }
          conn.setRequestHandler(this.#handler);
          conn.once("close", () => {
            if (this.#connections.get(address) === conn) this.#connections.delete(address);
          });
          this.#connections.set(address, conn);
          return conn;
        },
        (err: unknown) => {
          this.#connecting.delete(address);
          throw err;
        },
      );
      this.#connecting.set(address, connecting);
    }
    return connecting;
  }

  /** Sends a request on the connection to `address` (see Connection.request). */
  async request(
    address: string,
    request: RequestCommand,
    options: RequestOptions = {},
  ): Promise<RemotingCommand> {
    const conn = await this.get(address, options.signal);
    return conn.request(request, options);
  }

  /** Sends a oneway request on the connection to `address`. */
  async oneway(address: string, request: RequestCommand): Promise<void> {
    const conn = await this.get(address);
    await conn.oneway(request);
  }

  /** Drops the connection to `address` (e.g. after a timeout made its state doubtful). */
  drop(address: string): void {
    this.#connections.get(address)?.close();
    this.#connections.delete(address);
  }

  /** Addresses with an open connection. */
  get addresses(): string[] {
    return [...this.#connections.keys()];
  }

  /** Closes every connection; later requests fail. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const c of this.#connections.values()) c.close();
    this.#connections.clear();
  }
}

/**
 * Throws RmqError RMQ_BAD_ADDRESS naming the addressMap entry when either side is not host:port:
 * found when the client is built, not at the first connect to that broker, minutes later.
 */
function checkMapEntry(from: string, to: string): void {
  for (const side of [from, to]) {
    try {
      parseAddress(side);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new RmqError(
        "RMQ_BAD_ADDRESS",
        `addressMap entry ${JSON.stringify(from)}: ${JSON.stringify(to)}: ${why}`,
        {
          cause: err,
        },
      );
    }
  }
}
