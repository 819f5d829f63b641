/**
 * The one place a replication pipeline is put together: the source pull consumer, the target
 * producer and the QueueReplicator between them. Data queues (queue-ownership.ts) and heartbeat
 * probes (probes.ts) both build theirs here, so a probe travels exactly the path of the data.
 */
import type { Logger } from "../client/logger.js";
import type { RocketMQClient } from "../client/rocketmq-client.js";
import type { ByteBudget } from "./byte-budget.js";
import type { DeliveryPolicy } from "./delivery.js";
import {
  QueueReplicator,
  type QueueEndpoints,
  type ReplicatorSettings,
  type StartPosition,
} from "./queue-replicator.js";

/** What every pipeline of a connector shares. */
export interface PipelineHost {
  /** The connector's name: its consumer group, producer group prefix and RMQC_WRITER. */
  name: string;
  client(cluster: string): RocketMQClient;
  budget: ByteBudget;
  settings: ReplicatorSettings;
  logger: Logger;
}

export interface PipelineSpec {
  endpoints: Omit<QueueEndpoints, "writer">;
  start: StartPosition;
  policy: DeliveryPolicy;
  /** See ReplicatorDeps.onAcknowledged. */
  onAcknowledged?: ((latenciesMs: readonly number[], bytes: number) => void) | undefined;
}

/** A replicator for one source queue, not started yet. */
export function createPipeline(host: PipelineHost, spec: PipelineSpec): QueueReplicator {
  const source = host.client(spec.endpoints.sourceCluster);
  const target = host.client(spec.endpoints.targetCluster);
  return new QueueReplicator(
    { ...spec.endpoints, writer: host.name },
    spec.start,
    {
      consumer: source.pullConsumer({ group: host.name }),
      producer: target.producer({
        group: `${host.name}_producer`,
        sendTimeoutMs: host.settings.sendTimeoutMs,
      }),
      sourceAdmin: source.admin,
      budget: host.budget,
      logger: host.logger,
      policy: spec.policy,
      onAcknowledged: spec.onAcknowledged,
    },
    host.settings,
  );
}
