/**
 * Sentence poolers: the single implementation used by training and evaluation, with exactly
 * SimCSE's semantics (docs/SIMCSE.md §a.3, §c.1) plus the decoder poolers of the GPT-2 experiment (§d.2).
 *
 * - `cls`: the pooler output (dense + tanh over [CLS]) — for SimCSE checkpoints converted with
 *   `simcse_to_huggingface.py` this is the trained MLP.
 * - `cls_before_pooler`: the last layer's hidden state at position 0 (unsupervised SimCSE at test time).
 * - `avg`: masked mean of the last layer.
 * - `avg_top2`: masked mean of (last + second-to-last layer) / 2.
 * - `avg_first_last`: masked mean of (hiddenStates[1] + last) / 2. hiddenStates[0] is the embedding
 *   output, so "first" is the output of transformer layer 1 (official code since commit 206d7ae).
 * - `wavg`: position-weighted mean over real tokens, w_i = i / Σ_j j (i = 1 … length); pads weigh 0,
 *   so an embedding does not depend on its batch's padding.
 * - `wavg_jittor`: the seed repo's weights, w = cumsum(mask) including pads (every right-pad position
 *   gets the sentence length as weight); kept only to compare with the seed's numbers.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { pool } from "./pooling.ts";
 * const h = tf.tensor3d([[[1, 1], [3, 3], [9, 9]]]); // [B=1, L=3, H=2]
 * const mask = tf.tensor2d([[1, 1, 0]]);
 * pool("avg", { lastHiddenState: h, hiddenStates: [h, h], attentionMask: mask }).print(); // [[2, 2]]
 * ```
 * @module
 */
import { type Tensor2D, tf } from "../runtime/tf.ts";
import type { EncoderOutput } from "../model/encoder.ts";
import { InputError } from "../runtime/errors.ts";
import { firstPosition } from "../ops/saveless_view.ts";

/** Every pooler name `--pooler` and {@link pool} accept (described in this module's doc). */
export const POOLERS = [
  "cls",
  "cls_before_pooler",
  "avg",
  "avg_top2",
  "avg_first_last",
  "wavg",
  "wavg_jittor",
] as const;
/** One of {@link POOLERS}. */
export type PoolerType = typeof POOLERS[number];

/**
 * Whether a pooler reads only position 0 of the last layer, so that the encoder may skip the other
 * positions there (`ForwardOptions.firstTokenOnly`).
 */
export function poolsFirstToken(mode: PoolerType): boolean {
  return mode === "cls" || mode === "cls_before_pooler";
}

/** Whether the pooler reads layers before the last (`ForwardOptions.allHiddenStates`). */
export function poolsHiddenStates(mode: PoolerType): boolean {
  return mode === "avg_top2" || mode === "avg_first_last";
}

/** Parse a `--pooler` value, listing the valid names on failure. */
export function parsePooler(name: string): PoolerType {
  if ((POOLERS as readonly string[]).includes(name)) return name as PoolerType;
  throw new InputError(`unknown pooler '${name}'; expected one of ${POOLERS.join(", ")}`);
}

/**
 * Why `pooler` cannot run on a model (as an `InputError` naming `where` and a pooler valid for that
 * architecture), or null when it can. `cls` needs a pretrained pooler layer (BERT's `pooler.dense`):
 * BERT checkpoints without one (unsupervised SimCSE) are told `cls_before_pooler`, decoders such as
 * GPT-2 (no pooler, no [CLS] token) `wavg` or `avg`.
 */
export function poolerProblem(
  pooler: PoolerType,
  model: { kind: string; hasPooler: boolean },
  where: string,
): InputError | null {
  if (pooler !== "cls" || model.hasPooler) return null;
  if (model.kind === "bert") {
    return new InputError(
      "pooler 'cls' needs pooler.dense weights, which this checkpoint lacks " +
        "(use --pooler cls_before_pooler for unsupervised SimCSE checkpoints, or avg)",
      { file: where },
    );
  }
  return new InputError(
    `pooler 'cls' needs a pooler layer and a [CLS] token, which a ${model.kind} model has not ` +
      "(use --pooler wavg, or avg)",
    { file: where },
  );
}

/**
 * Σ_t w_t h_t / Σ_t w_t over the sequence axis. h [B, L, H], w [B, L] -> [B, H]. The weights are
 * constants (the mask, or positions times the mask): only h gets a gradient, written as one broadcast
 * product, dh[b, t, :] = w[b, t] · (dy[b, :] / Σ_t w[b, t]). These are the values TF.js's own gradients of
 * the forward ops give (its Sum gradient multiplies by a [B, L, H] tensor of ones, its Mul gradient by w),
 * without that tensor of fresh memory and the product it feeds (GPT-2 base: about 50 ms of a step), and
 * without keeping h for the backward pass.
 */
function weightedMean(h: tf.Tensor3D, w: tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad(
    ((hs: tf.Tensor, save: tf.GradSaveFunc) => {
      const denom = tf.sum(w, 1, true); // [B, 1]
      const we = tf.expandDims(w, 2); // [B, L, 1]
      save([denom, we]);
      return {
        value: tf.div(tf.sum(tf.mul(hs, we), 1), denom), // [B, H]
        gradFunc: (dy: tf.Tensor, [d, e]: tf.Tensor[]) => tf.mul(tf.expandDims(tf.div(dy, d), 1), e),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return op(h) as tf.Tensor2D;
}

/** Pool an encoder output into one vector per row: [B, H]. Call inside `tf.tidy`. */
export function pool(mode: PoolerType, out: EncoderOutput): Tensor2D {
  const h = out.lastHiddenState;
  const mask = out.attentionMask;
  const hs = out.hiddenStates;
  switch (mode) {
    case "cls":
      if (!out.pooledOutput) {
        throw new InputError(
          "pooler 'cls' needs the checkpoint's pooler.dense weights, and this checkpoint has none " +
            "(unsupervised SimCSE checkpoints are evaluated with --pooler cls_before_pooler)",
        );
      }
      return out.pooledOutput;
    case "cls_before_pooler":
      return firstPosition(h); // keeps no [B, L, H] input for the backward pass
    case "avg":
      return weightedMean(h, mask);
    case "avg_top2":
      return weightedMean(tf.div(tf.add(hs[hs.length - 1], hs[hs.length - 2]), 2) as tf.Tensor3D, mask);
    case "avg_first_last":
      return weightedMean(tf.div(tf.add(hs[1], hs[hs.length - 1]), 2) as tf.Tensor3D, mask);
    case "wavg":
      return weightedMean(h, tf.mul(tf.cumsum(mask, 1), mask) as tf.Tensor2D);
    case "wavg_jittor":
      return weightedMean(h, tf.cumsum(mask, 1) as tf.Tensor2D);
    default: {
      const never: never = mode;
      throw new InputError(`unknown pooler ${never}`);
    }
  }
}
