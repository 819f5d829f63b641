/**
 * A fault-injecting TCP proxy for tests: it sits between a client and a real NameServer or
 * broker (reached through ClientOptions.addressMap, see proxyCluster) and breaks the path on cue.
 *
 * Faults, each acting on every connection of the proxy at once:
 * - cut(): both sockets of every connection reset at once, so the client loses the connection
 *   with requests in flight (and the broker may or may not have read them);
 * - refuse(on): new connections are accepted and closed at once (a broker that went away);
 * - stall(on): nothing is forwarded either way, bytes are held and forwarded in order on resume
 *   (a frozen network path; the client's timers run out while the sockets stay open);
 * - delayResponses(ms): bytes upstream -> client wait ms, client -> upstream go at once. With ms
 *   beyond the client's request timeout the broker stores a send and answers it, but the client
 *   has timed out by the time the answer arrives: the "landed but unknown" outcome;
 * - dropResponses(on): bytes upstream -> client are discarded, requests still forwarded; the
 *   connection stays open (every request times out, each one having reached the broker);
 * - delayRequests(ms): bytes client -> upstream wait ms (a request on its way, not yet read);
 * - closeClients(): the client side of every connection closes, as at its process's death, but
 *   requests already on their way (delayed) still reach the broker at their time before the
 *   upstream side closes, as the kernel delivers a dead process's unsent bytes before its FIN;
 * - chaos(): a random schedule of the above, for soak tests.
 *
 * Bytes are forwarded as chunks, not frames: a cut can fall inside a frame, as on a real network.
 * Held bytes are kept in memory without bound; the tests move at most a few MB through a stall.
 */
import net from "node:net";
import { once } from "node:events";
import type { ClusterInfo } from "../../src/sandbox/index.js";
import { parseAddress } from "../../src/transport/connection.js";

/** What a proxy counted since it started. */
export interface FaultProxyCounters {
  /** Client connections accepted and forwarded. */
  accepted: number;
  /** Client connections closed at once while refusing. */
  refused: number;
  /** Connections destroyed by cut() (one per client connection). */
  cuts: number;
  /**
   * Bytes received from clients, counted on arrival even while stalled: a test waits for it to
   * grow to know a request has left the client and is in the proxy's hands.
   */
  bytesFromClient: number;
  /** Bytes written to the upstream (requests). */
  bytesToUpstream: number;
  /** Bytes written to clients (responses and broker-initiated requests). */
  bytesToClient: number;
  /** Upstream bytes discarded by dropResponses. */
  bytesDropped: number;
}

export interface FaultProxyOptions {
  /** "host:port" of the NameServer or broker to forward to. */
  upstream: string;
}

/** The faults a chaos schedule picks from. */
export type ChaosFault = "cut" | "refuse" | "stall" | "delay" | "drop";

export interface ChaosOptions {
  /** Time between two faults, ms: uniform in [min, max]. */
  everyMs: readonly [number, number];
  faults: readonly ChaosFault[];
  /** How long a lasting fault (refuse, stall, delay, drop) stays on, ms: uniform in [min, max]. Default [200, 1000]. */
  holdMs?: readonly [number, number];
  /** The delay of a "delay" fault, ms. Default 5000 (beyond the default 3000 ms request timeout). */
  delayMs?: number;
  /** In [0, 1), like Math.random; a seeded one makes a failing schedule repeatable. */
  random: () => number;
  /** Ends the schedule; the fault in force is lifted before the returned promise resolves. */
  signal: AbortSignal;
}

/** What a chaos schedule did: how many times each fault was applied. */
export type ChaosReport = Record<ChaosFault, number>;

/** One direction of one connection: an ordered queue of chunks, each due at a time. */
class Pipe {
  readonly #queue: { chunk: Buffer; dueMs: number }[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly write: (chunk: Buffer) => void,
    private readonly held: () => boolean,
  ) {}

  /** Queues `chunk` to leave after `delayMs` (0: at once), behind everything queued before it. */
  push(chunk: Buffer, delayMs: number): void {
    this.#queue.push({ chunk, dueMs: Date.now() + delayMs });
    this.pump();
  }

  /** Writes every chunk that is due, unless held; re-arms the timer for the next. */
  pump(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.held()) return;
    const now = Date.now();
    while (this.#queue.length > 0 && (this.#queue[0]?.dueMs ?? 0) <= now) {
      const next = this.#queue.shift();
      if (next) this.write(next.chunk);
    }
    const head = this.#queue[0];
    if (head) this.#timer = setTimeout(() => this.pump(), head.dueMs - now);
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#queue.length = 0;
  }

  /** Chunks not written yet. */
  get pending(): number {
    return this.#queue.length;
  }
}

/** A client connection and its upstream connection. */
interface Link {
  client: net.Socket;
  upstream: net.Socket;
  toUpstream: Pipe;
  toClient: Pipe;
}

/** A running proxy; see the file comment for the faults. */
export class FaultProxy {
  /** "127.0.0.1:PORT" to connect to instead of the upstream. */
  readonly address: string;
  readonly upstream: string;
  readonly #server: net.Server;
  readonly #links = new Set<Link>();
  readonly #counters: FaultProxyCounters = {
    accepted: 0,
    refused: 0,
    cuts: 0,
    bytesFromClient: 0,
    bytesToUpstream: 0,
    bytesToClient: 0,
    bytesDropped: 0,
  };
  #refusing = false;
  #stalled = false;
  #dropping = false;
  #delayMs: number | undefined;
  #requestDelayMs: number | undefined;

  private constructor(server: net.Server, address: string, upstream: string) {
    this.#server = server;
    this.address = address;
    this.upstream = upstream;
    server.on("connection", (socket) => this.#accept(socket));
  }

  /** Listens on an ephemeral loopback port. Throws RmqError RMQ_BAD_ADDRESS for a bad upstream. */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    parseAddress(options.upstream);
    const server = net.createServer({ noDelay: true });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as net.AddressInfo;
    return new FaultProxy(server, `127.0.0.1:${port}`, options.upstream);
  }

  /** A copy of the counters. */
  get counters(): FaultProxyCounters {
    return { ...this.#counters };
  }

  /** Client connections open now. */
  get connections(): number {
    return this.#links.size;
  }

  /** Resets every current connection, both sides, at once. Returns how many were cut. */
  cut(): number {
    const links = [...this.#links];
    for (const link of links) this.#destroy(link, true);
    this.#counters.cuts += links.length;
    return links.length;
  }

  /** While on, new connections are closed as soon as they are accepted; open ones are kept. */
  refuse(on: boolean): void {
    this.#refusing = on;
  }

  /** While on, nothing is forwarded either way; held bytes leave in order when it goes off. */
  stall(on: boolean): void {
    this.#stalled = on;
    if (!on) for (const link of this.#links) this.#pumpBoth(link);
  }

  /**
   * Delays every later chunk upstream -> client by `ms` (undefined: no delay); requests still
   * go at once. Bytes already waiting keep their time, and order is kept either way.
   */
  delayResponses(ms: number | undefined): void {
    this.#delayMs = ms;
  }

  /** Delays every later chunk client -> upstream by `ms` (undefined: no delay), order kept. */
  delayRequests(ms: number | undefined): void {
    this.#requestDelayMs = ms;
  }

  /**
   * Closes the client side of every current connection; the upstream side stays until the
   * requests held for it (delayRequests) were written, then ends with a FIN. Returns how many.
   */
  closeClients(): number {
    const links = [...this.#links];
    for (const link of links) {
      // Out of the set first: the close events below then leave the upstream pipe alone.
      this.#links.delete(link);
      link.toClient.clear();
      link.client.destroy();
      const finish = setInterval(() => {
        if (link.toUpstream.pending > 0) return;
        clearInterval(finish);
        link.upstream.end();
      }, 5);
    }
    return links.length;
  }

  /** While on, bytes upstream -> client are discarded; requests are forwarded, connections kept. */
  dropResponses(on: boolean): void {
    this.#dropping = on;
  }

  /**
   * Applies random faults until `signal` aborts: every [min, max] ms one of `faults`, a lasting
   * one held for `holdMs` and then lifted. Resolves, with the number of each fault applied, after
   * the abort once no fault is in force.
   */
  async chaos(options: ChaosOptions): Promise<ChaosReport> {
    const report: ChaosReport = { cut: 0, refuse: 0, stall: 0, delay: 0, drop: 0 };
    if (options.faults.length === 0) throw new Error("chaos: no faults to choose from");
    const between = (range: readonly [number, number]): number =>
      range[0] + Math.floor(options.random() * (range[1] - range[0] + 1));
    const { signal } = options;
    while (!signal.aborted) {
      await abortableSleep(between(options.everyMs), signal);
      if (signal.aborted) break;
      const fault =
        options.faults[Math.floor(options.random() * options.faults.length)] ?? options.faults[0] ?? "cut";
      report[fault]++;
      if (fault === "cut") {
        this.cut();
        continue;
      }
      const lift = this.#apply(fault, options.delayMs ?? 5000);
      await abortableSleep(between(options.holdMs ?? [200, 1000]), signal);
      lift();
    }
    return report;
  }

  /** Stops listening and destroys every connection. Idempotent. */
  async close(): Promise<void> {
    for (const link of [...this.#links]) this.#destroy(link, false);
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Turns a lasting fault on; returns what turns it off. */
  #apply(fault: Exclude<ChaosFault, "cut">, delayMs: number): () => void {
    switch (fault) {
      case "refuse":
        this.refuse(true);
        return () => this.refuse(false);
      case "stall":
        this.stall(true);
        return () => this.stall(false);
      case "delay":
        this.delayResponses(delayMs);
        return () => this.delayResponses(undefined);
      case "drop":
        this.dropResponses(true);
        return () => this.dropResponses(false);
    }
  }

  #accept(client: net.Socket): void {
    client.on("error", () => undefined);
    if (this.#refusing) {
      this.#counters.refused++;
      client.destroy();
      return;
    }
    this.#counters.accepted++;
    const { host, port } = parseAddress(this.upstream);
    const upstream = net.connect({ host, port, noDelay: true });
    upstream.on("error", () => undefined);
    const held = (): boolean => this.#stalled;
    const link: Link = {
      client,
      upstream,
      // Until the upstream is connected, net.Socket buffers what is written to it.
      toUpstream: new Pipe((chunk) => {
        this.#counters.bytesToUpstream += chunk.length;
        upstream.write(chunk);
      }, held),
      toClient: new Pipe((chunk) => {
        this.#counters.bytesToClient += chunk.length;
        client.write(chunk);
      }, held),
    };
    this.#links.add(link);
    client.on("data", (chunk: Buffer) => {
      this.#counters.bytesFromClient += chunk.length;
      link.toUpstream.push(chunk, this.#requestDelayMs ?? 0);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (this.#dropping) {
        this.#counters.bytesDropped += chunk.length;
        return;
      }
      link.toClient.push(chunk, this.#delayMs ?? 0);
    });
    // Either side going away takes the other with it, as a real path would.
    client.on("close", () => this.#destroy(link, false));
    upstream.on("close", () => this.#destroy(link, false));
  }

  #pumpBoth(link: Link): void {
    link.toUpstream.pump();
    link.toClient.pump();
  }

  /** Ends a link; `reset` sends RST (a cut) rather than a FIN. */
  #destroy(link: Link, reset: boolean): void {
    if (!this.#links.delete(link)) return;
    link.toUpstream.clear();
    link.toClient.clear();
    for (const socket of [link.client, link.upstream]) {
      // resetAndDestroy needs a connected socket; an upstream still connecting just goes.
      if (reset && socket.readyState === "open") socket.resetAndDestroy();
      else socket.destroy();
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** One proxy per broker of a cluster, and the address map that sends a client through them. */
export interface ProxiedCluster {
  /** For ClientOptions.addressMap: each broker's announced address -> its proxy. */
  addressMap: Readonly<Record<string, string>>;
  /** The proxies by broker name. */
  proxies: Map<string, FaultProxy>;
  /** Closes every proxy. */
  close(): Promise<void>;
}

/**
 * Proxies every broker of a sandbox cluster (its master; the sandbox runs one per cluster). The
 * map's key is ClusterInfo.brokerAddr, which is what the broker announces in route data
 * (brokerIP1 127.0.0.1 and its listenPort; test/e2e/address-map.test.ts checks that they
 * match). The NameServer is not proxied: the client reaches it directly.
 */
export async function proxyCluster(
  cluster: Pick<ClusterInfo, "brokerAddr" | "brokerName">,
): Promise<ProxiedCluster> {
  const proxy = await FaultProxy.start({ upstream: cluster.brokerAddr });
  const proxies = new Map([[cluster.brokerName, proxy]]);
  return {
    addressMap: Object.freeze({ [cluster.brokerAddr]: proxy.address }),
    proxies,
    async close() {
      await Promise.all([...proxies.values()].map((p) => p.close()));
    },
  };
}
