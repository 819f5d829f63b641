/**
 * One TCP (or TLS) connection to a NameServer or Broker, speaking remoting frames.
 *
 * Requests are correlated by `opaque`. Each request has its own timeout and optional
 * AbortSignal; when the connection drops every pending request fails at once with a
 * ConnectionError. Writes respect socket backpressure: a request waits for 'drain' before
 * writing when the socket's buffer is full. Requests initiated by the broker (e.g.
 * NOTIFY_CONSUMER_IDS_CHANGED) go to a handler; sync ones without a handler are answered with
 * REQUEST_CODE_NOT_SUPPORTED so the broker does not wait for a reply that never comes.
 *
 * Errors about a request name it by code name and opaque ("PULL_MESSAGE (code 11, opaque 4711)
 * to 127.0.0.1:10911 timed out after 30000 ms"): a bare "request 11" reads like a request id,
 * and the opaque is what matches a broker-side log line or a packet capture.
 *
 * Hostile or broken peers: bytes that cannot be a frame (a length outside the frame limit, a
 * header that does not decode) close the connection at once with a ConnectionError whose cause
 * is the ProtocolError, failing every pending request then rather than at its timeout. A
 * response to an unknown opaque is dropped (a late response after a timeout is normal). A request
 * that times out while the stream has sat in the middle of a frame for half that timeout closes
 * the connection too: responses arrive in order, so every later one is stuck behind that frame.
 *
 * A connection may be dialled at another address than the one it stands for (`via`: address
 * translation behind NAT or through a proxy, see ConnectionPool's addressMap). Its errors then
 * name both, "to 10.0.0.5:10911 (via 127.0.0.1:30911)": the first is what route data and broker
 * logs say, the second is where the bytes actually went, and an operator needs both to tell a
 * dead broker from a dead translation.
 */
import { EventEmitter, once } from "node:events";
import net from "node:net";
import tls from "node:tls";
import { FrameDecoder, DEFAULT_MAX_FRAME_BYTES } from "../protocol/frame.js";
import {
  CLIENT_VERSION,
  ONEWAY_FLAG,
  RESPONSE_FLAG,
  decodeCommand,
  encodeCommandParts,
  isOneway,
  isResponse,
  type RemotingCommand,
} from "../protocol/remoting-command.js";
import { describeRequest, ResponseCode } from "../protocol/codes.js";
import { ProtocolError, RmqError, type ErrorContext } from "../protocol/errors.js";
import { AbortedError, ConnectionError, RequestTimeoutError } from "./errors.js";

/** TLS settings for a connection (node:tls options); re-exported so upper layers need not import node:tls. */
export type TlsOptions = tls.ConnectionOptions;

/** What a caller gives for a request: the transport fills language, version, opaque and flag. */
export interface RequestCommand {
  code: number;
  extFields?: Record<string, string>;
  body?: Buffer | undefined;
  remark?: string;
}

export interface RequestOptions {
  /** Milliseconds to wait for the response. Default: the connection's requestTimeoutMs (3000). */
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
  /**
   * On a timeout, reset the connection (TCP RST, unsent bytes discarded) and fail every other
   * request on it: for requests that must not reach the server later than their timeout (an
   * exactly-once send, whose old attempt must be dead by a bounded time). RocketMQ has no cancel.
   */
  resetOnTimeout?: boolean;
}

/** Signs a request just before it is written (ACL). Gets and returns the ext fields. */
export type RequestSigner = (
  extFields: Record<string, string>,
  body: Buffer | undefined,
) => Record<string, string>;

/** Handles a request the server sent us; returns the response (ignored for oneway requests). */
export type ServerRequestHandler = (
  request: RemotingCommand,
) => RequestCommand | undefined | Promise<RequestCommand | undefined>;

export interface ConnectionOptions {
  /** Milliseconds to establish the connection (and TLS handshake). Default 3000. */
  connectTimeoutMs?: number;
  /** Default per-request timeout in milliseconds. Default 3000. */
  requestTimeoutMs?: number;
  /**
   * true or node:tls options to speak TLS (stock brokers accept it on the same port). The server's
   * certificate is verified against the system's CAs (or `ca`) unless `rejectUnauthorized: false`.
   */
  tls?: boolean | tls.ConnectionOptions;
  maxFrameBytes?: number;
  /** Language name announced in request headers. Default "JAVA" (understood by every server version). */
  language?: string;
  signer?: RequestSigner;
  signal?: AbortSignal | undefined;
  /**
   * The "host:port" actually dialled when it differs from the address the connection stands for
   * (address translation). Default: the address itself.
   */
  via?: string | undefined;
}

interface Pending {
  resolve(cmd: RemotingCommand): void;
  reject(err: unknown): void;
  code: number;
  opaque: number;
}

let nextOpaque = 1;
function allocateOpaque(): number {
  const opaque = nextOpaque;
  nextOpaque = nextOpaque >= 0x7fffffff ? 1 : nextOpaque + 1;
  return opaque;
}

/**
 * Events: 'close' (err?: Error) once, when the connection is gone for any reason;
 * 'request' (cmd) for every server-initiated request (after the handler ran).
 */
export class Connection extends EventEmitter {
  /** The address the connection stands for (as route data or config names it). */
  readonly address: string;
  /** The address dialled, when address translation sent it elsewhere; else undefined. */
  readonly via: string | undefined;
  /** The address as errors name it: "a:1" or "a:1 (via b:2)". */
  readonly #label: string;
  readonly #socket: net.Socket;
  readonly #decoder: FrameDecoder;
  readonly #pending = new Map<number, Pending>();
  readonly #requestTimeoutMs: number;
  readonly #language: string;
  readonly #signer: RequestSigner | undefined;
  #handler: ServerRequestHandler | undefined;
  #closed = false;
  #closeError: Error | undefined;
  /** Why the connection closed, without the address, for the errors of the requests it failed. */
  #closeDetail = "";
  #corked = false;
  /**
   * performance.now() of the last bytes received: how long an incomplete frame has stalled; 0
   * while the peer never sent a byte (a silent close then hints at a TLS-only server).
   */
  #lastDataAt = 0;
  /** When the first frame was handed to the socket (performance.now()). */
  #firstWriteAt: number | undefined;
  #drainWait: Promise<void> | undefined;

  private constructor(address: string, socket: net.Socket, options: ConnectionOptions) {
    super();
    this.address = address;
    this.via = dialledVia(address, options.via);
    this.#label = describeAddress(address, this.via);
    this.#socket = socket;
    this.#decoder = new FrameDecoder(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 3000;
    this.#language = options.language ?? "JAVA";
    this.#signer = options.signer;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", (err) =>
      this.#fail(
        new ConnectionError(`connection to ${this.#label} failed: ${err.message}`, {
          cause: err,
          context: this.#context(),
        }),
        `connection error: ${err.message}`,
      ),
    );
    socket.on("close", () => {
      // A TLS-only server (RocketMQ's "enforcing" mode) closes a plain connection without a word:
      // say so when the peer closed before it ever answered.
      const plain = options.tls === undefined || options.tls === false;
      const hint =
        plain && this.#closedAtOnce()
          ? " right after our first request, unanswered (if the server only speaks TLS, set tls)"
          : "";
      this.#fail(
        new ConnectionError(`connection to ${this.#label} closed${hint}`, { context: this.#context() }),
        `connection closed${hint}`,
      );
    });
  }

  /**
   * Opens a connection to `host:port`. Throws ConnectionError if it cannot be established
   * within connectTimeoutMs, AbortedError if the signal fires first.
   */
  static async connect(address: string, options: ConnectionOptions = {}): Promise<Connection> {
    const via = dialledVia(address, options.via);
    const { host, port } = parseAddress(via ?? address);
    const label = describeAddress(address, via);
    const context = via === undefined ? { address } : { address, via };
    const timeoutMs = options.connectTimeoutMs ?? 3000;
    const useTls = options.tls !== undefined && options.tls !== false;
    const socket = useTls
      ? tls.connect(
          tlsConnectOptions(address, host, port, via, typeof options.tls === "object" ? options.tls : {}),
        )
      : net.connect({ host, port });
    const readyEvent = useTls ? "secureConnect" : "connect";
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const onAbort = (): void => controller.abort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await once(socket, readyEvent, { signal: controller.signal });
    } catch (err) {
      socket.destroy();
      if (options.signal?.aborted) {
        throw new AbortedError(`connect to ${label} aborted`, {
          cause: options.signal.reason,
          context,
        });
      }
      if (controller.signal.aborted) {
        throw new ConnectionError(`connect to ${label} timed out after ${timeoutMs} ms`, {
          context,
        });
      }
      // OpenSSL's own errors carry a short `reason` ("wrong version number") beside a message
      // full of internal file names and line breaks.
      const reason =
        err instanceof Error && "reason" in err && typeof err.reason === "string" ? err.reason : undefined;
      const message = reason ?? (err instanceof Error ? err.message : String(err)).trim();
      const hint = useTls ? tlsFailureHint(err) : "";
      throw new ConnectionError(`cannot connect to ${label}${useTls ? " over TLS" : ""}: ${message}${hint}`, {
        cause: err,
        context,
      });
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    }
    return new Connection(address, socket, options);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Number of requests waiting for a response. */
  get pendingRequests(): number {
    return this.#pending.size;
  }

  /** Bytes received but not yet part of a complete frame (at most 4 + maxFrameBytes). */
  get readBufferedBytes(): number {
    return this.#decoder.bufferedBytes;
  }

  /** Bytes handed to the socket but not yet written to the kernel. */
  get writeBufferedBytes(): number {
    return this.#socket.writableLength;
  }

  /** Sets the handler for server-initiated requests. */
  setRequestHandler(handler: ServerRequestHandler | undefined): void {
    this.#handler = handler;
  }

  /**
   * Sends a request and resolves with the response, whatever its code (the client layer decides
   * what a code means). Throws RequestTimeoutError, ConnectionError or AbortedError, each naming
   * the request by code name and opaque.
   */
  async request(request: RequestCommand, options: RequestOptions = {}): Promise<RemotingCommand> {
    const timeoutMs = options.timeoutMs ?? this.#requestTimeoutMs;
    const signal = options.signal;
    // Allocated first, so that even a request refused before it is written has an opaque to name.
    const opaque = allocateOpaque();
    const what = `${describeRequest(request.code, opaque)} to ${this.#label}`;
    const context = this.#context({ requestCode: request.code, opaque });
    if (signal?.aborted)
      throw new AbortedError(`${what} aborted`, {
        cause: signal.reason,
        context,
      });
    if (this.#closed) throw this.#closedError(request.code, opaque);
    const frame = this.#encode(request, opaque, 0);
    return new Promise<RemotingCommand>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#pending.delete(opaque);
      };
      const onAbort = (): void => {
        cleanup();
        reject(
          new AbortedError(`${what} aborted`, {
            cause: signal?.reason,
            context,
          }),
        );
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new RequestTimeoutError(`${what} timed out after ${timeoutMs} ms`, { context }));
        if (options.resetOnTimeout === true) {
          this.#fail(
            new ConnectionError(`connection to ${this.#label} reset: ${what} timed out`, {
              context: this.#context(),
            }),
            `connection reset after ${describeRequest(request.code, opaque)} timed out`,
            { reset: true },
          );
        } else {
          this.#closeIfStalled(timeoutMs / 2);
        }
      }, timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(opaque, {
        code: request.code,
        opaque,
        resolve: (cmd) => {
          cleanup();
          resolve(cmd);
        },
        reject: (err) => {
          cleanup();
          // Callers catch Errors; what arrives here is one already (#write throws ConnectionError).
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      });
      this.#write(frame, request.code, opaque, () => this.#pending.has(opaque)).catch((err: unknown) =>
        this.#pending.get(opaque)?.reject(err),
      );
    });
  }

  /** Sends a request that expects no response. Resolves once written to the socket buffer. */
  async oneway(request: RequestCommand): Promise<void> {
    const opaque = allocateOpaque();
    if (this.#closed) throw this.#closedError(request.code, opaque);
    await this.#write(this.#encode(request, opaque, ONEWAY_FLAG), request.code, opaque);
  }

  /** Closes the connection; pending requests fail with ConnectionError. Idempotent. */
  close(): void {
    this.#fail(
      new ConnectionError(`connection to ${this.#label} closed by client`, {
        context: this.#context(),
      }),
      "connection closed by client",
    );
  }

  #encode(request: RequestCommand, opaque: number, flag: number): Buffer[] {
    let extFields = request.extFields ?? {};
    if (this.#signer) extFields = this.#signer(extFields, request.body);
    const cmd: RemotingCommand = {
      code: request.code,
      language: this.#language,
      version: CLIENT_VERSION,
      opaque,
      flag,
      extFields,
      body: request.body,
    };
    if (request.remark !== undefined) cmd.remark = request.remark;
    return encodeCommandParts(cmd);
  }

  /**
   * Writes a frame given as parts (header, body): corked, they leave in one writev. The request's
   * code and opaque (none for a response) name it if the connection closed meanwhile.
   */
  async #write(
    frame: readonly Buffer[],
    code?: number,
    opaque?: number,
    wanted: () => boolean = () => true,
  ): Promise<void> {
    // Backpressure: wait while the kernel buffer is full instead of queueing without bound.
    while (this.#socket.writableNeedDrain && !this.#closed) await this.#drained();
    if (this.#closed) throw this.#closedError(code, opaque);
    // A request that timed out or was aborted while it waited is not written late: its caller
    // has given up on it, and a send written now could be stored long after that.
    if (!wanted()) return;
    // Frames written in the same tick (concurrent requests, e.g. one pull per queue) leave in
    // one syscall: the socket is corked until the next tick.
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#socket.uncork();
      });
    }
    this.#firstWriteAt ??= performance.now();
    for (const part of frame) this.#socket.write(part);
  }

  /**
   * Whether the peer closed within a second of our first request without a byte in return: what
   * a TLS-only server does to plain TCP. A broker that dies just then looks the same, which is
   * why the hint it leads to says "if".
   */
  #closedAtOnce(): boolean {
    return (
      this.#lastDataAt === 0 &&
      this.#firstWriteAt !== undefined &&
      performance.now() - this.#firstWriteAt < 1000
    );
  }

  /** One shared wait for 'drain' (or close), however many writers are waiting. */
  #drained(): Promise<void> {
    this.#drainWait ??= new Promise<void>((resolve) => {
      const done = (): void => {
        this.#socket.off("drain", done);
        this.off("close", done);
        this.#drainWait = undefined;
        resolve();
      };
      this.#socket.on("drain", done);
      this.on("close", done);
    });
    return this.#drainWait;
  }

  /** The error of a request met on a closed connection (or of a write with no request). */
  #closedError(requestCode?: number, opaque?: number): ConnectionError {
    if (requestCode === undefined || opaque === undefined) {
      return new ConnectionError(
        `connection to ${this.#label} is closed${this.#closeError ? `: ${this.#closeError.message}` : ""}`,
        { cause: this.#closeError, context: this.#context() },
      );
    }
    return new ConnectionError(
      `${describeRequest(requestCode, opaque)} to ${this.#label} failed: ${this.#closeDetail}`,
      { cause: this.#closeError, context: this.#context({ requestCode, opaque }) },
    );
  }

  /**
   * Closes the connection when an incomplete frame has had no byte for `stallMs`: the peer stopped
   * mid-frame, and nothing it sends later can be told apart from the rest of that frame.
   */
  #closeIfStalled(stallMs: number): void {
    const buffered = this.#decoder.bufferedBytes;
    const quietMs = Math.round(performance.now() - this.#lastDataAt);
    if (this.#closed || buffered === 0 || quietMs < stallMs) return;
    const message = `stream stalled mid-frame: ${buffered} bytes of an incomplete frame and nothing more for ${quietMs} ms`;
    this.#fail(
      new ConnectionError(`protocol error from ${this.#label}: ${message}`, {
        cause: new ProtocolError(message, { context: this.#context() }),
        context: this.#context(),
      }),
      `protocol error: ${message} (connection closed)`,
    );
  }

  #onData(chunk: Buffer): void {
    this.#lastDataAt = performance.now();
    let frames: Buffer[];
    try {
      frames = this.#decoder.push(chunk);
      for (const payload of frames) this.#dispatch(decodeCommand(payload));
    } catch (err) {
      // A protocol error leaves the stream unsynchronised: the only safe move is to close.
      const message = err instanceof Error ? err.message : String(err);
      const detail =
        err instanceof RmqError ? `protocol error: ${message}` : `failed handling data: ${message}`;
      this.#fail(
        err instanceof RmqError
          ? new ConnectionError(`protocol error from ${this.#label}: ${message}`, {
              cause: err,
              context: this.#context(),
            })
          : new ConnectionError(`failed handling data from ${this.#label}: ${message}`, {
              cause: err,
              context: this.#context(),
            }),
        `${detail} (connection closed)`,
      );
    }
  }

  #dispatch(cmd: RemotingCommand): void {
    if (isResponse(cmd)) {
      // Late responses (after timeout or abort) have no pending entry and are dropped.
      this.#pending.get(cmd.opaque)?.resolve(cmd);
      return;
    }
    // Fire-and-forget, so a slow handler does not hold up the frames behind it. Nothing is lost:
    // #answer turns the handler's failure into a SYSTEM_ERROR reply and ignores a failed write
    // (the connection is closing, and #fail tells every pending request). Only a bug of ours
    // (a throwing 'request' listener or reply encoding) could reject, and that should surface as
    // an unhandled rejection rather than be swallowed here.
    void this.#answer(cmd);
  }

  async #answer(cmd: RemotingCommand): Promise<void> {
    let response: RequestCommand | undefined;
    try {
      response = this.#handler ? await this.#handler(cmd) : undefined;
    } catch (err) {
      response = {
        code: ResponseCode.SYSTEM_ERROR,
        remark: err instanceof Error ? err.message : String(err),
      };
    }
    this.emit("request", cmd);
    if (isOneway(cmd) || this.#closed) return;
    const reply = response ?? {
      code: ResponseCode.REQUEST_CODE_NOT_SUPPORTED,
      remark: `request code ${cmd.code} not supported by this client`,
    };
    const frame = encodeCommandParts({
      code: reply.code,
      language: this.#language,
      version: CLIENT_VERSION,
      opaque: cmd.opaque,
      flag: RESPONSE_FLAG,
      remark: reply.remark,
      extFields: reply.extFields ?? {},
      body: reply.body,
    });
    await this.#write(frame).catch(() => undefined);
  }

  /** Error context: the address, the dialled one when translated, and what else is given. */
  #context(extra: ErrorContext = {}): ErrorContext {
    return this.via === undefined
      ? { address: this.address, ...extra }
      : { address: this.address, via: this.via, ...extra };
  }

  /** Closes for good: `err` is the connection's error, `detail` says why without the address. */
  #fail(err: ConnectionError, detail: string, options: { reset?: boolean } = {}): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = err;
    this.#closeDetail = detail;
    // A reset drops what the kernel has not sent yet (SO_LINGER 0); a plain close would still
    // deliver it after the FIN.
    if (options.reset === true) resetSocket(this.#socket);
    else this.#socket.destroy();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(this.#closedError(p.code, p.opaque));
    this.emit("close", err);
  }
}

/** Resets a TCP socket; one whose handle is not TCP (TLS wraps it) is destroyed instead. */
function resetSocket(socket: net.Socket): void {
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

/**
 * The node:tls options of a connection: the certificate is verified (node's default) unless the
 * caller says `rejectUnauthorized: false`. When the connection is dialled elsewhere than the
 * address it stands for (address translation), the certificate is checked against the host of
 * the announced address, which is the broker's own name, not the proxy's; `servername` (SNI and
 * the name checked) overrides both.
 */
function tlsConnectOptions(
  address: string,
  host: string,
  port: number,
  via: string | undefined,
  given: tls.ConnectionOptions,
): tls.ConnectionOptions {
  const options: tls.ConnectionOptions = { host, port, ...given };
  if (via !== undefined && given.servername === undefined && given.checkServerIdentity === undefined) {
    const announced = parseAddress(address).host;
    options.checkServerIdentity = (_dialled, cert) => tls.checkServerIdentity(announced, cert);
  }
  return options;
}

/**
 * What OpenSSL says is wrong with TLS options before any connection is tried (a key that does not
 * match its certificate, a PEM it cannot read), or undefined. Never echoes a key.
 */
export function tlsOptionsProblem(options: TlsOptions): string | undefined {
  try {
    tls.createSecureContext(options);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** OpenSSL's verification failures, and what the operator can do about each. */
const TLS_VERIFY_CODES: ReadonlySet<string> = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
]);

/** A sentence that tells what a TLS connect failure means, or "". */
function tlsFailureHint(err: unknown): string {
  const code = err instanceof Error && "code" in err ? String(err.code) : "";
  if (TLS_VERIFY_CODES.has(code))
    return ` (${code}: the server's certificate is not signed by a trusted CA; give the CA that signed it, tls.ca)`;
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID")
    return " (the certificate does not name this host; fix the certificate, or set tls.serverName to a name it holds)";
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") return ` (${code})`;
  if (
    code === "ECONNRESET" ||
    code === "EPROTO" ||
    code === "ERR_SSL_WRONG_VERSION_NUMBER" ||
    /wrong version number|before secure TLS/i.test(String(err))
  )
    return " (the server may not speak TLS on this port)";
  return "";
}

/** Splits "host:port" or "[v6]:port". Throws RmqError RMQ_BAD_ADDRESS on anything else. */
export function parseAddress(address: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:[\]]+):(\d+)$/.exec(address);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port > 0 && port < 65536)) {
    throw new RmqError("RMQ_BAD_ADDRESS", `bad address ${JSON.stringify(address)}: expected host:port`);
  }
  return { host: m[1] as string, port };
}

/** The dialled address when it differs from `address`, else undefined (no translation). */
function dialledVia(address: string, via: string | undefined): string | undefined {
  return via === undefined || via === address ? undefined : via;
}

/**
 * An address as errors and logs name it: "10.0.0.5:10911", or "10.0.0.5:10911 (via
 * 127.0.0.1:30911)" when the connection was dialled at a translated address.
 */
export function describeAddress(address: string, via?: string): string {
  return via === undefined || via === address ? address : `${address} (via ${via})`;
}
