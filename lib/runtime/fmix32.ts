/**
 * MurmurHash3's 32-bit finaliser, shared by the seeded data order (`lib/data/seeded_rng.ts`) and the
 * counter-based dropout masks of every backend (`lib/kernels/`), so both stay one function.
 *
 * @example
 * ```ts
 * import { fmix32 } from "./fmix32.ts";
 * console.log(fmix32(0), fmix32(1)); // 0 1364076727
 * ```
 * @module
 */

/** MurmurHash3's 32-bit finalizer (a bijection on 32-bit words with good avalanche). */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
