/**
 * The fuzzer's randomness: a small seeded PRNG (mulberry32), so that a seed replays every case
 * and a case index replays one (each case draws from its own generator, seeded from both).
 */
export class Prng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** Uniform in [0, 2^32). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.next() / 0x100000000) * n);
  }

  /** Uniform integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() / 0x100000000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }

  /** A string of `n` characters, mostly ASCII, some separators and non-ASCII (multi-byte UTF-8). */
  text(n: number): string {
    let out = "";
    for (let i = 0; i < n; i++) {
      const r = this.int(20);
      out +=
        r < 16
          ? String.fromCharCode(0x61 + this.int(26))
          : this.pick(["_", " ", "é", "中", "\u{1f600}", "\\"]);
    }
    return out;
  }
}

/** The seed of case `index` of the target at `targetIndex` in a run seeded with `seed`. */
export function caseSeed(seed: number, targetIndex: number, index: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(targetIndex + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) ^ index;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
