/**
 * Views whose gradients need only the input's shape, written so that the backward pass keeps no input:
 * TF.js's stock `Reshape` and `Slice` save theirs (their gradients read its shape), which on a training
 * tape keeps an encoder's whole float32 output alive until the backward pass ends, although the pooler
 * reads one position of it or nothing else does (`bert.ts`, `gpt2.ts`, `simcse/pooling.ts`). Values and
 * gradients are those of `tf.reshape` and `tf.slice` bit for bit.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { firstPosition } from "./saveless_view.ts";
 * const g = tf.grad((h: tf.Tensor) => tf.sum(firstPosition(h as tf.Tensor3D)))(tf.ones([2, 3, 4]));
 * g.print(); // 1 at position 0 of each row, 0 elsewhere
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { releasing } from "./grad_release.ts";

type CustomGradFn = Parameters<typeof tf.customGrad>[0];

/** `tf.reshape(x, shape)`; the backward pass keeps no input (its gradient is dy reshaped back). */
export function savelessReshape<T extends tf.Tensor>(x: tf.Tensor, shape: number[]): T {
  const from = x.shape;
  const op = tf.customGrad(
    ((xs: tf.Tensor) => ({
      value: tf.reshape(xs, shape),
      gradFunc: releasing((dy: tf.Tensor) => tf.reshape(dy, from)),
    })) as unknown as CustomGradFn,
  );
  return op(x) as T;
}

/** h [B, L, H] → h[:, 0, :] as [B, H]; the backward pass keeps no input (dy goes to position 0, zeros elsewhere). */
export function firstPosition(h: tf.Tensor3D): tf.Tensor2D {
  const [B, L, H] = h.shape;
  const op = tf.customGrad(
    ((hs: tf.Tensor3D) => ({
      value: tf.reshape(tf.slice(hs, [0, 0, 0], [B, 1, H]), [B, H]),
      gradFunc: releasing((dy: tf.Tensor) => tf.pad(tf.reshape(dy, [B, 1, H]), [[0, 0], [0, L - 1], [0, 0]])),
    })) as unknown as CustomGradFn,
  );
  return op(h) as tf.Tensor2D;
}
