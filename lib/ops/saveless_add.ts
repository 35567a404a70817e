/**
 * A sum whose gradient needs only its operands' shapes, written so that the backward pass keeps neither
 * operand. TF.js's stock `Add` saves both inputs (its gradient reads their shapes to undo
 * broadcasting); on a training tape that keeps every residual sum's two float32 operands alive until
 * the whole backward pass ends, whatever else has let them go. In the
 * half precisions those operands are exactly the float32 tensors the 16-bit saved copies replace
 * (docs/PRECISION.md, "What is saved for the backward pass"). Values and gradients are those of
 * `tf.add` bit for bit.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { addSameShape } from "./saveless_add.ts";
 * const [ga, gb] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(addSameShape(a, b), 3)))(
 *   [tf.ones([2]), tf.zeros([2])],
 * );
 * ga.print(); // [3, 3]
 * gb.print(); // [3, 3]
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { releasing } from "./grad_release.ts";

type CustomGradFn = Parameters<typeof tf.customGrad>[0];

// The gradient flows to both operands unchanged; each gets its own handle on dy's data (a clone), so
// the tape can add to one and dispose it without touching the other.
const sumOp = tf.customGrad(
  ((a: tf.Tensor, b: tf.Tensor) => ({
    value: tf.add(a, b),
    gradFunc: releasing((dy: tf.Tensor) => [tf.clone(dy), tf.clone(dy)]),
  })) as unknown as CustomGradFn,
);

/** a + b for two float32 tensors of one shape (no broadcasting); the backward pass saves neither. */
export function addSameShape<T extends tf.Tensor>(a: T, b: tf.Tensor): T {
  if (a.dtype !== "float32" || b.dtype !== "float32") {
    throw new Error(`addSameShape: float32 operands expected, got ${a.dtype} and ${b.dtype}`);
  }
  if (a.rank !== b.rank || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`addSameShape: shapes [${a.shape}] and [${b.shape}] differ`);
  }
  return sumOp(a, b) as T;
}
