/**
 * A first-in first-out queue on a ring of slots that only ever grows (doubling). The replicator
 * appends every pulled message and removes runs from the front after each send. It replaced an
 * array used that way (push, then splice(0, n)): in bench:catchup-ab the array cost 8 % more CPU
 * per message and 30 % more peak RSS (docs/benchmarks.md, session 4).
 */
export class RingQueue<T> {
  #slots: (T | undefined)[];
  #head = 0;
  #size = 0;

  /** `initialCapacity` is rounded up to a power of two. */
  constructor(initialCapacity = 64) {
    let capacity = 1;
    while (capacity < initialCapacity) capacity *= 2;
    this.#slots = new Array<T | undefined>(capacity).fill(undefined);
  }

  get length(): number {
    return this.#size;
  }

  push(item: T): void {
    if (this.#size === this.#slots.length) this.#grow();
    this.#slots[(this.#head + this.#size) & (this.#slots.length - 1)] = item;
    this.#size++;
  }

  /** The item `index` places from the front, or undefined past the end. */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.#size) return undefined;
    return this.#slots[(this.#head + index) & (this.#slots.length - 1)];
  }

  /** The first item `predicate` accepts, from the front. */
  find(predicate: (item: T) => boolean): T | undefined {
    for (let i = 0; i < this.#size; i++) {
      const item = this.#slots[(this.#head + i) & (this.#slots.length - 1)] as T;
      if (predicate(item)) return item;
    }
    return undefined;
  }

  /** Removes up to `count` items from the front (their slots are cleared, for the GC). */
  dropFront(count: number): void {
    const n = Math.min(count, this.#size);
    const mask = this.#slots.length - 1;
    for (let i = 0; i < n; i++) this.#slots[(this.#head + i) & mask] = undefined;
    this.#head = (this.#head + n) & mask;
    this.#size -= n;
  }

  #grow(): void {
    const old = this.#slots;
    const slots = new Array<T | undefined>(old.length * 2).fill(undefined);
    for (let i = 0; i < this.#size; i++) slots[i] = old[(this.#head + i) & (old.length - 1)];
    this.#slots = slots;
    this.#head = 0;
  }
}
