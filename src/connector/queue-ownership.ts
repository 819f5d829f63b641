/**
 * Queue ownership: the life of every source queue a process replicates, apart from which queues
 * those are (the engine's route resolution decides that, a scale-out layer will too).
 *
 *   take     find where to start (the route's delivery mode recovers it from its checkpoint),
 *            build the pipeline (pipeline.ts) and run it;
 *   save     write each queue's position through the mode's checkpoint (periodically, on release);
 *   release  stop pulling, drain what is in flight (or abandon it), save, forget the queue.
 *
 * The engine and a future scale-out layer hand queues in and out through take and release only,
 * so a queue taken over at runtime is recovered exactly like one at start.
 */
import { setMaxListeners } from "node:events";
import type { MessageQueue } from "../client/types.js";
import { queueKey } from "../client/types.js";
import type { Checkpoint, SavedPosition } from "./checkpoint.js";
import type { DeliveryPolicy } from "./delivery.js";
import type { EngineRoute } from "./engine-config.js";
import { GroupCommit } from "./group-commit.js";
import { createPipeline, type PipelineHost } from "./pipeline.js";
import type { QueuePosition, QueueReplicator, StartPosition } from "./queue-replicator.js";

/** One source queue to replicate, and where it goes. */
export interface QueueAssignment {
  route: EngineRoute;
  sourceQueue: MessageQueue;
  targetQueue: MessageQueue;
  /** The fixed queue of the route's dead-letter topic for this source queue, if it has one. */
  deadLetterQueue: MessageQueue | undefined;
}

/** How a route delivers: its checkpoint, how a queue is recovered, what an unknown send leads to. */
export interface DeliveryMode {
  readonly checkpoint: Checkpoint;
  /** Where a queue starts, from what its last owner saved (undefined: never saved). */
  recover(
    assignment: QueueAssignment,
    saved: SavedPosition | undefined,
    signal: AbortSignal,
  ): Promise<StartPosition>;
  policy(assignment: QueueAssignment): DeliveryPolicy;
  /** Save a queue whose position did not move after this long anyway (0: only when it moved). */
  readonly refreshIdleMs: number;
  /** Save a queue's position as soon as it is recovered (not only when it was never saved). */
  readonly saveAfterRecovery: boolean;
  /**
   * Raise a running queue's target watermarks where nothing is in flight, every refreshIdleMs
   * (exactly-once: keeps rarely written target queues above the target's retention).
   */
  refreshWatermarks?(replicator: QueueReplicator): Promise<void>;
  /** A queue this process owned was released (its abandoned sends may still land for a while). */
  released?(assignment: QueueAssignment): void;
}

export interface OwnershipHost extends PipelineHost {
  mode(route: EngineRoute): DeliveryMode;
  onAcknowledged?(assignment: QueueAssignment, latenciesMs: readonly number[], bytes: number): void;
}

/** One owned queue, for status. */
export interface OwnedQueue {
  key: string;
  assignment: QueueAssignment;
  replicator: QueueReplicator;
  /** The source offset last saved (the committed position); undefined before the first save. */
  committedOffset: bigint | undefined;
  commits: number;
  lastCommitAtMs: number | undefined;
}

interface Owned extends OwnedQueue {
  mode: DeliveryMode;
  saved: QueuePosition | undefined;
  savedAtMs: number;
  watermarksAtMs: number;
}

export function assignmentKey(route: EngineRoute, queue: MessageQueue): string {
  return `${route.name}|${queueKey(queue)}`;
}

export class QueueOwnership {
  readonly #host: OwnershipHost;
  readonly #owned = new Map<string, Owned>();
  /** Queues being taken: a second take of one waits for the first. */
  readonly #taking = new Map<string, Promise<void>>();
  readonly #stop = new AbortController();
  /** Positions pinned as queues are taken, written together per checkpoint. */
  readonly #pins = new Map<Checkpoint, GroupCommit<{ owned: Owned; position: QueuePosition }>>();

  constructor(host: OwnershipHost) {
    this.#host = host;
    // One signal ends every take under way: 8 queues recovering at once each listen on it (reads,
    // waits, fences), past Node's leak warning at 10 listeners, which would be noise here.
    setMaxListeners(0, this.#stop.signal);
  }

  has(key: string): boolean {
    return this.#owned.has(key) || this.#taking.has(key);
  }

  keys(): string[] {
    return [...this.#owned.keys()];
  }

  queues(): OwnedQueue[] {
    return [...this.#owned.values()];
  }

  /** Takes a source queue: recovers where it starts, saves that at once when new, runs it. */
  take(assignment: QueueAssignment): Promise<void> {
    return this.takeAll([assignment]);
  }

  /**
   * Takes source queues together: one checkpoint read per delivery mode, recoveries side by side
   * (a restart of many queues waits for the slowest, not for the sum). Rejects with the first
   * failure once every take ended; the queues that could be taken run.
   */
  async takeAll(assignments: readonly QueueAssignment[]): Promise<void> {
    const byMode = new Map<DeliveryMode, { key: string; assignment: QueueAssignment }[]>();
    const waits: Promise<void>[] = [];
    for (const assignment of assignments) {
      const key = assignmentKey(assignment.route, assignment.sourceQueue);
      if (this.#owned.has(key) || this.#stop.signal.aborted) continue;
      const taking = this.#taking.get(key);
      if (taking !== undefined) {
        waits.push(taking);
        continue;
      }
      const mode = this.#host.mode(assignment.route);
      let list = byMode.get(mode);
      if (list === undefined) byMode.set(mode, (list = []));
      list.push({ key, assignment });
    }
    for (const [mode, list] of byMode) {
      const saved = mode.checkpoint.load(
        list.map((e) => e.assignment.sourceQueue),
        this.#stop.signal,
      );
      for (const { key, assignment } of list) {
        const taking = saved
          .then((positions) =>
            this.#take(key, assignment, mode, positions.get(queueKey(assignment.sourceQueue))),
          )
          .finally(() => this.#taking.delete(key));
        this.#taking.set(key, taking);
        waits.push(taking);
      }
    }
    const results = await Promise.allSettled(waits);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  async #take(
    key: string,
    assignment: QueueAssignment,
    mode: DeliveryMode,
    saved: SavedPosition | undefined,
  ): Promise<void> {
    const { route, sourceQueue, targetQueue } = assignment;
    const signal = this.#stop.signal;
    const start = await mode.recover(assignment, saved, signal);
    if (signal.aborted) return;
    const replicator = createPipeline(this.#host, {
      endpoints: {
        sourceCluster: route.from.cluster,
        targetCluster: route.to.cluster,
        sourceQueue,
        targetQueue,
        deadLetterQueue: assignment.deadLetterQueue,
        tags: route.from.tags,
        deadLetterTopic: route.deadLetterTopic,
      },
      start,
      policy: mode.policy(assignment),
      onAcknowledged: (latenciesMs, bytes) => this.#host.onAcknowledged?.(assignment, latenciesMs, bytes),
    });
    const owned: Owned = {
      key,
      assignment,
      replicator,
      mode,
      committedOffset: saved?.nextSourceOffset,
      commits: 0,
      lastCommitAtMs: undefined,
      saved: undefined,
      savedAtMs: 0,
      watermarksAtMs: Date.now(),
    };
    const fields = {
      route: route.name,
      topic: sourceQueue.topic,
      brokerName: sourceQueue.brokerName,
      queueId: sourceQueue.queueId,
      nextOffset: String(start.offset),
    };
    if (saved === undefined || mode.saveAfterRecovery) {
      // Pinned at once: a restart must not move a `latest` start past what arrived meanwhile,
      // and an exactly-once record must name the target queues (and watermarks) before a send.
      await this.#pin(owned);
      if (saved === undefined)
        this.#host.logger.info({ ...fields, start: route.start.kind }, "queue start position pinned");
    }
    if (signal.aborted) return;
    this.#owned.set(key, owned);
    replicator.start();
    this.#host.logger.info(
      { ...fields, targetTopic: targetQueue.topic, targetQueueId: targetQueue.queueId },
      "queue assigned",
    );
  }

  /** Stops replicating a source queue: drains (unless told not to), saves its position, forgets it. */
  async release(key: string, options: { drain?: boolean; drainTimeoutMs?: number } = {}): Promise<void> {
    await this.#taking.get(key)?.catch(() => undefined);
    const owned = this.#owned.get(key);
    if (!owned) return;
    await owned.replicator.stop({ ...options, drain: options.drain ?? true });
    owned.mode.released?.(owned.assignment);
    if (options.drain ?? true) {
      await this.#save(owned).catch((err: unknown) =>
        this.#host.logger.warn(
          { route: owned.assignment.route.name, err: errorMessage(err) },
          "final commit failed",
        ),
      );
    }
    this.#owned.delete(key);
  }

  /** Saves every queue whose position moved (and idle ones due for a refresh). */
  async saveAll(): Promise<void> {
    await this.#refreshWatermarks();
    const byCheckpoint = new Map<Checkpoint, { owned: Owned; position: QueuePosition }[]>();
    const now = Date.now();
    for (const owned of this.#owned.values()) {
      const position = owned.replicator.position();
      const refresh = owned.mode.refreshIdleMs > 0 && now - owned.savedAtMs >= owned.mode.refreshIdleMs;
      if (!refresh && !moved(owned.saved, position)) continue;
      let list = byCheckpoint.get(owned.mode.checkpoint);
      if (list === undefined) byCheckpoint.set(owned.mode.checkpoint, (list = []));
      list.push({ owned, position });
    }
    await Promise.all(
      [...byCheckpoint].map(([checkpoint, list]) =>
        this.#saveMany(checkpoint, list).catch((err: unknown) =>
          this.#host.logger.warn(
            { queues: list.length, err: errorMessage(err) },
            "commit failed; will retry",
          ),
        ),
      ),
    );
  }

  async #refreshWatermarks(): Promise<void> {
    const now = Date.now();
    await Promise.all(
      [...this.#owned.values()].map(async (owned) => {
        const { mode } = owned;
        if (mode.refreshWatermarks === undefined || now - owned.watermarksAtMs < mode.refreshIdleMs) return;
        try {
          await mode.refreshWatermarks(owned.replicator);
          owned.watermarksAtMs = now;
        } catch (err) {
          this.#host.logger.warn(
            { route: owned.assignment.route.name, err: errorMessage(err) },
            "target watermark refresh failed; will retry",
          );
        }
      }),
    );
  }

  async #save(owned: Owned): Promise<void> {
    const position = owned.replicator.position();
    if (!moved(owned.saved, position)) return;
    await this.#saveMany(owned.mode.checkpoint, [{ owned, position }]);
  }

  /** Saves a queue's position before it runs, in one write with other queues taken meanwhile. */
  #pin(owned: Owned): Promise<void> {
    const { checkpoint } = owned.mode;
    let pins = this.#pins.get(checkpoint);
    if (pins === undefined) {
      // Bounded by stop(): a write that hangs must not hold every take (and stop) behind it.
      pins = new GroupCommit((list) => this.#saveMany(checkpoint, list, this.#stop.signal));
      this.#pins.set(checkpoint, pins);
    }
    return pins.add({ owned, position: owned.replicator.position() });
  }

  async #saveMany(
    checkpoint: Checkpoint,
    list: { owned: Owned; position: QueuePosition }[],
    signal?: AbortSignal,
  ): Promise<void> {
    await checkpoint.save(
      list.map(({ owned, position }) => ({ queue: owned.assignment.sourceQueue, position })),
      signal,
    );
    const now = Date.now();
    for (const { owned, position } of list) {
      owned.saved = position;
      owned.savedAtMs = now;
      owned.committedOffset = position.nextSourceOffset;
      owned.commits++;
      owned.lastCommitAtMs = now;
    }
  }

  /** Stops every queue (draining unless `drain: false`), then saves what moved. */
  async stop(options: { drain?: boolean; drainTimeoutMs?: number } = {}): Promise<void> {
    this.#stop.abort();
    await Promise.all([...this.#taking.values()].map((t) => t.catch(() => undefined)));
    await Promise.all([...this.#owned.values()].map((o) => o.replicator.stop(options)));
    if (options.drain ?? true) await this.saveAll();
  }
}

function moved(saved: QueuePosition | undefined, now: QueuePosition): boolean {
  if (saved === undefined) return true;
  if (now.nextSourceOffset !== saved.nextSourceOffset) return true;
  if (now.targets.length !== saved.targets.length) return true;
  return now.targets.some((t, i) => t.nextOffset !== saved.targets[i]?.nextOffset);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
