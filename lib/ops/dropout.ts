/**
 * Dropout as an injectable function, so that training uses seeded random masks while tests can
 * substitute deterministic ones shared with the PyTorch reference. Each call site of the forward
 * pass passes its own `site` index (embeddings 0; layer l: attention probs 1+3l, attention output
 * 2+3l, FFN output 3+3l).
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { seededDropout } from "./dropout.ts";
 * const drop = seededDropout(42, 0);
 * const y = drop(tf.ones([2, 3]), 0.1, 0); // entries are 0 or 1/0.9
 * ```
 * @module
 */
import { type Tensor, tf } from "../runtime/tf.ts";
import { fusedDropout } from "./fused.ts";

/**
 * Apply dropout with `rate` to `x` at forward-pass location `site`; returns a new tensor. `hashSeed`, where
 * given, is the seed of the fused kernel's hash mask the function uses at each site (where that kernel is
 * registered), so that an op fusing the dropout with what follows draws the same mask.
 */
export type DropoutFn = ((x: Tensor, rate: number, site: number) => Tensor) & {
  hashSeed?: (site: number) => number;
};

/**
 * Inverted dropout with reproducible masks: the mask at `site` during training step `step` depends
 * only on (seed, step, site), so a resumed run draws exactly the masks an uninterrupted one would.
 * `siteOffset` separates two forward passes in one step (e.g. the MLM pass).
 */
export function seededDropout(seed: number, step = 0, siteOffset = 0): DropoutFn {
  // Mix into a 31-bit seed; distinct for every (step, site) pair of one run.
  const hashSeed = (site: number) =>
    (Math.imul(seed ^ 0x5bd1e995, 0x01000193) + Math.imul(step + 1, 0x9e3779b1) +
      Math.imul(site + siteOffset + 1, 0x85ebca6b)) >>> 1;
  const fn: DropoutFn = (x: tf.Tensor, rate: number, site: number) => {
    if (rate <= 0) return tf.clone(x);
    const s = hashSeed(site);
    return fusedDropout(x, rate, s) ?? tf.dropout(x, rate, undefined, s);
  };
  fn.hashSeed = hashSeed;
  return fn;
}
