/**
 * The one error base of the project. Every error carries a stable string `code` (prefix `RMQ_`)
 * that callers and logs can match on, a `retriable` flag saying whether the same call may succeed
 * if tried again, and context naming what was being done.
 */

/** Context attached to errors: where and what. All optional. */
export interface ErrorContext {
  address?: string;
  requestCode?: number;
  responseCode?: number;
  topic?: string;
  queueId?: number;
  brokerName?: string;
  [key: string]: unknown;
}

export interface RmqErrorOptions {
  retriable?: boolean;
  cause?: unknown;
  context?: ErrorContext;
}

/** Base class of every error thrown by this project. */
export class RmqError extends Error {
  override name = "RmqError";
  readonly code: string;
  readonly retriable: boolean;
  readonly context: ErrorContext;

  constructor(code: string, message: string, options: RmqErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.context = options.context ?? {};
  }
}

/** Bytes that do not follow the RocketMQ wire format: truncated, oversized or garbage input. */
export class ProtocolError extends RmqError {
  override name = "ProtocolError";
  constructor(message: string, options: RmqErrorOptions = {}) {
    super("RMQ_PROTOCOL", message, options);
  }
}

/**
 * A broker or NameServer answered with a response code that is a failure for this request.
 * `code` is `RMQ_BROKER_<ResponseCode name>`, e.g. `RMQ_BROKER_TOPIC_NOT_EXIST`.
 */
export class BrokerError extends RmqError {
  override name = "BrokerError";
  readonly responseCode: number;
  readonly remark: string | undefined;

  constructor(
    responseCode: number,
    codeName: string,
    message: string,
    remark: string | undefined,
    options: RmqErrorOptions = {},
  ) {
    super(`RMQ_BROKER_${codeName}`, message, {
      ...options,
      context: { ...options.context, responseCode },
    });
    this.responseCode = responseCode;
    this.remark = remark;
  }
}
