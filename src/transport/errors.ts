/** Errors of the transport layer: connections and request lifecycles. */
import { RmqError, type RmqErrorOptions } from "../protocol/errors.js";

/**
 * A connection could not be opened, or closed while a request was waiting for its response.
 * Retriable; for a send the outcome is unknown (the broker may have stored the message).
 */
export class ConnectionError extends RmqError {
  override name = "ConnectionError";
  constructor(message: string, options: RmqErrorOptions = {}) {
    super("RMQ_CONNECTION", message, { retriable: true, ...options });
  }
}

/** No response within the request's timeout. Retriable; for a send the outcome is unknown. */
export class RequestTimeoutError extends RmqError {
  override name = "RequestTimeoutError";
  constructor(message: string, options: RmqErrorOptions = {}) {
    super("RMQ_TIMEOUT", message, { retriable: true, ...options });
  }
}

/** The caller's AbortSignal fired before the response arrived. */
export class AbortedError extends RmqError {
  override name = "AbortedError";
  constructor(message: string, options: RmqErrorOptions = {}) {
    super("RMQ_ABORTED", message, { retriable: false, ...options });
  }
}
