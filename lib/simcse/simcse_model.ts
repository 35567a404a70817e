/**
 * SimCSE around an encoder: `contrastiveLoss()` for training (two dropout views in one forward,
 * MLP head on [CLS] when pooler is `cls`, optional hard negatives and MLM auxiliary loss) and
 * `embed()` for evaluation (dropout off, MLP dropped when `mlpOnlyTrain`). docs/SIMCSE.md.
 *
 * @example
 * ```ts
 * import { SimcseModel } from "./simcse_model.ts";
 * // const sm = new SimcseModel(bert, { poolerType: "cls", mlpOnlyTrain: true, temp: 0.05 }, MlpHead.init(...));
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import type { Encoder, EncoderInputs, EncoderOutput } from "../model/encoder.ts";
import type { DropoutFn } from "../ops/dropout.ts";
import type { Precision } from "../ops/precision.ts";
import { pool, type PoolerType, poolsFirstToken, poolsHiddenStates } from "./pooling.ts";
import { simcseLoss } from "./contrastive_loss.ts";
import type { MlpHead } from "./mlp_head.ts";
import type { MlmHead } from "./mlm_head.ts";

export interface SimcseOptions {
  /** Training pooler (SimCSE `--pooler_type`). */
  poolerType: PoolerType;
  /** Use the MLP head in training only; evaluate raw [CLS] (`cls_before_pooler`). */
  mlpOnlyTrain: boolean;
  /** Temperature τ (0.05). */
  temp: number;
  /** Log-weight on each example's own hard negative (0). */
  hardNegativeWeight?: number;
  /** Weight λ of the MLM auxiliary loss (0.1) when an MLM head is given. */
  mlmWeight?: number;
  /** Activation checkpointing of the encoder layers in training (see `ForwardOptions`). Default false. */
  checkpointLayers?: boolean;
  /** Matmul precision of the training forward passes (`ForwardOptions.precision`); evaluation is fp32. Default fp32. */
  precision?: Precision;
}

/**
 * The pooler that evaluation uses (SimCSE's rule): raw [CLS] (`cls_before_pooler`) for `cls` with
 * `mlpOnlyTrain`; otherwise the training pooler (with `cls`, the MLP is saved as BERT's pooler).
 */
export function evalPoolerOf(o: { poolerType: PoolerType; mlpOnlyTrain: boolean }): PoolerType {
  return o.poolerType === "cls" && o.mlpOnlyTrain ? "cls_before_pooler" : o.poolerType;
}

/** A collated training batch as tensors: rows interleaved per example ([numSent*N, L]). */
export interface TrainBatch extends EncoderInputs {
  numSent: 2 | 3;
  /** Masked ids for the MLM pass [numSent*N, L] and labels (-100 = ignore) flattened [numSent*N*L]. */
  mlmInputIds?: tf.Tensor2D;
  mlmLabels?: tf.Tensor1D;
}

export class SimcseModel {
  constructor(
    readonly encoder: Encoder,
    readonly opts: SimcseOptions,
    readonly mlp?: MlpHead,
    readonly mlm?: MlmHead,
  ) {
    if (opts.poolerType === "cls" && !mlp) {
      throw new Error("pooler 'cls' trains with an MLP head; none was given");
    }
  }

  /** The pooler that evaluation uses (`evalPoolerOf`). */
  get evalPooler(): PoolerType {
    return evalPoolerOf(this.opts);
  }

  /** Pooled rows after the MLP where it applies: [R, H]. */
  private pooled(out: EncoderOutput, training: boolean): tf.Tensor2D {
    if (this.opts.poolerType === "cls") {
      const cls = pool("cls_before_pooler", out);
      return training || !this.opts.mlpOnlyTrain ? this.mlp!.apply(cls) : cls;
    }
    return pool(this.opts.poolerType, out);
  }

  /** Training loss (scalar). `dropoutAt(offset)` gives the dropout for a forward pass whose sites start at `offset`. */
  contrastiveLoss(batch: TrainBatch, dropoutAt: (siteOffset: number) => DropoutFn): tf.Scalar {
    const checkpointLayers = this.opts.checkpointLayers ?? false;
    const precision = this.opts.precision ?? "fp32";
    const out = this.encoder.forward(batch, {
      training: true,
      dropout: dropoutAt(0),
      checkpointLayers,
      precision,
      allHiddenStates: poolsHiddenStates(this.opts.poolerType),
    });
    const z = this.pooled(out, true);
    // What the backward pass needs of the encoder's output the ops saved; the output itself (the last
    // layer's float32 [R, L, H]) goes now, not when the step ends, as the backward pass's peak is near.
    tf.dispose([out.lastHiddenState, ...out.hiddenStates].filter((t) => (t as tf.Tensor) !== z));
    let loss = simcseLoss(z, {
      temp: this.opts.temp,
      numSent: batch.numSent,
      hardNegativeWeight: this.opts.hardNegativeWeight,
    });
    if (this.mlm && batch.mlmInputIds && batch.mlmLabels) {
      const mout = this.encoder.forward(
        { inputIds: batch.mlmInputIds, attentionMask: batch.attentionMask, tokenTypeIds: batch.tokenTypeIds },
        { training: true, dropout: dropoutAt(1000), checkpointLayers, precision, allHiddenStates: false },
      );
      const [R, L, H] = mout.lastHiddenState.shape;
      const mlmLoss = this.mlm.loss(tf.reshape(mout.lastHiddenState, [R * L, H]), batch.mlmLabels);
      loss = tf.add(loss, tf.mul(mlmLoss, this.opts.mlmWeight ?? 0.1));
    }
    return loss;
  }

  /** Sentence embeddings for evaluation (dropout off; matmuls in `precision`, default fp32): [B, H]. */
  embed(inputs: EncoderInputs, precision: Precision = "fp32"): tf.Tensor2D {
    return this.pooled(
      this.encoder.forward(inputs, {
        firstTokenOnly: poolsFirstToken(this.opts.poolerType),
        precision,
        allHiddenStates: poolsHiddenStates(this.opts.poolerType),
      }),
      false,
    );
  }

  /** Every trained variable under its HF-style name (encoder, `mlp.dense.*`, `lm_head.*`). */
  namedVariables(): Map<string, tf.Variable> {
    const m = new Map<string, tf.Variable>();
    for (const [n, v] of this.encoder.trainableParams()) m.set(n, v);
    if (this.mlp) { for (const [n, v] of this.mlp.variables()) m.set(n, v); }
    if (this.mlm) { for (const [n, v] of this.mlm.params) m.set(n, v); }
    return m;
  }

  dispose(): void {
    this.encoder.dispose();
    this.mlp?.dispose();
    this.mlm?.dispose();
  }
}
