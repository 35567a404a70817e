/**
 * `releasing(gradFunc)`: a `tf.customGrad` gradient function that disposes its saved tensors as soon
 * as it has computed the input gradients. TF.js keeps every saved tensor (the forward activations a
 * gradient needs) until the whole backward pass ends, when its tape disposes them; PyTorch frees each
 * as soon as its node is done. Each node's gradient runs once and the saved tensors are the engine's
 * own clones, which nothing else reads, so releasing them early is safe.
 *
 * The incoming gradient `dy` is disposed too when a `releasing` gradient produced it (it went straight
 * from one such op to the next, so the tape holds it only for this node); any other `dy`, such as a
 * tensor the caller passed to `tf.grads` and may still hold, is left alone.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { releasing } from "./grad_release.ts";
 * const square = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
 *   save([x]);
 *   return { value: tf.square(x), gradFunc: releasing((dy, [xs]) => [tf.mul(dy, tf.mul(2, xs))]) };
 * }) as unknown as Parameters<typeof tf.customGrad>[0]);
 * tf.grad((x: tf.Tensor) => square(x) as tf.Tensor)(tf.scalar(3)).print(); // 6
 * ```
 * @module
 */
import type { tf } from "../runtime/tf.ts";

type GradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[];

const produced = new WeakSet<tf.Tensor>();

/**
 * Inside a {@link releasing} gradient: dispose the incoming `dy` now, where that gradient owns it (see
 * above) and has read it for the last time; otherwise leave it alone.
 */
export function releaseIncoming(dy: tf.Tensor): void {
  if (produced.has(dy) && !dy.isDisposed) dy.dispose();
}

/** Wrap a custom gradient so that its saved tensors (and a `dy` it owns) are disposed once it has run. */
export function releasing(gradFunc: GradFunc): GradFunc {
  return (dy, saved) => {
    const out = gradFunc(dy, saved);
    const outs = Array.isArray(out) ? out : [out];
    const keep = new Set(outs);
    const owned = produced.has(dy) ? [dy] : [];
    for (const t of [...saved, ...owned]) if (!keep.has(t) && !t.isDisposed) t.dispose();
    for (const t of outs) produced.add(t);
    return out;
  };
}
