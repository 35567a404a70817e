/**
 * The SimCSE MLP head (`MLPLayer`: Linear(H, H) + tanh on the [CLS] vector; docs/SIMCSE.md §a.3). It is
 * created fresh (normal(0, initializer_range) weights, zero bias), used in training, and with
 * `mlpOnlyTrain` dropped at evaluation. Weights are kept as a [in, out] kernel under the official
 * names `mlp.dense.weight` / `mlp.dense.bias`.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { MlpHead } from "./mlp_head.ts";
 * const head = MlpHead.init(4, 0.02, 1);
 * console.log(head.apply(tf.ones([2, 4])).shape); // [2, 4]
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";

export class MlpHead {
  constructor(readonly weight: tf.Variable, readonly bias: tf.Variable) {}

  static init(hidden: number, std: number, seed: number): MlpHead {
    const w = tf.randomNormal([hidden, hidden], 0, std, "float32", seed);
    const b = tf.zeros([hidden]);
    const head = new MlpHead(tf.variable(w, true), tf.variable(b, true));
    tf.dispose([w, b]);
    return head;
  }

  /** From HF-layout values (weight [out, in]). */
  static fromHf(weightOutIn: Float32Array, bias: Float32Array, hidden: number): MlpHead {
    const w = tf.tidy(() => tf.transpose(tf.tensor2d(weightOutIn, [hidden, hidden])));
    const b = tf.tensor1d(bias);
    const head = new MlpHead(tf.variable(w, true), tf.variable(b, true));
    tf.dispose([w, b]);
    return head;
  }

  /** tanh(x W + b): [N, H] -> [N, H]. */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tanh(tf.add(tf.matMul(x, this.weight), this.bias));
  }

  /** Named variables (`mlp.dense.weight`, `mlp.dense.bias`). */
  variables(): Map<string, tf.Variable> {
    return new Map([["mlp.dense.weight", this.weight], ["mlp.dense.bias", this.bias]]);
  }

  dispose(): void {
    this.weight.dispose();
    this.bias.dispose();
  }
}
