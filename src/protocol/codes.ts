/**
 * Numeric constants of the remoting protocol, named as in the Java sources so that grep works
 * across both code bases:
 * - RequestCode: org.apache.rocketmq.remoting.protocol.RequestCode
 * - ResponseCode: org.apache.rocketmq.remoting.protocol.ResponseCode (+ RemotingSysResponseCode)
 * - LanguageCode: org.apache.rocketmq.remoting.protocol.LanguageCode
 * - SerializeType: org.apache.rocketmq.remoting.protocol.SerializeType
 */

export const RequestCode = {
  SEND_MESSAGE: 10,
  PULL_MESSAGE: 11,
  QUERY_CONSUMER_OFFSET: 14,
  UPDATE_CONSUMER_OFFSET: 15,
  UPDATE_AND_CREATE_TOPIC: 17,
  GET_ALL_TOPIC_CONFIG: 21,
  GET_BROKER_RUNTIME_INFO: 28,
  SEARCH_OFFSET_BY_TIMESTAMP: 29,
  GET_MAX_OFFSET: 30,
  GET_MIN_OFFSET: 31,
  GET_EARLIEST_MSG_STORETIME: 32,
  VIEW_MESSAGE_BY_ID: 33,
  HEART_BEAT: 34,
  UNREGISTER_CLIENT: 35,
  GET_CONSUMER_LIST_BY_GROUP: 38,
  CHECK_TRANSACTION_STATE: 39,
  NOTIFY_CONSUMER_IDS_CHANGED: 40,
  LOCK_BATCH_MQ: 41,
  UNLOCK_BATCH_MQ: 42,
  GET_ALL_CONSUMER_OFFSET: 43,
  GET_ROUTEINFO_BY_TOPIC: 105,
  GET_BROKER_CLUSTER_INFO: 106,
  UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: 200,
  GET_ALL_SUBSCRIPTIONGROUP_CONFIG: 201,
  GET_ALL_TOPIC_LIST_FROM_NAMESERVER: 206,
  GET_CONSUME_STATS: 208,
  RESET_CONSUMER_CLIENT_OFFSET: 220,
  GET_CONSUMER_STATUS_FROM_CLIENT: 221,
  GET_TOPICS_BY_CLUSTER: 224,
  GET_CONSUMER_RUNNING_INFO: 307,
  CONSUME_MESSAGE_DIRECTLY: 309,
  SEND_MESSAGE_V2: 310,
  SEND_BATCH_MESSAGE: 320,
  PUSH_REPLY_MESSAGE_TO_CLIENT: 326,
  QUERY_TOPICS_BY_CONSUMER: 343,
} as const;
export type RequestCode = (typeof RequestCode)[keyof typeof RequestCode];

/**
 * Request-code names by number, as data: the Java names of RequestCode above, so that an error
 * can say PULL_MESSAGE where the wire says 11 (a bare number reads like a request id).
 */
export const REQUEST_CODE_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(RequestCode).map(([name, code]) => [code, name]),
);

/**
 * How errors name a request: "PULL_MESSAGE (code 11, opaque 4711)" (the Java name, the number on
 * the wire and the opaque that matches a broker log or a capture); "request code 99 (opaque 5)"
 * for a code not in the table.
 */
export function describeRequest(code: number, opaque: number): string {
  const name = REQUEST_CODE_NAMES.get(code);
  return name === undefined
    ? `request code ${code} (opaque ${opaque})`
    : `${name} (code ${code}, opaque ${opaque})`;
}

/** One row of the response-code table: the Java name, whether a retry may help, and a human message. */
export interface ResponseCodeInfo {
  readonly name: string;
  readonly retriable: boolean;
  readonly message: string;
}

/**
 * The response-code table, as data. `retriable` marks conditions that are expected to pass
 * (busy, not available, flow control); the rest need a change of input or configuration.
 */
export const RESPONSE_CODES: ReadonlyMap<number, ResponseCodeInfo> = new Map<number, ResponseCodeInfo>([
  [0, { name: "SUCCESS", retriable: false, message: "success" }],
  [1, { name: "SYSTEM_ERROR", retriable: true, message: "system error" }],
  [2, { name: "SYSTEM_BUSY", retriable: true, message: "system busy" }],
  [3, { name: "REQUEST_CODE_NOT_SUPPORTED", retriable: false, message: "request code not supported" }],
  [4, { name: "TRANSACTION_FAILED", retriable: false, message: "transaction failed" }],
  [10, { name: "FLUSH_DISK_TIMEOUT", retriable: false, message: "stored, but flushing to disk timed out" }],
  [11, { name: "SLAVE_NOT_AVAILABLE", retriable: false, message: "stored, but no slave available" }],
  [12, { name: "FLUSH_SLAVE_TIMEOUT", retriable: false, message: "stored, but flushing to slave timed out" }],
  [
    13,
    { name: "MESSAGE_ILLEGAL", retriable: false, message: "message illegal (too large or bad properties)" },
  ],
  [14, { name: "SERVICE_NOT_AVAILABLE", retriable: true, message: "service not available" }],
  [15, { name: "VERSION_NOT_SUPPORTED", retriable: false, message: "version not supported" }],
  [16, { name: "NO_PERMISSION", retriable: false, message: "no permission" }],
  [17, { name: "TOPIC_NOT_EXIST", retriable: false, message: "topic does not exist" }],
  [18, { name: "TOPIC_EXIST_ALREADY", retriable: false, message: "topic exists already" }],
  [19, { name: "PULL_NOT_FOUND", retriable: false, message: "no new message" }],
  [20, { name: "PULL_RETRY_IMMEDIATELY", retriable: true, message: "no matched message, retry immediately" }],
  [21, { name: "PULL_OFFSET_MOVED", retriable: false, message: "offset moved" }],
  [22, { name: "QUERY_NOT_FOUND", retriable: false, message: "not found" }],
  [
    23,
    { name: "SUBSCRIPTION_PARSE_FAILED", retriable: false, message: "subscription expression parse failed" },
  ],
  [24, { name: "SUBSCRIPTION_NOT_EXIST", retriable: false, message: "subscription does not exist" }],
  [25, { name: "SUBSCRIPTION_NOT_LATEST", retriable: true, message: "subscription not latest" }],
  [
    26,
    { name: "SUBSCRIPTION_GROUP_NOT_EXIST", retriable: false, message: "subscription group does not exist" },
  ],
  [27, { name: "FILTER_DATA_NOT_EXIST", retriable: false, message: "filter data does not exist" }],
  [28, { name: "FILTER_DATA_NOT_LATEST", retriable: true, message: "filter data not latest" }],
  [29, { name: "INVALID_PARAMETER", retriable: false, message: "invalid parameter" }],
  [206, { name: "CONSUMER_NOT_ONLINE", retriable: true, message: "consumer not online" }],
  [208, { name: "NO_MESSAGE", retriable: false, message: "no message" }],
  [209, { name: "POLLING_FULL", retriable: true, message: "polling full" }],
  [210, { name: "POLLING_TIMEOUT", retriable: true, message: "polling timeout" }],
  [211, { name: "BROKER_NOT_EXIST", retriable: true, message: "broker does not exist" }],
  [215, { name: "FLOW_CONTROL", retriable: true, message: "flow control" }],
  [501, { name: "NOT_LEADER_FOR_QUEUE", retriable: true, message: "not leader for queue" }],
  [604, { name: "ILLEGAL_OPERATION", retriable: false, message: "illegal operation" }],
  [1500, { name: "GO_AWAY", retriable: true, message: "server is going away" }],
  [3001, { name: "USER_NOT_EXIST", retriable: false, message: "user does not exist" }],
  [3002, { name: "POLICY_NOT_EXIST", retriable: false, message: "policy does not exist" }],
]);

/** Names of the response codes this client branches on. */
export const ResponseCode = {
  SUCCESS: 0,
  SYSTEM_ERROR: 1,
  SYSTEM_BUSY: 2,
  REQUEST_CODE_NOT_SUPPORTED: 3,
  FLUSH_DISK_TIMEOUT: 10,
  SLAVE_NOT_AVAILABLE: 11,
  FLUSH_SLAVE_TIMEOUT: 12,
  MESSAGE_ILLEGAL: 13,
  SERVICE_NOT_AVAILABLE: 14,
  NO_PERMISSION: 16,
  TOPIC_NOT_EXIST: 17,
  PULL_NOT_FOUND: 19,
  PULL_RETRY_IMMEDIATELY: 20,
  PULL_OFFSET_MOVED: 21,
  QUERY_NOT_FOUND: 22,
  SUBSCRIPTION_GROUP_NOT_EXIST: 26,
  INVALID_PARAMETER: 29,
} as const;

/** Describes a response code, including ones missing from the table. */
export function describeResponseCode(code: number): ResponseCodeInfo {
  return (
    RESPONSE_CODES.get(code) ?? { name: `CODE_${code}`, retriable: false, message: `response code ${code}` }
  );
}

export const LanguageCode = {
  JAVA: 0,
  CPP: 1,
  DOTNET: 2,
  PYTHON: 3,
  DELPHI: 4,
  ERLANG: 5,
  RUBY: 6,
  OTHER: 7,
  HTTP: 8,
  GO: 9,
  PHP: 10,
  OMS: 11,
  RUST: 12,
  NODE_JS: 13,
} as const;
export type LanguageName = keyof typeof LanguageCode;

export const SerializeType = { JSON: 0, ROCKETMQ: 1 } as const;
export type SerializeType = (typeof SerializeType)[keyof typeof SerializeType];
