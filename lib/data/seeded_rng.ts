/**
 * A small, fully specified pseudo-random generator, so that the data order and the MLM masks of a
 * run can be reproduced exactly after a resume (and re-derived in Python, see
 * `reference/make_data_fixtures.py`).
 *
 * - {@link mixSeed} folds a list of 32-bit words into one 32-bit state: for each word `w`,
 *   `h = fmix32(((h ^ w) + 0x9E3779B9) mod 2^32)`, starting from `h = 0`, where `fmix32` is the
 *   MurmurHash3 finalizer.
 * - {@link Mulberry32} is Tommy Ettinger's mulberry32 generator (32-bit state, period 2^32).
 *   `nextBelow(k)` is exactly uniform (rejection sampling), `nextFloat()` is `uint32 / 2^32`.
 *
 * @example
 * ```ts
 * import { Mulberry32, mixSeed } from "./seeded_rng.ts";
 * const rng = new Mulberry32(mixSeed([42, 0]));
 * console.log(rng.nextBelow(10), rng.nextFloat());
 * ```
 * @module
 */
import { fmix32 } from "../runtime/fmix32.ts";

export { fmix32 };

/** Fold 32-bit words (numbers are taken mod 2^32) into one 32-bit seed. */
export function mixSeed(words: readonly number[]): number {
  let h = 0;
  for (const w of words) h = fmix32((((h ^ w) >>> 0) + 0x9e3779b9) >>> 0);
  return h;
}

/**
 * Split a safe integer (possibly negative) into its low and high 32-bit words (two's complement
 * over 64 bits), so seeds and steps above 2^32 still change the stream.
 */
export function int64Words(x: number): [number, number] {
  if (!Number.isSafeInteger(x)) throw new RangeError(`expected a safe integer, got ${x}`);
  const lo = Number(BigInt.asUintN(64, BigInt(x)) & 0xffffffffn);
  const hi = Number(BigInt.asUintN(64, BigInt(x)) >> 32n);
  return [lo, hi];
}

/** mulberry32: a 32-bit-state generator; fast, small, and easy to re-implement elsewhere. */
export class Mulberry32 {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The next uniform 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float in [0, 1) with 32 random bits. */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  /** An exactly uniform integer in [0, bound), 1 <= bound <= 2^32 (rejection of the biased tail). */
  nextBelow(bound: number): number {
    if (!(bound >= 1 && bound <= 4294967296) || !Number.isInteger(bound)) {
      throw new RangeError(`bound must be an integer in [1, 2^32], got ${bound}`);
    }
    const limit = 4294967296 - (4294967296 % bound);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % bound;
    }
  }
}
