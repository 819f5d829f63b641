/**
 * Mutations of valid encodings: what a broken or hostile peer could turn a real frame into. Each
 * returns a new buffer; the input is never changed.
 */
import type { Prng } from "./prng.js";

/** Values that sit on the edges of the length checks. */
const INT32_EDGES = [0, 1, -1, 3, 4, 0x7fff, 0x8000, 0xffff, 0x7fffffff, -0x80000000, 0x1000000];
const INT16_EDGES = [0, 1, -1, 0x7fff, -0x8000, 0x7f, 0x80];
const BYTE_EDGES = [0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, 0x22, 0x7b, 0x5c, 0xc3];

type Mutation = (rng: Prng, input: Buffer, other: Buffer) => Buffer;

const at = (rng: Prng, input: Buffer): number => rng.int(input.length + 1);

const MUTATIONS: readonly Mutation[] = [
  function flipBit(rng, input) {
    if (input.length === 0) return input;
    const out = Buffer.from(input);
    const i = rng.int(out.length);
    out[i] = (out[i] as number) ^ (1 << rng.int(8));
    return out;
  },
  function setByte(rng, input) {
    if (input.length === 0) return input;
    const out = Buffer.from(input);
    out[rng.int(out.length)] = rng.chance(0.5) ? rng.pick(BYTE_EDGES) : rng.int(256);
    return out;
  },
  function insertBytes(rng, input) {
    const i = at(rng, input);
    return Buffer.concat([input.subarray(0, i), rng.bytes(rng.range(1, 8)), input.subarray(i)]);
  },
  function deleteBytes(rng, input) {
    const i = at(rng, input);
    return Buffer.concat([input.subarray(0, i), input.subarray(i + rng.range(1, 16))]);
  },
  function tweakLength(rng, input) {
    // Length fields sit anywhere; the value is an edge, the length of what follows, or ±1.
    if (input.length < 4) return input;
    const out = Buffer.from(input);
    const wide = rng.chance(0.6);
    const i = rng.int(out.length - (wide ? 3 : 1));
    const current = wide ? out.readInt32BE(i) : out.readInt16BE(i);
    const value = rng.pick([
      rng.pick(wide ? INT32_EDGES : INT16_EDGES),
      out.length - i,
      out.length - i - (wide ? 4 : 2),
      current + 1,
      current - 1,
    ]);
    if (wide) out.writeInt32BE(value | 0, i);
    else out.writeInt16BE(((value << 16) >> 16) | 0, i);
    return out;
  },
  function truncate(rng, input) {
    return input.subarray(0, rng.int(input.length + 1));
  },
  function splice(rng, input, other) {
    return Buffer.concat([input.subarray(0, at(rng, input)), other.subarray(at(rng, other))]);
  },
  function duplicateRange(rng, input) {
    const i = at(rng, input);
    const j = Math.min(input.length, i + rng.range(1, 32));
    return Buffer.concat([input.subarray(0, j), input.subarray(i, j), input.subarray(j)]);
  },
];

/** One to four stacked mutations of `input`; `other` (another valid encoding) feeds splices. */
export function mutate(rng: Prng, input: Buffer, other: Buffer): Buffer {
  let out = input;
  for (let n = rng.range(1, 4); n > 0; n--) out = rng.pick(MUTATIONS)(rng, out, other);
  return out;
}
