/**
 * One SimCSE optimizer step (docs/SIMCSE.md, "Training"): the batch as tensors, loss and gradients
 * (the [PAD] row of the word embeddings gets none, as with torch's `padding_idx`), then clipping and
 * AdamW. The run around it (setup, resume, dev selection, final evaluation) is `run.ts`.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { seededDropout } from "../model/dropout.ts";
import { peekFloat32 } from "../kernels/cpu_pool.ts";
import type { collate } from "../data/batches.ts";
import { type AdamW, clipFactor, globalGradNorm } from "./adamw.ts";
import type { LossScaler } from "./loss_scaler.ts";
import type { SimcseModel, TrainBatch } from "./simcse_model.ts";

interface StepOptions {
  lr: number;
  maxGradNorm: number;
  dropoutAt: (siteOffset: number) => ReturnType<typeof seededDropout>;
  padId: number | null;
  /** Dynamic loss scaling (fp16): scale the loss, unscale the gradients, skip the step on Inf/NaN. */
  scaler?: LossScaler;
  /** Without a scaler, skip (and report `skipped`) a step whose gradient norm is not finite (bf16). */
  skipNonFinite?: boolean;
}

/** Tensors of a collated batch. */
export function batchTensors(
  batch: ReturnType<typeof collate>,
  masks?: { mlmInputIds: Int32Array; mlmLabels: Int32Array },
): TrainBatch {
  const shape: [number, number] = [batch.rows, batch.seqLen];
  return {
    inputIds: tf.tensor2d(batch.inputIds, shape, "int32"),
    attentionMask: tf.tensor2d(batch.attentionMask, shape, "int32"),
    tokenTypeIds: tf.tensor2d(batch.tokenTypeIds, shape, "int32"),
    numSent: batch.numSent,
    mlmInputIds: masks ? tf.tensor2d(masks.mlmInputIds, shape, "int32") : undefined,
    mlmLabels: masks ? tf.tensor1d(masks.mlmLabels, "int32") : undefined,
  };
}

/**
 * Loss and gradients for one batch (nothing applied): grads keyed by HF-style variable name. The
 * [PAD] row of the word embeddings gets no gradient, as with torch's `padding_idx`. With `lossScale`
 * the gradients are those of loss × lossScale (the returned loss is unscaled).
 */
export function lossAndGrads(
  sm: SimcseModel,
  vars: Map<string, tf.Variable>,
  tb: TrainBatch,
  dropoutAt: StepOptions["dropoutAt"],
  padId: number | null,
  lossScale?: number,
): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
  const list = [...vars.values()];
  let unscaled: tf.Scalar | undefined;
  const f = lossScale === undefined ? () => sm.contrastiveLoss(tb, dropoutAt) : () => {
    unscaled = tf.keep(sm.contrastiveLoss(tb, dropoutAt));
    return tf.mul(unscaled, lossScale) as tf.Scalar;
  };
  const { value, grads } = tf.variableGrads(f, list);
  const byName = new Map<string, tf.Tensor>();
  for (const [n, v] of vars) {
    const g = grads[v.name];
    if (g) byName.set(n, g);
  }
  const weName = sm.encoder.wordEmbeddingName;
  const we = padId === null ? undefined : byName.get(weName);
  const weValues = we && padId !== null ? peekFloat32(we, true) : null;
  if (weValues && padId !== null) { // cpu: zero the [PAD] row in place
    const H = (we as tf.Tensor2D).shape[1]; // [V, H]
    weValues.fill(0, padId * H, (padId + 1) * H);
  } else if (we && padId !== null) {
    const [V] = we.shape;
    const keep = tf.tidy(() => tf.reshape(tf.sub(1, tf.oneHot(tf.scalar(padId, "int32"), V)), [V, 1]));
    byName.set(weName, tf.mul(we, keep));
    tf.dispose([we, keep]);
  }
  if (unscaled) value.dispose();
  return { loss: unscaled ?? value, grads: byName };
}

/**
 * One optimizer step; returns the loss, the gradient norm before clipping, and whether the step was
 * skipped (with a loss scaler, when a gradient was Inf/NaN, the norm then NaN; with `skipNonFinite`, when the norm is not finite).
 */
export function trainStep(
  sm: SimcseModel,
  vars: Map<string, tf.Variable>,
  opt: AdamW,
  batch: ReturnType<typeof collate>,
  masks: { mlmInputIds: Int32Array; mlmLabels: Int32Array } | undefined,
  o: StepOptions,
): { lossValue: number; norm: number; skipped: boolean } {
  const tb = batchTensors(batch, masks);
  const { loss, grads } = lossAndGrads(sm, vars, tb, o.dropoutAt, o.padId, o.scaler?.scale);
  const lossValue = loss.dataSync()[0];
  let norm = NaN;
  let skipped = false;
  if (Number.isFinite(lossValue)) {
    let g = grads;
    if (o.scaler) {
      const u = o.scaler.unscale(grads); // clipping sees true gradients, as with torch's unscale_
      g = u.grads;
      skipped = !u.finite;
      o.scaler.update(u.finite);
    }
    if (!skipped) {
      norm = globalGradNorm(g.values());
      skipped = o.skipNonFinite === true && !o.scaler && !Number.isFinite(norm);
      if (!skipped) opt.step(vars, g, o.lr, clipFactor(norm, o.maxGradNorm)); // clipping folded into the update
    }
    tf.dispose([...g.values()]);
  } else {
    tf.dispose([...grads.values()]);
  }
  tf.dispose([
    loss,
    tb.inputIds,
    tb.attentionMask,
    tb.tokenTypeIds,
    ...(tb.mlmInputIds ? [tb.mlmInputIds, tb.mlmLabels!] : []),
  ]);
  return { lossValue, norm, skipped };
}
