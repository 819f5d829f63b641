/**
 * What `verify` remembers about one source queue S while it reads the target: for each source
 * offset of S found there, a flag byte and two 32-bit hashes (content, UNIQ_KEY), in chunks of
 * typed arrays allocated only where offsets were seen. 9 bytes per seen offset, so a million
 * replicated messages cost about 9 MB, whatever their bodies weigh.
 *
 * The target is read first (every target queue and the dead-letter topic), then the source range
 * is walked once, asking the book what became of each offset. No I/O here: unit-testable.
 */

/** Offsets per chunk: 16 Ki offsets = 16 KiB of flags + 128 KiB of hashes. */
const CHUNK_BITS = 14;
const CHUNK_SIZE = 1 << CHUNK_BITS;

const Flag = {
  /** Found at least once in the target topic. */
  IN_TARGET: 1,
  /** Found at least once in the dead-letter topic. */
  IN_DEAD_LETTERS: 2,
  /** Found more than once across the target topic and the dead-letter topic. */
  DUPLICATED: 4,
  /** Found in a target queue after a higher offset of S in that queue. */
  LATE: 8,
  /** Two target copies with different contents: whichever is compared, one is altered. */
  COPIES_DIFFER: 16,
} as const;

interface Chunk {
  flags: Uint8Array;
  /** content hash at 2i, UNIQ_KEY hash at 2i + 1 (of the first target copy). */
  hashes: Uint32Array;
}

/** The hashes of one message as `verify` compares it (see verify-hash.ts). */
export interface MessageDigest {
  /** Body bytes as stored, compression bits, flag and every compared property but UNIQ_KEY. */
  content: number;
  /** UNIQ_KEY's value, or undefined when the message has none. */
  uniqKey: number | undefined;
}

/** What became of one source offset in range. */
export type SourceVerdict = "ok" | "missing" | "altered" | "dead-lettered";

/** How many examples of each problem a report keeps. */
export const EXAMPLES_KEPT = 5;

/** Offsets of S with a problem found by the target scan alone (no source needed). */
export interface TargetFindings {
  duplicated: number;
  outOfOrder: number;
  examples: { duplicated: bigint[]; outOfOrder: bigint[] };
}

/** Bookkeeping of one source queue (see the file comment). */
export class SourceQueueBook {
  readonly #chunks = new Map<number, Chunk>();
  /** Lowest source offset found in the target topic or dead-letter topic. */
  #lowest: bigint | undefined;
  /** Target queue being read and the highest offset of S met in it so far (for order). */
  #queueToken: string | undefined;
  #highestInQueue = -1;

  /** Lowest source offset of S found in the target (topic or dead letters), undefined when none. */
  get lowestSeen(): bigint | undefined {
    return this.#lowest;
  }

  /**
   * A copy of source offset `offset` in target queue `queueToken` (any string naming the queue),
   * read in target-offset order. Order is judged within one target queue only: a mapping change
   * legitimately moves S to another queue.
   */
  recordTarget(offset: bigint, digest: MessageDigest, queueToken: string): void {
    const { chunk, index } = this.#slot(offset, true);
    const n = Number(offset);
    if (this.#queueToken !== queueToken) {
      this.#queueToken = queueToken;
      this.#highestInQueue = -1;
    }
    if (n < this.#highestInQueue) chunk.flags[index] = (chunk.flags[index] ?? 0) | Flag.LATE;
    else this.#highestInQueue = n;
    const uniq = digest.uniqKey === undefined ? 0 : digest.uniqKey;
    const flags = chunk.flags[index] ?? 0;
    if ((flags & Flag.IN_TARGET) === 0) {
      chunk.hashes[2 * index] = digest.content;
      chunk.hashes[2 * index + 1] = uniq;
    } else if (chunk.hashes[2 * index] !== digest.content || chunk.hashes[2 * index + 1] !== uniq) {
      chunk.flags[index] = (chunk.flags[index] ?? 0) | Flag.COPIES_DIFFER;
    }
    this.#occurrence(chunk, index, Flag.IN_TARGET);
  }

  /** A copy of source offset `offset` in the dead-letter topic (compared for nothing but count). */
  recordDeadLetter(offset: bigint): void {
    const { chunk, index } = this.#slot(offset, true);
    this.#occurrence(chunk, index, Flag.IN_DEAD_LETTERS);
  }

  /**
   * What became of source offset `offset`, whose expected target message has `expected`'s
   * hashes. A dead letter is not compared (the connector may strip its user properties); a copy
   * in the target topic is, and UNIQ_KEY only when the source message has one (otherwise the
   * target's producer made one up).
   */
  checkSource(offset: bigint, expected: MessageDigest): SourceVerdict {
    const slot = this.#slot(offset, false);
    const flags = slot === undefined ? 0 : (slot.chunk.flags[slot.index] ?? 0);
    if ((flags & Flag.IN_TARGET) !== 0 && slot !== undefined) {
      const { chunk, index } = slot;
      if ((flags & Flag.COPIES_DIFFER) !== 0) return "altered";
      if (chunk.hashes[2 * index] !== expected.content) return "altered";
      if (expected.uniqKey !== undefined && chunk.hashes[2 * index + 1] !== expected.uniqKey)
        return "altered";
      return "ok";
    }
    if ((flags & Flag.IN_DEAD_LETTERS) !== 0) return "dead-lettered";
    return "missing";
  }

  /**
   * Duplicated offsets (found more than once) and out-of-order ones (late in their target queue
   * and not duplicates: a re-sent copy arriving after higher offsets is a duplicate, not
   * disorder), over every offset of S found, in range or not. Examples are the lowest offsets.
   */
  targetFindings(): TargetFindings {
    const out: TargetFindings = {
      duplicated: 0,
      outOfOrder: 0,
      examples: { duplicated: [], outOfOrder: [] },
    };
    for (const key of [...this.#chunks.keys()].sort((x, y) => x - y)) {
      const flags = (this.#chunks.get(key) as Chunk).flags;
      for (let i = 0; i < CHUNK_SIZE; i++) {
        const f = flags[i] ?? 0;
        if (f === 0) continue;
        const offset = BigInt(key * CHUNK_SIZE + i);
        if ((f & Flag.DUPLICATED) !== 0) {
          out.duplicated++;
          if (out.examples.duplicated.length < EXAMPLES_KEPT) out.examples.duplicated.push(offset);
        } else if ((f & Flag.LATE) !== 0) {
          out.outOfOrder++;
          if (out.examples.outOfOrder.length < EXAMPLES_KEPT) out.examples.outOfOrder.push(offset);
        }
      }
    }
    return out;
  }

  /** Bytes held by the typed arrays (for the memory figures). */
  get bytes(): number {
    return this.#chunks.size * CHUNK_SIZE * 9;
  }

  #occurrence(chunk: Chunk, index: number, where: number): void {
    const flags = chunk.flags[index] ?? 0;
    const seen = flags & (Flag.IN_TARGET | Flag.IN_DEAD_LETTERS);
    chunk.flags[index] = flags | where | (seen !== 0 ? Flag.DUPLICATED : 0);
  }

  #slot(offset: bigint, create: true): { chunk: Chunk; index: number };
  #slot(offset: bigint, create: false): { chunk: Chunk; index: number } | undefined;
  #slot(offset: bigint, create: boolean): { chunk: Chunk; index: number } | undefined {
    // Queue offsets stay far below 2^53 (a queue at a million messages a second takes 285 years).
    const n = Number(offset);
    const key = Math.floor(n / CHUNK_SIZE);
    let chunk = this.#chunks.get(key);
    if (chunk === undefined) {
      if (!create) return undefined;
      chunk = { flags: new Uint8Array(CHUNK_SIZE), hashes: new Uint32Array(2 * CHUNK_SIZE) };
      this.#chunks.set(key, chunk);
    }
    if (create && (this.#lowest === undefined || offset < this.#lowest)) this.#lowest = offset;
    return { chunk, index: n - key * CHUNK_SIZE };
  }
}
