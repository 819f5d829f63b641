/**
 * One request to one broker, signed with given credentials, and its raw response: for the
 * sandbox's account management, which sends codes the client has no method for (AUTH_*) and
 * probes with an account's own credentials whether the broker enforces a change yet.
 */
import type { Credentials } from "../client/rocketmq-client.js";
import { signRequest } from "../protocol/acl.js";
import type { RemotingCommand } from "../protocol/remoting-command.js";
import type { RequestCommand, TlsOptions } from "../transport/connection.js";
import { ConnectionPool } from "../transport/pool.js";

export interface BrokerRequestOptions {
  /** Sign with these; unsigned when absent. */
  credentials?: Credentials | undefined;
  tls?: TlsOptions | undefined;
  /** Connect and response timeout, ms. Default 5000. */
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
}

/**
 * Sends `request` to `address` on a connection of its own (closed afterwards) and resolves with
 * the response, whatever its code. Rejects with the transport's ConnectionError/TimeoutError.
 */
export async function brokerRequest(
  address: string,
  request: RequestCommand,
  options: BrokerRequestOptions = {},
): Promise<RemotingCommand> {
  const credentials = options.credentials;
  const timeoutMs = options.timeoutMs ?? 5000;
  const pool = new ConnectionPool({
    requestTimeoutMs: timeoutMs,
    connectTimeoutMs: timeoutMs,
    ...(options.tls ? { tls: options.tls } : {}),
    ...(credentials ? { signer: (ext, body) => signRequest(ext, body, credentials) } : {}),
  });
  try {
    return await pool.request(address, request, { timeoutMs, signal: options.signal });
  } finally {
    pool.close();
  }
}
