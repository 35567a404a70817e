/**
 * The masked-LM head of SimCSE's auxiliary objective (`--do_mlm`; docs/SIMCSE.md §a.4):
 * `BertLMPredictionHead` = dense(H, H) + erf GELU + LayerNorm, then a decoder Linear(H, V) with its
 * own bias. As in the official `BertForCL`, the head is named `lm_head.*`, is NOT tied to the word
 * embeddings (BertForCL defines no output embeddings, so HF ties nothing) and starts from a fresh
 * init (normal(0, initializer_range) weights, zero biases, LayerNorm 1/0): BERT checkpoints carry
 * `cls.predictions.*`, not `lm_head.*`. The dense kernel is kept as [in, out]; the decoder as [V, H].
 *
 * @example
 * ```ts
 * import { MlmHead } from "./mlm_head.ts";
 * const head = MlmHead.init(8, 20, 0.02, 1e-12, 1);
 * head.dispose();
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { activation, layerNorm } from "../model/layers.ts";

export class MlmHead {
  constructor(
    readonly params: Map<string, tf.Variable>,
    readonly eps: number,
  ) {}

  static init(hidden: number, vocab: number, std: number, eps: number, seed: number): MlmHead {
    const make = (t: tf.Tensor) => {
      const v = tf.variable(t, true);
      t.dispose();
      return v;
    };
    return new MlmHead(
      new Map([
        ["lm_head.transform.dense.weight", make(tf.randomNormal([hidden, hidden], 0, std, "float32", seed))],
        ["lm_head.transform.dense.bias", make(tf.zeros([hidden]))],
        ["lm_head.transform.LayerNorm.weight", make(tf.ones([hidden]))],
        ["lm_head.transform.LayerNorm.bias", make(tf.zeros([hidden]))],
        ["lm_head.decoder.weight", make(tf.randomNormal([vocab, hidden], 0, std, "float32", seed + 1))],
        ["lm_head.bias", make(tf.zeros([vocab]))],
      ]),
      eps,
    );
  }

  private p(n: string): tf.Variable {
    const v = this.params.get(`lm_head.${n}`);
    if (!v) throw new Error(`MLM head parameter lm_head.${n} is missing`);
    return v;
  }

  /** Mean cross-entropy over positions whose label is not -100. hidden [N, H], labels int32 [N]. */
  loss(hidden: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
    const t = tf.add(tf.matMul(hidden, this.p("transform.dense.weight")), this.p("transform.dense.bias"));
    const h = layerNorm(
      activation("gelu", t),
      this.p("transform.LayerNorm.weight"),
      this.p("transform.LayerNorm.bias"),
      this.eps,
    );
    const logits = tf.add(
      tf.matMul(h as tf.Tensor2D, this.p("decoder.weight"), false, true),
      this.p("bias"),
    ) as tf.Tensor2D; // [N, V]
    const isLabel = tf.notEqual(labels, -100);
    const valid = tf.cast(isLabel, "float32"); // [N]
    const safe = tf.where(isLabel, labels, tf.zerosLike(labels));
    const picked = tf.sum(tf.mul(tf.logSoftmax(logits, -1), tf.oneHot(safe, logits.shape[1])), 1); // [N]
    return tf.neg(tf.div(tf.sum(tf.mul(picked, valid)), tf.maximum(tf.sum(valid), 1)));
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
  }
}
