/**
 * Readiness over the protocol, not by sleeping: a NameServer is ready when it answers
 * GET_BROKER_CLUSTER_INFO; a cluster is ready when its broker is listed there with the expected
 * master address AND a topic created on that broker (UPDATE_AND_CREATE_TOPIC) resolves to it
 * through GET_ROUTEINFO_BY_TOPIC. The second step matters: a broker registers during start, but
 * only a route proves the NameServer will hand it to producers and consumers.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { RocketMQClient } from "../client/rocketmq-client.js";
import { sandboxClientOptions, type ClusterSecurityInfo } from "./client-options.js";
import { MASTER_ID } from "../protocol/headers/route.js";
import { ConnectionError } from "../transport/errors.js";
import { SandboxError, SandboxErrorCode } from "./errors.js";
import type { Logger } from "../client/logger.js";

/** Topic created on every sandbox broker to prove routes resolve. */
export const PROBE_TOPIC = "rmq-sandbox-probe";

export interface ProbeOptions extends ClusterSecurityInfo {
  /** NameServer address(es), "host:port[;host:port]". */
  namesrv: string;
  /** Broker that must be registered and routable; omit to probe the NameServer alone. */
  brokerName?: string;
  /** Expected master address of that broker; default: whatever the NameServer lists. */
  brokerAddr?: string;
  /** Overall deadline in ms. Default 120 000. */
  timeoutMs?: number;
  /** Per-request timeout in ms. Default 5000 (topic creation persists files and re-registers). */
  requestTimeoutMs?: number;
  /**
   * Called between attempts; returns a reason to give up at once (e.g. "broker exited with
   * code 1"), or undefined to keep polling.
   */
  failFast?: () => string | undefined;
  signal?: AbortSignal;
  /** Gets a debug line per failed attempt (what was missing). */
  logger?: Logger;
}

/**
 * Polls until the NameServer (and broker, if named) is ready, with a bounded deadline.
 * A NameServer that refuses connections is not waited for: it fails at once, since a probe is
 * only started once the process said it listens (or, for an external address, it should).
 * @throws SandboxError RMQ_SANDBOX_NOT_READY with the last observed problem.
 */
export async function probeCluster(options: ProbeOptions): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  // A secured cluster's probe signs as the admin and trusts only the sandbox CA.
  const client = new RocketMQClient({
    ...sandboxClientOptions(options),
    requestTimeoutMs: options.requestTimeoutMs ?? 5000,
    connectTimeoutMs: options.requestTimeoutMs ?? 5000,
  });
  const what = options.brokerName
    ? `broker ${options.brokerName} via NameServer ${options.namesrv}`
    : `NameServer ${options.namesrv}`;
  let last = "no attempt made";
  try {
    for (let attempt = 0; ; attempt++) {
      if (options.signal?.aborted)
        throw new SandboxError(SandboxErrorCode.STOPPED, `stopped while waiting for ${what}`);
      const dead = options.failFast?.();
      if (dead !== undefined)
        throw new SandboxError(SandboxErrorCode.NOT_READY, `${what} is not ready: ${dead}`);
      try {
        last = await probeOnce(client, options);
        if (last === "") return;
      } catch (err) {
        if (err instanceof SandboxError) throw err;
        last = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      }
      options.logger?.debug(
        { namesrv: options.namesrv, attempt: attempt + 1, problem: last },
        "not ready yet",
      );
      if (Date.now() + 200 > deadline) {
        throw new SandboxError(
          SandboxErrorCode.NOT_READY,
          `${what} not ready within ${options.timeoutMs ?? 120_000} ms after ${attempt + 1} attempts; last problem: ${last}`,
          {
            context: {
              address: options.namesrv,
              ...(options.brokerName ? { brokerName: options.brokerName } : {}),
            },
          },
        );
      }
      await sleep(200, undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
    }
  } finally {
    client.close();
  }
}

/** One probe round; returns "" when ready, else what is missing. */
async function probeOnce(client: RocketMQClient, options: ProbeOptions): Promise<string> {
  let info;
  try {
    info = await client.admin.getClusterInfo();
  } catch (err) {
    if (!(err instanceof ConnectionError)) throw err;
    const what = options.brokerName
      ? `broker ${options.brokerName} via NameServer ${options.namesrv}`
      : `NameServer ${options.namesrv}`;
    throw new SandboxError(
      SandboxErrorCode.NOT_READY,
      `${what} is not ready: NameServer unreachable (${err.message})`,
      {
        cause: err,
        context: { address: options.namesrv },
      },
    );
  }
  if (options.brokerName === undefined) return "";
  const broker = info.brokers.find((b) => b.brokerName === options.brokerName);
  const master = broker?.brokerAddrs.get(MASTER_ID);
  if (master === undefined) {
    const listed = info.brokers
      .map((b) => `${b.brokerName}@${[...b.brokerAddrs.values()].join(",")}`)
      .join(" ");
    return `broker not registered (NameServer lists: ${listed || "none"})`;
  }
  if (options.brokerAddr !== undefined && master !== options.brokerAddr) {
    return `broker registered at ${master}, expected ${options.brokerAddr}`;
  }
  await client.admin.createTopic({ topic: PROBE_TOPIC, queueNums: 1, brokerAddr: master });
  const route = await client.admin.getTopicRoute(PROBE_TOPIC, { refresh: true });
  const routed = route.masterAddress(options.brokerName);
  return routed === master
    ? ""
    : `route of ${PROBE_TOPIC} gives ${routed ?? "no master"} for ${options.brokerName}`;
}
