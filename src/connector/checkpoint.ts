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

/**
 * Positions as consumer offsets of the connector's group on the source cluster.
 *
 * The first commit of a topic@group on a broker goes alone: the broker (4.9.7 and 5.x alike,
 * ConsumerOffsetManager.commitOffset) creates the topic@group table with get-then-put, so two
 * first commits that race each create a table and the later put drops the other's offset. Seen in
 * CI as a `latest` start pinned on two queues and only one of them committed.
 */
export class ConsumerOffsetCheckpoint implements Checkpoint {
  readonly #admin: Admin;
  readonly #group: string;
  /** brokerName|topic whose table this process has seen created (a commit there succeeded). */
  readonly #tablesKnown = new Set<string>();
  /** brokerName|topic whose first commit is under way; later commits wait for it. */
  readonly #firstCommits = new Map<string, Promise<void>>();

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
        this.#commit(e.queue, e.position.nextSourceOffset).catch((err: unknown) => failures.push(err)),
      ),
    );
    if (failures.length > 0) throw failures[0];
  }

  async #commit(queue: MessageQueue, offset: bigint): Promise<void> {
    const table = `${queue.brokerName}|${queue.topic}`;
    for (;;) {
      if (this.#tablesKnown.has(table)) break;
      const first = this.#firstCommits.get(table);
      if (first === undefined) {
        const commit = this.#admin.updateConsumerOffset(this.#group, queue, offset);
        this.#firstCommits.set(table, commit);
        try {
          await commit;
          this.#tablesKnown.add(table);
        } finally {
          this.#firstCommits.delete(table);
        }
        return;
      }
      await first.catch(() => undefined);
    }
    try {
      await this.#admin.updateConsumerOffset(this.#group, queue, offset);
    } catch (err) {
      // A broker restarted before it flushed its offsets has no table again: go alone once more.
      this.#tablesKnown.delete(table);
      throw err;
    }
  }
}
