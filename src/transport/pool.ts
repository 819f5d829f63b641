/**
 * One connection per address, opened on first use and reopened on demand after it drops
 * (brokers close idle connections after 120 s; a broker restart closes them all). Concurrent
 * callers share one connect attempt.
 */
import type { RemotingCommand } from "../protocol/remoting-command.js";
import {
  Connection,
  type ConnectionOptions,
  type RequestCommand,
  type RequestOptions,
  type ServerRequestHandler,
} from "./connection.js";
import { ConnectionError } from "./errors.js";

export type PoolOptions = Omit<ConnectionOptions, "signal">;

export class ConnectionPool {
  readonly #options: PoolOptions;
  readonly #connections = new Map<string, Connection>();
  readonly #connecting = new Map<string, Promise<Connection>>();
  #handler: ServerRequestHandler | undefined;
  #closed = false;

  constructor(options: PoolOptions = {}) {
    this.#options = options;
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
      connecting = Connection.connect(address, { ...this.#options, signal }).then(
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
