/**
 * Where progress is kept, so a restarted (or another) process resumes a source queue where the
 * last one left it. Owners write positions through a Checkpoint; they never reach into storage.
 *
 * ConsumerOffsetCheckpoint, the at-least-once one, keeps the next source offset as the connector
 * group's consumer offset on the source cluster (what mqadmin and dashboards read for lag). The
 * exactly-once one (target-checkpoint.ts) keeps records as messages in the target cluster, in the
 * data's durability domain, and commits consumer offsets beside them for those tools.
 */
import type { Admin } from "../client/admin.js";
import { queueKey, type MessageQueue } from "../client/types.js";
import type { QueuePosition, SourceFingerprint, TargetPosition } from "./queue-replicator.js";

/** A position as a checkpoint returns it: what the last owner saved. */
export interface SavedPosition {
  nextSourceOffset: bigint;
  /** Target queues the source queue wrote to, with their watermarks (exactly-once only). */
  targets: TargetPosition[];
  fingerprint: SourceFingerprint | undefined;
}

export interface CheckpointEntry {
  queue: MessageQueue;
  position: QueuePosition;
}

export interface Checkpoint {
  /** Saved positions of these source queues (keyed by queueKey); queues never saved are absent. */
  load(queues: readonly MessageQueue[], signal?: AbortSignal): Promise<Map<string, SavedPosition>>;
  /** Saves positions; throws when any could not be saved (the caller retries at the next interval). */
  save(entries: readonly CheckpointEntry[], signal?: AbortSignal): Promise<void>;
}

/** Positions as consumer offsets of the connector's group on the source cluster. */
export class ConsumerOffsetCheckpoint implements Checkpoint {
  readonly #admin: Admin;
  readonly #group: string;

  constructor(sourceAdmin: Admin, group: string) {
    this.#admin = sourceAdmin;
    this.#group = group;
  }

  async load(queues: readonly MessageQueue[]): Promise<Map<string, SavedPosition>> {
    const out = new Map<string, SavedPosition>();
    for (const queue of queues) {
      const offset = await this.#admin.queryConsumerOffset(this.#group, queue);
      if (offset === undefined) continue;
      // 4.x brokers answer 0 when the group has no offset; ask the offset table which it is.
      if (offset === 0n && !(await this.#admin.hasConsumerOffset(this.#group, queue))) continue;
      out.set(queueKey(queue), { nextSourceOffset: offset, targets: [], fingerprint: undefined });
    }
    return out;
  }

  async save(entries: readonly CheckpointEntry[]): Promise<void> {
    const failures: unknown[] = [];
    await Promise.all(
      entries.map((e) =>
        this.#admin
          .updateConsumerOffset(this.#group, e.queue, e.position.nextSourceOffset)
          .catch((err: unknown) => failures.push(err)),
      ),
    );
    if (failures.length > 0) throw failures[0];
  }
}
