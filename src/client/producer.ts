/**
 * Sends messages to a chosen queue (or one picked round-robin), one at a time with
 * SEND_MESSAGE_V2 or many at once with SEND_BATCH_MESSAGE, and returns the queue offset.
 *
 * No hidden retries: a send that times out or loses its connection may or may not have been
 * stored, and only the caller knows whether a duplicate is acceptable (the replicator's
 * exactly-once mode must not retry blindly). Errors are retriable or not as the code says.
 */
import { RequestCode, ResponseCode } from "../protocol/codes.js";
import { RmqError } from "../protocol/errors.js";
import {
  decodeSendMessageResponseHeader,
  encodeSendMessageHeaderV2,
} from "../protocol/headers/send-message.js";
import { encodeBatchBody } from "../protocol/message-batch.js";
import { createUniqueId } from "../protocol/message-id.js";
import {
  EncodedProperties,
  MessageConst,
  PROPERTY_SEPARATOR,
  encodeProperty,
} from "../protocol/properties.js";
import { expectCodes } from "./broker-call.js";
import { requestQueueBroker, type ClientContext } from "./context.js";
import type { CallOptions } from "./name-server.js";
import type { Message, MessageQueue, SendResult, SendStatus } from "./types.js";

export interface ProducerOptions {
  /** Producer group announced to the broker. Default "rmq_connector_producer". */
  group?: string;
  /** Per-send timeout in ms. Default: the client's requestTimeoutMs. */
  sendTimeoutMs?: number;
}

export interface SendOptions extends CallOptions {
  /** The queue to send to; a number is a queueId on the first broker of the topic's route. */
  queue?: MessageQueue | number;
  /**
   * On a timeout, reset the connection to the broker so the request cannot be written or
   * delivered later (see RequestOptions.resetOnTimeout); other requests on it fail too.
   */
  resetOnTimeout?: boolean;
}

const STORED_CODES: ReadonlyMap<number, SendStatus> = new Map([
  [ResponseCode.SUCCESS, "SEND_OK"],
  [ResponseCode.FLUSH_DISK_TIMEOUT, "FLUSH_DISK_TIMEOUT"],
  [ResponseCode.SLAVE_NOT_AVAILABLE, "SLAVE_NOT_AVAILABLE"],
  [ResponseCode.FLUSH_SLAVE_TIMEOUT, "FLUSH_SLAVE_TIMEOUT"],
]);

/** Compression bits a caller may pass through; everything else in sysFlag is broker-owned. */
const COMPRESSION_BITS = 0x701;

export class Producer {
  readonly #ctx: ClientContext;
  readonly #group: string;
  readonly #timeoutMs: number;
  #roundRobin = 0;

  constructor(ctx: ClientContext, options: ProducerOptions = {}) {
    this.#ctx = ctx;
    this.#group = options.group ?? "rmq_connector_producer";
    this.#timeoutMs = options.sendTimeoutMs ?? ctx.requestTimeoutMs;
  }

  /**
   * Sends one message. Throws BrokerError when the broker refuses it (e.g. MESSAGE_ILLEGAL,
   * not retriable), ConnectionError / RequestTimeoutError when the outcome is unknown.
   */
  async send(message: Message, options: SendOptions = {}): Promise<SendResult> {
    return this.#send(message.topic, [message], false, options);
  }

  /**
   * Sends messages of one topic as one batch to one queue; they get consecutive offsets in
   * order. All must share the same compression bits (the header's sysFlag applies to all).
   */
  async sendBatch(messages: readonly Message[], options: SendOptions = {}): Promise<SendResult> {
    const first = messages[0];
    if (!first) throw new RmqError("RMQ_INVALID_ARGUMENT", "sendBatch needs at least one message");
    for (const m of messages) {
      if (m.topic !== first.topic) {
        throw new RmqError(
          "RMQ_INVALID_ARGUMENT",
          `a batch holds one topic; got ${first.topic} and ${m.topic}`,
        );
      }
      if ((m.compressionSysFlag ?? 0) !== (first.compressionSysFlag ?? 0)) {
        throw new RmqError("RMQ_INVALID_ARGUMENT", "a batch's messages must share the same compression bits");
      }
    }
    return this.#send(first.topic, messages, true, options);
  }

  async #send(
    topic: string,
    messages: readonly Message[],
    batch: boolean,
    options: SendOptions,
  ): Promise<SendResult> {
    // The broker dereferences the body without a null check and answers SYSTEM_ERROR (an NPE);
    // Java's Validators.checkMessage refuses empty bodies for the same reason.
    const emptyAt = messages.findIndex((m) => m.body.length === 0);
    if (emptyAt >= 0) {
      throw new RmqError(
        "RMQ_INVALID_ARGUMENT",
        `message ${emptyAt} to ${topic} has an empty body; RocketMQ stores no empty messages`,
        { context: { topic } },
      );
    }
    const queue = await this.#pickQueue(topic, options);
    const uniqKeys: string[] = [];
    const encoded = messages.map((m) => {
      const { text, uniqKey } = encodeMessageProperties(m);
      uniqKeys.push(uniqKey);
      return { flag: m.flag ?? 0, body: m.body, properties: text };
    });
    const first = messages[0] as Message;
    const sysFlag = (first.compressionSysFlag ?? 0) & COMPRESSION_BITS;
    const header = encodeSendMessageHeaderV2({
      producerGroup: this.#group,
      topic,
      defaultTopic: "TBW102",
      defaultTopicQueueNums: 4,
      queueId: queue.queueId,
      sysFlag,
      bornTimestamp: first.bornTimestamp ?? Date.now(),
      flag: batch ? 0 : (first.flag ?? 0),
      ...(batch ? { batch: true } : { properties: (encoded[0] as { properties: string }).properties }),
      reconsumeTimes: 0,
      unitMode: false,
      brokerName: queue.brokerName,
    });
    const body = batch ? encodeBatchBody(encoded) : first.body;
    const context = { topic, brokerName: queue.brokerName, queueId: queue.queueId };
    const response = await requestQueueBroker(
      this.#ctx,
      queue,
      { code: batch ? RequestCode.SEND_BATCH_MESSAGE : RequestCode.SEND_MESSAGE_V2, extFields: header, body },
      {
        timeoutMs: options.timeoutMs ?? this.#timeoutMs,
        signal: options.signal,
        resetOnTimeout: options.resetOnTimeout,
      },
    );
    expectCodes(
      response,
      `send to ${topic} queue ${queue.brokerName}#${queue.queueId}`,
      { ...context, address: response.address },
      [...STORED_CODES.keys()],
    );
    const result = decodeSendMessageResponseHeader(response.extFields);
    return {
      status: STORED_CODES.get(response.code) as SendStatus,
      queue: { topic, brokerName: queue.brokerName, queueId: result.queueId },
      queueOffset: result.queueOffset,
      offsetMsgIds: result.msgId === "" ? [] : result.msgId.split(","),
      uniqKeys,
    };
  }

  async #pickQueue(topic: string, options: SendOptions): Promise<MessageQueue> {
    if (typeof options.queue === "object") return options.queue;
    const route = await this.#ctx.nameServer.getTopicRoute(topic, options);
    const queues = route.writeQueues();
    if (queues.length === 0) {
      throw new RmqError("RMQ_NO_QUEUE", `topic ${topic} has no writable queue with a master`, {
        context: { topic },
      });
    }
    if (typeof options.queue === "number") {
      const id = options.queue;
      const q = queues.find((x) => x.queueId === id);
      if (!q)
        throw new RmqError("RMQ_INVALID_ARGUMENT", `topic ${topic} has no writable queue ${id}`, {
          context: { topic, queueId: id },
        });
      return q;
    }
    const q = queues[this.#roundRobin++ % queues.length] as MessageQueue;
    return q;
  }
}

/**
 * The encoded properties of `m` and its UNIQ_KEY, in one pass: its own properties in their order
 * (TAGS and KEYS taking `m.tags` / `m.keys` when those are set), then TAGS and KEYS if not among
 * them, then a new UNIQ_KEY if it has none. EncodedProperties are taken as they are, plus a new
 * UNIQ_KEY if they have none. Throws InvalidPropertyError.
 */
function encodeMessageProperties(m: Message): { text: string; uniqKey: string } {
  const TAGS = MessageConst.PROPERTY_TAGS;
  const KEYS = MessageConst.PROPERTY_KEYS;
  const UNIQ = MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX;
  if (m.properties instanceof EncodedProperties) {
    if ((m.tags ?? "") !== "" || (m.keys ?? "").length > 0) {
      throw new RmqError(
        "RMQ_INVALID_ARGUMENT",
        `a message to ${m.topic} with encoded properties carries its TAGS and KEYS in them; tags and keys must be unset`,
        { context: { topic: m.topic } },
      );
    }
    const { text, uniqKey } = m.properties;
    if (uniqKey !== undefined) return { text, uniqKey };
    const created = createUniqueId();
    // EncodedProperties can be built by hand: without its final separator the new entry would
    // become part of the last value.
    const joint = text === "" || text.endsWith(PROPERTY_SEPARATOR) ? "" : PROPERTY_SEPARATOR;
    return { text: text + joint + encodeProperty(UNIQ, created), uniqKey: created };
  }
  let tags = m.tags !== undefined && m.tags !== "" ? m.tags : undefined;
  const joined = m.keys === undefined ? undefined : typeof m.keys === "string" ? m.keys : m.keys.join(" ");
  let keys = joined !== undefined && joined !== "" ? joined : undefined;
  let uniqKey: string | undefined;
  let text = "";
  for (const [name, own] of Object.entries(m.properties ?? {})) {
    let value: string | undefined = own;
    if (name === TAGS && tags !== undefined) {
      value = tags;
      tags = undefined;
    } else if (name === KEYS && keys !== undefined) {
      value = keys;
      keys = undefined;
    } else if (name === UNIQ && value !== undefined) {
      uniqKey = value;
    }
    if (value !== undefined) text += encodeProperty(name, value);
  }
  if (tags !== undefined) text += encodeProperty(TAGS, tags);
  if (keys !== undefined) text += encodeProperty(KEYS, keys);
  if (uniqKey === undefined) {
    uniqKey = createUniqueId();
    text += encodeProperty(UNIQ, uniqKey);
  }
  return { text, uniqKey };
}
